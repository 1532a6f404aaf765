/**
 * What `@phala/dcap-qvl` (v0.3.x, `QuoteVerifier.verify(quote, collateral, nowSecs)`) checks,
 * as a list of named steps, and the mapping from its error messages to those steps.
 *
 * dcap-qvl runs the steps below in this order and throws at the first failure with a message;
 * when it returns, every step passed and it gives the TCB status and advisory ids. Read from its
 * source (node_modules/@phala/dcap-qvl/src/verify.js, utils.js), so a dependency update that
 * changes the order or the messages must update this table; the tests run every real sample
 * through it.
 *
 * What dcap-qvl does NOT check, which `dcap.ts` checks itself: CRL signatures, CRL issuers and
 * CRL freshness (it only looks serial numbers up in whatever CRLs it is given, and ignores CRLs
 * it cannot parse); the QE vendor id; that the certificate chains end at the pinned root by
 * fingerprint (it verifies the top certificate's signature with the root's key).
 */
import { QuoteVerifier, type Collateral, type VerifiedReport } from "@phala/dcap-qvl";
import { errorMessage } from "../checks";
import type { Check } from "../types";

/** Which certificate chain a step verifies (for attributing dcap-qvl's generic chain errors). */
export type QvlChain = "tcb-info" | "qe-identity" | "pck";

export interface QvlStep {
  name: string;
  /** What dcap-qvl checks in this step. */
  description: string;
  /** Error messages dcap-qvl throws from this step. */
  errors: RegExp[];
  /** Set for the steps that run dcap-qvl's shared chain verification. */
  chain?: QvlChain;
}

/** The steps of dcap-qvl's `verify`, in the order it runs them. */
export const DCAP_QVL_STEPS: readonly QvlStep[] = [
  {
    name: "qvl.quote-format",
    description: "the quote decodes; SGX quotes are version 3, TDX quotes version 4 or 5; attestation key type is ECDSA-256 with P-256",
    errors: [/Failed to decode quote/, /Unsupported DCAP (quote version|TEE type|attestation key type)/, /must have version/],
  },
  {
    name: "qvl.tcb-info-validity",
    description: "the TCB info JSON decodes and issueDate <= audit time <= nextUpdate",
    errors: [/TcbInfo|TCBInfo/],
  },
  {
    name: "qvl.tcb-info-chain",
    description:
      "the pinned root is not listed in the CRLs; tcb_info_issuer_chain: each certificate signed by the next (the last by the pinned root's key), valid at the audit time, the leaf not a CA, no serial listed in the root CA or PCK CRL",
    errors: [/too short for TCB Info/],
    chain: "tcb-info",
  },
  {
    name: "qvl.tcb-info-signature",
    description: "the TCB info signature verifies with the TCB signing certificate over the exact raw JSON text",
    errors: [/invalid for tcb_info/],
  },
  {
    name: "qvl.qe-identity-validity",
    description: "the QE identity JSON decodes and issueDate <= audit time <= nextUpdate",
    errors: [/QeIdentity/, /QE Identity (issue date|expired)/],
  },
  {
    name: "qvl.qe-identity-chain",
    description: "qe_identity_issuer_chain verifies to the pinned root's key, as for the TCB info chain",
    errors: [/too short for QE Identity/],
    chain: "qe-identity",
  },
  {
    name: "qvl.qe-identity-signature",
    description: "the QE identity signature verifies with its signing certificate over the exact raw JSON text",
    errors: [/invalid for qe_identity/],
  },
  {
    name: "qvl.qe-identity-type",
    description: "the QE identity is for this TEE (id QE for SGX, TD_QE for TDX) and of a supported version",
    errors: [/Unsupported QE Identity/],
  },
  {
    name: "qvl.pck-chain",
    description:
      "the PCK certificate chain (from the quote, certification data type 5) verifies to the pinned root's key: signatures, validity at the audit time, leaf not a CA, serials not in the CRLs",
    errors: [/PCK cert format/, /extract PCK certificates/, /too short in quote/],
    chain: "pck",
  },
  {
    name: "qvl.qe-report-signature",
    description: "the QE report is signed by the PCK certificate's key",
    errors: [/invalid for qe_report/],
  },
  {
    name: "qvl.qe-report-data",
    description: "the QE report data starts with sha256(attestation key || QE auth data), binding the attestation key to the QE",
    errors: [/QE report hash mismatch/],
  },
  {
    name: "qvl.qe-identity-match",
    description: "the QE report matches the QE identity: MRSIGNER, ISVPRODID, MISCSELECT and ATTRIBUTES under their masks, not debug; its ISVSVN gives the QE TCB status",
    errors: [/^QE (MRSIGNER|ISVPRODID|MISCSELECT|ATTRIBUTES|ISVSVN)/, /No TCB levels found in QE Identity/],
  },
  {
    name: "qvl.quote-signature",
    description: "the quote header and body are signed by the attestation key (ECDSA P-256)",
    errors: [/ISV enclave report signature is invalid/],
  },
  {
    name: "qvl.fmspc",
    description: "the PCK certificate's SGX extension gives CPU SVN, PCE SVN and FMSPC; the FMSPC equals the TCB info's",
    errors: [/Fmspc mismatch/, /Intel extension/, /(Fmspc|CpuSvn|PceSvn) length/],
  },
  {
    name: "qvl.tcb-info-type",
    description: "the TCB info is for this TEE (id TDX version >= 3 for TDX, id SGX version >= 2 for SGX)",
    errors: [/non-(TDX|SGX) TCB info/],
  },
  {
    name: "qvl.tcb-level",
    description:
      "the first TCB level whose PCE SVN and SGX (and TDX) components the platform meets gives the platform TCB status, merged with the QE's; Revoked is rejected",
    errors: [/No matching TCB level/, /No (SGX|TDX) components/, /Failed to get TD10 report/, /TCB status is invalid/],
  },
  {
    name: "qvl.report-attributes",
    description: "the enclave/TD is not in debug mode; TDX: no reserved TD attribute bits, SEPT_VE_DISABLE set, MRSERVICETD zero (TD 1.5)",
    errors: [/Debug mode is enabled/, /Reserved bits/, /SEPT_VE_DISABLE/, /mr service td/],
  },
];

