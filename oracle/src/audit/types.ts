/**
 * Shapes shared by every evidence verifier and by the renderers: the input, the report, its
 * checks, and the chain of trust the report shows.
 */
import type { Policy, PolicyInput } from "./policy-schema";

/** The evidence formats the auditor knows. `dev` is the development platform's report. */
export const EVIDENCE_FORMATS = ["dev", "nitro", "dcap", "sev-snp"] as const;
export type EvidenceFormat = (typeof EVIDENCE_FORMATS)[number];

/** A certificate as PEM text or DER bytes. */
export type CertificateInput = string | Uint8Array;

/** A value shown as evidence of a check: short, printable. */
export type EvidenceValue = string | number | boolean | null;

/** One named check. A check that was not evaluated because an earlier one failed is `skipped`. */
export interface Check {
  /** Stable dotted name, e.g. `chain.certificate` or `policy.pcrs`; see docs/audit.md. */
  name: string;
  /** True only if the check ran and passed. */
  ok: boolean;
  /** One sentence in words: what was checked and what was found. */
  detail: string;
  /** The values the check compared (fingerprints, expected/actual, times). */
  evidence?: Record<string, EvidenceValue>;
  /** True when the check could not run because an earlier check failed. */
  skipped?: boolean;
}

/** Role of one link in the chain of trust, from the vendor root down to the enclave signer. */
export type TrustLinkRole = "root" | "intermediate" | "leaf" | "evidence" | "measurement" | "signer";

/** One box of the chain-of-trust diagram. */
export interface TrustLink {
  role: TrustLinkRole;
  /** Short title, e.g. "AWS Nitro root G1" or "Attestation document". */
  title: string;
  /** One line under the title: subject, fingerprint prefix, measurement prefix. */
  subtitle: string;
  /** Name of the check that establishes this link. */
  check?: string;
  /** Result of that check: true pass, false fail, null not checked (e.g. no policy value). */
  ok: boolean | null;
  /** How this link follows from the one before it, as the diagram's arrow says (default by role). */
  edge?: string;
}

/** The result of verifying one piece of evidence. */
export interface VerificationReport<F extends object = object> {
  format: EvidenceFormat;
  /** True if and only if every check passed. */
  valid: boolean;
  /** Unix seconds at which certificates, collateral and freshness were judged. */
  at: number;
  /** Every check in the order it ran, then those it could not reach. */
  checks: Check[];
  /** Name of the first check that failed, if any. */
  failedCheck?: string;
  /** What the evidence says (measurements, report data, TCB status...), hex lowercase. */
  facts: F;
  /** The chain of trust as the HTML report draws it. */
  chain: TrustLink[];
}

/** Input to `verifyEvidence`. */
export interface EvidenceInput {
  format: EvidenceFormat;
  /** The raw evidence: a Nitro attestation document, a DCAP quote, an SEV-SNP report... */
  evidence: Uint8Array;
  /** Format-specific collateral: `DcapCollateral` for dcap, `SevSnpCollateral` for sev-snp. */
  collateral?: unknown;
  /** Unix seconds at which to verify; defaults to now. */
  at?: number;
  /** Measurement policy; defaults to the default policy (debug not allowed, nothing else). */
  policy?: Policy | PolicyInput;
  /**
   * Vendor root certificate to pin instead of the built-in one (tests with a test CA, or a
   * vendor root the project does not embed). Its SHA-256 fingerprint becomes the pin.
   */
  trustAnchor?: CertificateInput;
}

/** `EvidenceInput` after defaults: what a format verifier receives. */
export interface ResolvedEvidenceInput {
  format: EvidenceFormat;
  evidence: Uint8Array;
  collateral?: unknown;
  at: number;
  policy: Policy;
  trustAnchor?: CertificateInput;
}

/** A verifier for one evidence format, as held by the registry. */
export interface EvidenceVerifier {
  format: EvidenceFormat;
  /** One line for `--help` and the docs. */
  description: string;
  /** Whether the format needs `collateral`, may take it, or takes none. */
  collateral: "required" | "optional" | "none";
  /** Reads collateral from a file path given on the command line. */
  readCollateral?: (path: string) => unknown;
  /** Verifies; never throws for bad evidence (that is a failed check), only for bad input. */
  verify: (input: ResolvedEvidenceInput) => VerificationReport;
}
