/**
 * The auditor's countersignature for the on-chain path of real TEE evidence.
 *
 * Real evidence (Nitro, DCAP, SEV-SNP) is too costly to verify on-chain, so a threshold of
 * auditors registered in the EnclaveRegistry verify it off-chain and each signs an EIP-712
 * `EnclaveAttestation {signer, operator, measurement, teeType, evidenceHash, expiresAt}` under the
 * registry's domain; `registerAttestedEnclave(att, signatures)` accepts it from `operator` alone,
 * so a copy of the countersigned attestation (e.g. from the mempool) registers nothing for anyone
 * else: the auditor binds the operator and shows it before signing.
 *
 * `attestEvidence` signs only if every check passes:
 *   - `attest.policy-signer`  the policy names the enclave signer, and it is the one to attest
 *                             (so the evidence check `policy.enclave-signer` cannot be skipped);
 *   - every check of `verifyEvidence` (chain of trust, signature, freshness, policy, including
 *     keccak256(signer) in the report data / user data / public key);
 *   - `attest.tee-type`       the TEE type to sign is the one the evidence is (never DevSimulated:
 *                             development reports are verified on-chain by `registerEnclave`);
 *   - `attest.code-identity`  the policy pins the code the evidence measures (PCR0, MRENCLAVE,
 *                             MRTD, SEV-SNP measurement; for dev, the report's measurement is the
 *                             one signed): the auditor vouches that this code is the runner of
 *                             `measurement`, so an unpinned policy would vouch for any code;
 *   - `attest.expiry`         the attestation expires after the audit time and within the
 *                             lifetime the auditor allows.
 * The key signs nothing else and is never printed or returned.
 */
import { sha256Hex } from "../protocol/bytes";
import { TypedDataEncoder, Wallet, getAddress, recoverAddress, type TypedDataDomain } from "ethers";
import { TeeType } from "../protocol/constants";
import { ENCLAVE_ATTESTATION_TYPES, enclaveAttestationDigest, registryDomain, type EnclaveAttestation } from "../protocol/eip712";
import type { Policy } from "./policy-schema";
import { verifyEvidence } from "./evidence/registry";
import type { Check, EvidenceFormat, VerificationReport } from "./types";

/** Default bound on `expiresAt - at`: seven days. A countersignature should not outlive a patch cycle. */
export const DEFAULT_MAX_LIFETIME_SECONDS = 7 * 24 * 3600;

export interface AttestParams {
  format: EvidenceFormat;
  /** The raw evidence bytes; their sha256 is the attestation's `evidenceHash`. */
  evidence: Uint8Array;
  collateral?: unknown;
  /** Audit time, unix seconds. */
  at: number;
  /** The measurement policy; must name `enclaveSigner`. */
  policy: Policy;
  /** Vendor root to pin instead of the built-in one (a test CA, or a root the project does not embed). */
  trustAnchor?: string | Uint8Array;
  /** The enclave's result-signing address to attest. */
  signer: string;
  /** The account that alone may register the attestation and will be paid the signer's fees. */
  operator: string;
  /** The runner measurement (bytes32) the registry will bind to the signer. */
  measurement: string;
  teeType: number;
  /** Unix seconds after which the attestation and the signer lapse. */
  expiresAt: number;
  /** Longest `expiresAt - at` accepted. Default {@link DEFAULT_MAX_LIFETIME_SECONDS}. */
  maxLifetimeSeconds?: number;
  chainId: bigint;
  /** The EnclaveRegistry address (the EIP-712 verifying contract). */
  registry: string;
}

/** What an auditor hands to whoever submits `registerAttestedEnclave`. */
export interface AuditorAttestation {
  attestation: { signer: string; operator: string; measurement: string; teeType: number; evidenceHash: string; expiresAt: number };
  /** 65-byte ECDSA signature over the EIP-712 digest, 0x hex. */
  signature: string;
  /** The auditor's address (must be trusted in the registry). */
  auditor: string;
  evidenceHash: string;
  /** The EIP-712 digest signed, and its domain, so a reader can recompute it. */
  digest: string;
  domain: { name: string; version: string; chainId: string; verifyingContract: string };
  checks: Check[];
}