/** Messages of dcap-qvl's shared chain verification, thrown from any of the three chain steps. */
const GENERIC_CHAIN_ERROR = /CaUsedAsEndEntity|Failed to verify certificate chain|Certificate is expired or not yet valid|Certificate is revoked/;

export interface QvlOutcome {
  /** One check per step: passed, failed (the step that threw) or skipped (after it). */
  checks: Check[];
  /** TCB status: dcap-qvl's on success; NoMatchingTcbLevel or Revoked when it rejects for that. */
  tcbStatus?: string;
  advisoryIds: string[];
  /** dcap-qvl's result on success. */
  result?: VerifiedReport;
}

/** Facts from the auditor's own checks that help say which step a generic error came from. */
export interface QvlHints {
  /** The chains the auditor's own checks found at fault, in dcap-qvl's order. */
  faultyChains: QvlChain[];
  /** Whether the QE report (not the quote's report) has the debug attribute. */
  qeReportDebug: boolean;
}

function failingStepIndex(message: string, hints: QvlHints): { index: number; note?: string } {
  if (GENERIC_CHAIN_ERROR.test(message)) {
    const chainSteps = DCAP_QVL_STEPS.map((s, i) => ({ s, i })).filter(({ s }) => s.chain);
    const faulty = chainSteps.find(({ s }) => hints.faultyChains.includes(s.chain!));
    if (faulty) return { index: faulty.i, note: "dcap-qvl's message does not name the chain; the auditor's own chain checks found this one at fault" };
    return { index: chainSteps[0].i, note: "dcap-qvl's message does not name the chain and the auditor's own chain checks found none at fault" };
  }
  if (/Debug mode is enabled/.test(message) && hints.qeReportDebug) {
    return { index: DCAP_QVL_STEPS.findIndex((s) => s.name === "qvl.qe-identity-match") };
  }
  return { index: DCAP_QVL_STEPS.findIndex((s) => s.errors.some((e) => e.test(message))) };
}

/** Runs dcap-qvl against the pinned root and turns its verdict into named checks. */
export function runDcapQvl(quote: Uint8Array, collateral: Collateral, at: number, rootDer: Uint8Array, hints: QvlHints): QvlOutcome {
  const verifier = QuoteVerifier.newWithRootCa(Buffer.from(rootDer));
  let result: VerifiedReport;
  try {
    result = verifier.verify(Buffer.from(quote), collateral, at);
  } catch (error) {
    const message = errorMessage(error);
    const { index, note } = failingStepIndex(message, hints);
    if (index < 0) {
      return {
        checks: [
          { name: "qvl.verify", ok: false, detail: `dcap-qvl rejected the quote with an error this auditor does not map to a step: ${message}` },
          ...DCAP_QVL_STEPS.map((s) => ({ name: s.name, ok: false, skipped: true, detail: "not established: dcap-qvl stopped with an unmapped error" })),
        ],
        advisoryIds: [],
      };
    }
    const failed = DCAP_QVL_STEPS[index];
    const tcbStatus = /No matching TCB level/.test(message)
      ? "NoMatchingTcbLevel"
      : (message.match(/TCB status is invalid: (\w+)/)?.[1] ?? undefined);
    const detail =
      tcbStatus === "NoMatchingTcbLevel"
        ? "TCB status NoMatchingTcbLevel: no TCB level in the TCB info matches this platform's CPU SVN, PCE SVN and TDX TCB SVN, so its TCB cannot be rated and dcap-qvl rejects the quote"
        : `dcap-qvl: ${message}${note ? ` (${note})` : ""}`;
    const checks: Check[] = DCAP_QVL_STEPS.map((step, i) =>
      i < index
        ? { name: step.name, ok: true, detail: `dcap-qvl checked: ${step.description}` }
        : i === index
          ? { name: step.name, ok: false, detail, evidence: { step: failed.description, dcapQvlError: message } }
          : { name: step.name, ok: false, skipped: true, detail: `not evaluated: dcap-qvl stops at its first failure ("${failed.name}")` },
    );
    return { checks, tcbStatus, advisoryIds: [] };
  }
  const checks: Check[] = DCAP_QVL_STEPS.map((step) =>
    step.name === "qvl.tcb-level"
      ? {
          name: step.name,
          ok: true,
          detail: `TCB status ${result.status}${result.advisory_ids.length ? ` with advisories ${result.advisory_ids.join(", ")}` : ", no advisories"}`,
          evidence: { status: result.status, advisoryIds: result.advisory_ids.join(", ") },
        }
      : { name: step.name, ok: true, detail: `dcap-qvl checked: ${step.description}` },
  );
  return { checks, tcbStatus: result.status, advisoryIds: [...result.advisory_ids], result };
}
