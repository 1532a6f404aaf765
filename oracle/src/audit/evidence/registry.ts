/**
 * The registry of evidence verifiers: one per format, looked up by `verifyEvidence`.
 *
 * Nitro, DCAP, SEV-SNP and the development platform (`dev`) are registered here. A format with no
 * verifier is refused with `UnsupportedFormatError` (the CLI exits 2 and says so).
 */
import { dcapVerifier } from "./dcap";
import { devVerifier } from "./dev";
import { UnsupportedFormatError } from "../errors";
import { nitroVerifier } from "./nitro";
import { resolvePolicy } from "../policy-schema";
import { sevSnpVerifier } from "./sev-snp";
import type { EvidenceFormat, EvidenceInput, EvidenceVerifier, VerificationReport } from "../types";

/** Verifiers by format. Extension point: add one with `registerEvidenceVerifier`. */
export const evidenceVerifiers = new Map<EvidenceFormat, EvidenceVerifier>([
  [nitroVerifier.format, nitroVerifier],
  [dcapVerifier.format, dcapVerifier],
  [sevSnpVerifier.format, sevSnpVerifier],
  [devVerifier.format, devVerifier],
]);

/** Registers (or replaces) the verifier for its format. */
export function registerEvidenceVerifier(verifier: EvidenceVerifier): void {
  evidenceVerifiers.set(verifier.format, verifier);
}

/** The verifier for a format; throws `UnsupportedFormatError` if none is registered. */
export function getEvidenceVerifier(format: string): EvidenceVerifier {
  const verifier = evidenceVerifiers.get(format as EvidenceFormat);
  if (!verifier) throw new UnsupportedFormatError(format, [...evidenceVerifiers.keys()]);
  return verifier;
}

/**
 * Verifies evidence of any registered format at `at` (default: now) against a policy (default:
 * debug not allowed) and the pinned vendor root (or `trustAnchor`). Returns a report naming
 * every check; throws only for input the caller must fix (`AuditError` subclasses).
 */
export function verifyEvidence(input: EvidenceInput): VerificationReport {
  const verifier = getEvidenceVerifier(input.format);
  return verifier.verify({
    format: input.format,
    evidence: input.evidence,
    collateral: input.collateral,
    at: input.at ?? Math.floor(Date.now() / 1000),
    policy: resolvePolicy(input.policy),
    trustAnchor: input.trustAnchor,
  });
}