/** The outcome: signed, or refused with the checks that say why. */
export type AttestOutcome =
  | { signed: true; result: AuditorAttestation; report: VerificationReport }
  | { signed: false; failedCheck: string; checks: Check[]; report?: VerificationReport };

/** sha256 of the evidence bytes, 0x hex: `EnclaveAttestation.evidenceHash`. */
export function evidenceHash(evidence: Uint8Array): string {
  return sha256Hex(evidence);
}

/** TEE types the evidence of a format can be; DCAP depends on the quote (SGX or TDX). */
function teeTypeOfEvidence(format: EvidenceFormat, facts: object): { type: TeeType; why: string } | undefined {
  switch (format) {
    case "nitro":
      return { type: TeeType.AwsNitro, why: "an AWS Nitro attestation document" };
    case "sev-snp":
      return { type: TeeType.AmdSevSnp, why: "an AMD SEV-SNP report" };
    case "dev":
      return { type: TeeType.DevSimulated, why: "a development-platform report" };
    case "dcap": {
      const tee = (facts as { teeType?: string }).teeType;
      if (tee === "SGX") return { type: TeeType.IntelSgx, why: "an Intel SGX quote" };
      if (tee === "TDX") return { type: TeeType.IntelTdx, why: "an Intel TDX quote" };
      return undefined;
    }
  }
}

function checkPolicySigner(policy: Policy, signer: string): Check {
  const name = "attest.policy-signer";
  if (!policy.enclaveSigner) {
    return {
      name, ok: false,
      detail: "the policy names no enclaveSigner: without it the evidence is not checked to bind the signer, so nothing would tie the key to the enclave",
      evidence: { signer },
    };
  }
  const ok = policy.enclaveSigner === signer;
  return {
    name, ok,
    detail: ok
      ? `the policy requires the evidence to bind ${signer}, the signer to attest`
      : `the policy binds ${policy.enclaveSigner}, not ${signer}, the signer to attest`,
    evidence: { policySigner: policy.enclaveSigner, signer },
  };
}

function checkTeeType(format: EvidenceFormat, facts: object, teeType: number): Check {
  const name = "attest.tee-type";
  const actual = teeTypeOfEvidence(format, facts);
  if (!actual) return { name, ok: false, detail: "the evidence does not say which TEE produced it", evidence: { teeType } };
  if (actual.type === TeeType.DevSimulated) {
    return {
      name, ok: false,
      detail: "development-platform reports are verified on-chain by registerEnclave; auditors countersign real TEE evidence only (the registry refuses teeType 0)",
      evidence: { teeType },
    };
  }
  const ok = actual.type === teeType;
  return {
    name, ok,
    detail: ok ? `teeType ${teeType} (${TeeType[teeType]}): the evidence is ${actual.why}` : `--tee-type ${teeType} but the evidence is ${actual.why} (teeType ${actual.type})`,
    evidence: { teeType, evidenceTeeType: actual.type },
  };
}

/** Which policy value pins the code the evidence measures, per format. */
function checkCodeIdentity(format: EvidenceFormat, facts: object, policy: Policy, measurement: string): Check {
  const name = "attest.code-identity";
  const pinned = (label: string, value: unknown): Check =>
    value
      ? { name, ok: true, detail: `the policy pins ${label}; the auditor vouches that this code is the runner of measurement ${measurement}`, evidence: { measurement, pinned: label } }
      : { name, ok: false, detail: `the policy does not pin ${label}: the countersignature would vouch for any code; add it to the policy`, evidence: { measurement } };
  switch (format) {
    case "nitro":
      return pinned("PCR0 (the enclave image)", policy.pcrs?.["0"]);
    case "sev-snp":
      return pinned("the SEV-SNP launch measurement", policy.measurement);
    case "dcap": {
      const tee = (facts as { teeType?: string }).teeType;
      return tee === "TDX" ? pinned("MRTD (the TD's initial image)", policy.mrTd) : pinned("MRENCLAVE", policy.mrEnclave);
    }
    case "dev": {
      const reported = String((facts as { measurement?: string }).measurement ?? "").replace(/^0x/, "").toLowerCase();
      const ok = reported === measurement.replace(/^0x/, "").toLowerCase();
      return { name, ok, detail: ok ? "the report's measurement is the one to attest" : `the report measures ${reported || "nothing"}, not ${measurement}`, evidence: { measurement, reported } };
    }
  }
}

