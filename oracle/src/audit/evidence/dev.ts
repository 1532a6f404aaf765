/**
 * The development platform's evidence verifier for the auditor's registry (format "dev"). It
 * reads the platform's report with `enclave/dev-evidence.ts`; the audit layer depends on the
 * enclave layer, never the reverse.
 * Evidence bytes: UTF-8 JSON `{report, reportSignature, certificate, certificateSignature}` (the
 * fields of `EnclaveHost.attestation()`); trust anchor: the vendor root public key as 0x04‖x‖y
 * (hex or bytes). The policy is the auditor's: measurement, enclave signer, max age, debug.
 * Remember: a dev report proves only that the holder of the platform file signed it (SIMULATION).
 */
import { getBytes, hexlify } from "ethers";
import { verifyDevEvidence, type DevEvidenceInput } from "../../enclave/dev-evidence";
import { evaluatePolicy } from "../policy";
import type { EvidenceVerifier, ResolvedEvidenceInput, VerificationReport } from "../types";

function parseEvidence(bytes: Uint8Array): DevEvidenceInput | undefined {
  try {
    const v = JSON.parse(Buffer.from(bytes).toString("utf8")) as DevEvidenceInput;
    return typeof v.report === "string" && typeof v.certificate === "string" && v.reportSignature && v.certificateSignature ? v : undefined;
  } catch {
    return undefined;
  }
}

function parseAnchor(anchor: string | Uint8Array | undefined): { x: string; y: string } | undefined {
  if (anchor === undefined) return undefined;
  try {
    const bytes = typeof anchor === "string" ? getBytes(anchor.trim()) : anchor;
    if (bytes.length !== 65 || bytes[0] !== 0x04) return undefined;
    return { x: hexlify(bytes.slice(1, 33)), y: hexlify(bytes.slice(33, 65)) };
  } catch {
    return undefined;
  }
}

export const devVerifier: EvidenceVerifier = {
  format: "dev",
  description: "development platform report and certificate (a software SIMULATION of a TEE; pin the root with --trust-anchor 0x04‖x‖y)",
  collateral: "none",
  verify(input: ResolvedEvidenceInput): VerificationReport {
    const evidence = parseEvidence(input.evidence);
    const root = parseAnchor(input.trustAnchor);
    const base = evidence
      ? verifyDevEvidence(evidence, { roots: root ? [root] : [], at: input.at })
      : verifyDevEvidence({ report: "0x", certificate: "0x", reportSignature: { r: "0x", s: "0x" }, certificateSignature: { r: "0x", s: "0x" } }, { roots: [], at: input.at });
    const checks = base.checks.filter((c) => !c.name.startsWith("policy."));
    if (!root) {
      const i = checks.findIndex((c) => c.name === "chain.root");
      if (i >= 0) checks[i] = { name: "chain.root", ok: false, detail: "no trust anchor given: the development platform has no built-in root; pass its root public key" };
    }
    if (!evidence) checks.unshift({ name: "encoding.evidence", ok: false, detail: "evidence is not the JSON {report, reportSignature, certificate, certificateSignature}" });
    const f = base.facts;
    if (f.measurement && f.enclaveSigner) {
      checks.push(...evaluatePolicy({
        debug: false,
        debugReason: "the development platform has no debug mode (it is a simulation)",
        measurement: f.measurement.slice(2).toLowerCase(),
        issuedAt: f.issuedAt ?? undefined,
        signerFields: { enclaveSigner: f.enclaveSigner.slice(2).toLowerCase() },
      }, input.policy, input.at));
    }
    const failed = checks.find((c) => !c.ok && !c.skipped);
    return {
      format: "dev",
      valid: checks.length > 0 && checks.every((c) => c.ok),
      at: input.at,
      checks,
      ...(failed ? { failedCheck: failed.name } : {}),
      facts: { ...f } as Record<string, unknown>,
      chain: base.chain,
    };
  },
};