function checkExpiry(at: number, expiresAt: number, maxLifetime: number): Check {
  const name = "attest.expiry";
  const lifetime = expiresAt - at;
  const ok = lifetime > 0 && lifetime <= maxLifetime;
  return {
    name, ok,
    detail: lifetime <= 0
      ? `expiresAt ${expiresAt} is not after the audit time ${at}`
      : ok
        ? `expires ${lifetime} s after the audit time, within ${maxLifetime} s`
        : `expires ${lifetime} s after the audit time, more than the ${maxLifetime} s allowed (--max-lifetime)`,
    evidence: { at, expiresAt, maxLifetimeSeconds: maxLifetime },
  };
}

/** The registry's EIP-712 digest of an attestation (what the contract recovers auditors from). */
export function attestationDigest(chainId: bigint, registry: string, att: EnclaveAttestation): string {
  return enclaveAttestationDigest(registryDomain(chainId, registry), att);
}

/**
 * Verifies the evidence and the request to attest it; signs with `key` only if every check
 * passes. `key` is used for this one signature and never leaves the function.
 */
export async function attestEvidence(params: AttestParams, key: Wallet): Promise<AttestOutcome> {
  const signer = getAddress(params.signer);
  const operator = getAddress(params.operator);
  const checks: Check[] = [];
  const policySigner = checkPolicySigner(params.policy, signer);
  checks.push(policySigner);
  if (!policySigner.ok) return { signed: false, failedCheck: policySigner.name, checks };

  const report = verifyEvidence({
    format: params.format, evidence: params.evidence, collateral: params.collateral,
    at: params.at, policy: params.policy, trustAnchor: params.trustAnchor,
  });
  checks.push(...report.checks);
  if (!report.valid) return { signed: false, failedCheck: report.failedCheck ?? "evidence", checks, report };

  const extra = [
    checkTeeType(params.format, report.facts, params.teeType),
    checkCodeIdentity(params.format, report.facts, params.policy, params.measurement),
    checkExpiry(params.at, params.expiresAt, params.maxLifetimeSeconds ?? DEFAULT_MAX_LIFETIME_SECONDS),
  ];
  checks.push(...extra);
  const failed = extra.find((c) => !c.ok);
  if (failed) return { signed: false, failedCheck: failed.name, checks, report };

  const hash = evidenceHash(params.evidence);
  const att: EnclaveAttestation = {
    signer, operator, measurement: params.measurement.toLowerCase(), teeType: params.teeType, evidenceHash: hash,
    expiresAt: BigInt(params.expiresAt),
  };
  const domain: TypedDataDomain = registryDomain(params.chainId, params.registry);
  const signature = await key.signTypedData(domain, ENCLAVE_ATTESTATION_TYPES, att);
  const digest = TypedDataEncoder.hash(domain, ENCLAVE_ATTESTATION_TYPES, att);
  // The protocol module's digest is the one the registry recomputes; a mismatch is a bug here.
  if (digest !== attestationDigest(params.chainId, params.registry, att) || recoverAddress(digest, signature) !== key.address) {
    throw new Error("internal error: the attestation signature does not recover to the auditor");
  }
  return {
    signed: true,
    report,
    result: {
      attestation: { signer, operator, measurement: att.measurement, teeType: att.teeType, evidenceHash: hash, expiresAt: params.expiresAt },
      signature,
      auditor: key.address,
      evidenceHash: hash,
      digest,
      domain: { name: String(domain.name), version: String(domain.version), chainId: params.chainId.toString(), verifyingContract: getAddress(params.registry) },
      checks,
    },
  };
}
