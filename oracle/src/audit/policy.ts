/**
 * The measurement policy an auditor verifies evidence against, and its evaluation.
 *
 * A policy says which code may run (measurement, PCRs, MRENCLAVE/MRSIGNER, MRTD), which TCB
 * statuses are acceptable, whether debug enclaves are, how old evidence may be, and which
 * enclave signer (an Ethereum address) the evidence must bind. Every value that is set becomes a
 * named check (`policy.*`); `policy.debug` is always evaluated. A value that the evidence cannot
 * show (e.g. `maxAgeSeconds` for a DCAP quote, which carries no time) fails rather than passing
 * silently.
 */
import { getAddress, keccak256 } from "ethers";
import { isoTime } from "./checks";
import type { Policy } from "./policy-schema";
import type { Check } from "./types";

/**
 * What a verifier extracted from evidence that the policy can judge. Hex lowercase, no 0x.
 * A field is absent when the format has no such value.
 */
export interface PolicyClaims {
  /** Whether the enclave/VM runs in debug mode (or its measurement says so). */
  debug: boolean;
  /** Why `debug` is what it is, in words (e.g. "PCR0-2 are all zero"). */
  debugReason: string;
  measurement?: string;
  pcrs?: Record<string, string>;
  mrEnclave?: string;
  mrSigner?: string;
  mrTd?: string;
  tcbStatus?: string;
  /** When the evidence was produced, unix seconds (Nitro timestamp, dev report issuedAt). */
  issuedAt?: number;
  /** Report data (64 bytes); the signer binding is keccak256(address) in its first 32 bytes. */
  reportData?: string;
  /** Fields that may carry the signer: the 20-byte address or its 32-byte keccak256 (Nitro). */
  signerFields?: Record<string, string | null>;
  nonce?: string | null;
}

/** keccak256 of the 20 address bytes, hex without 0x. */
export function signerBindingHash(address: string): string {
  return keccak256(getAddress(address)).slice(2);
}

function matchAny(name: string, label: string, actual: string | undefined, allowed: string[]): Check {
  if (actual === undefined) {
    return { name, ok: false, detail: `the policy sets ${label} but this evidence has no ${label}` };
  }
  const ok = allowed.includes(actual);
  return {
    name,
    ok,
    detail: ok ? `${label} is one the policy allows` : `${label} ${actual} is not one the policy allows`,
    evidence: { actual, allowed: allowed.join(", ") },
  };
}

function checkPcrs(claims: PolicyClaims, expected: Record<string, string[]>): Check {
  const name = "policy.pcrs";
  if (!claims.pcrs) return { name, ok: false, detail: "the policy sets PCRs but this evidence has no PCRs" };
  const evidence: Record<string, string> = {};
  const mismatched: string[] = [];
  for (const [index, allowed] of Object.entries(expected)) {
    const actual = claims.pcrs[index];
    evidence[`pcr${index}`] = actual ?? "(absent)";
    evidence[`expected pcr${index}`] = allowed.join(", ");
    if (actual === undefined || !allowed.includes(actual)) mismatched.push(`PCR${index}`);
  }
  const indices = Object.keys(expected).map((i) => `PCR${i}`).join(", ");
  return mismatched.length === 0
    ? { name, ok: true, detail: `${indices} equal the policy's values`, evidence }
    : { name, ok: false, detail: `${mismatched.join(", ")} differ from the policy's values`, evidence };
}

function checkSigner(claims: PolicyClaims, signer: string): Check {
  const name = "policy.enclave-signer";
  const hash = signerBindingHash(signer);
  const address = signer.slice(2).toLowerCase();
  if (claims.reportData !== undefined) {
    const bound = claims.reportData.slice(0, 64);
    const ok = bound === hash;
    return {
      name,
      ok,
      detail: ok
        ? `report data binds enclave signer ${signer} (keccak256 of the address in its first 32 bytes)`
        : `report data does not bind enclave signer ${signer}: its first 32 bytes are not keccak256(address)`,
      evidence: { signer, expected: hash, reportData0to32: bound },
    };
  }
  if (claims.signerFields) {
    const evidence: Record<string, string | null> = { signer, keccak256: hash };
    for (const [field, value] of Object.entries(claims.signerFields)) {
      evidence[field] = value;
      if (value === address || value === hash) {
        const form = value === address ? "the 20-byte address" : "keccak256 of the address";
        return { name, ok: true, detail: `${field} binds enclave signer ${signer} (${form})`, evidence };
      }
    }
    const fields = Object.keys(claims.signerFields).join(" or ");
    return { name, ok: false, detail: `neither ${fields} holds enclave signer ${signer} or its keccak256`, evidence };
  }
  return { name, ok: false, detail: "the policy sets an enclave signer but this evidence has no field that can bind one" };
}

/** Evaluates a policy against claims at `at`; returns one check per policy value set. */
export function evaluatePolicy(claims: PolicyClaims, policy: Policy, at: number): Check[] {
  const checks: Check[] = [];
  const debugOk = !claims.debug || policy.debugAllowed;
  checks.push({
    name: "policy.debug",
    ok: debugOk,
    detail: claims.debug
      ? `debug mode: ${claims.debugReason}; the policy ${policy.debugAllowed ? "allows" : "does not allow"} debug enclaves`
      : `not in debug mode (${claims.debugReason})`,
    evidence: { debug: claims.debug, debugAllowed: policy.debugAllowed },
  });
  if (policy.measurement) checks.push(matchAny("policy.measurement", "measurement", claims.measurement, policy.measurement));
  if (policy.pcrs) checks.push(checkPcrs(claims, policy.pcrs));
  if (policy.mrEnclave) checks.push(matchAny("policy.mr-enclave", "MRENCLAVE", claims.mrEnclave, policy.mrEnclave));
  if (policy.mrSigner) checks.push(matchAny("policy.mr-signer", "MRSIGNER", claims.mrSigner, policy.mrSigner));
  if (policy.mrTd) checks.push(matchAny("policy.mr-td", "MRTD", claims.mrTd, policy.mrTd));
  if (policy.allowedTcbStatuses) {
    const allowed: readonly string[] = policy.allowedTcbStatuses;
    const status = claims.tcbStatus;
    const ok = status !== undefined && allowed.includes(status);
    checks.push({
      name: "policy.tcb-status",
      ok,
      detail:
        status === undefined
          ? "the policy restricts TCB status but none was established for this evidence"
          : ok
            ? `TCB status ${status} is allowed`
            : `TCB status ${status} is not among the allowed ${allowed.join(", ")}`,
      evidence: { status: status ?? null, allowed: allowed.join(", ") },
    });
  }
  if (policy.maxAgeSeconds !== undefined) {
    const issuedAt = claims.issuedAt;
    if (issuedAt === undefined) {
      checks.push({
        name: "policy.max-age",
        ok: false,
        detail: "the policy sets a maximum age but this evidence carries no time; bind a fresh nonce in report data instead",
      });
    } else {
      const age = at - issuedAt;
      const ok = age <= policy.maxAgeSeconds && age >= -60;
      checks.push({
        name: "policy.max-age",
        ok,
        detail: ok
          ? `issued ${Math.round(age)} s before ${isoTime(at)}, within ${policy.maxAgeSeconds} s`
          : age < -60
            ? `issued ${Math.round(-age)} s after the audit time ${isoTime(at)}`
            : `issued ${Math.round(age)} s before ${isoTime(at)}, older than ${policy.maxAgeSeconds} s`,
        evidence: { issuedAt: isoTime(issuedAt), at: isoTime(at), ageSeconds: Math.round(age), maxAgeSeconds: policy.maxAgeSeconds },
      });
    }
  }
  if (policy.enclaveSigner) checks.push(checkSigner(claims, policy.enclaveSigner));
  if (policy.nonce !== undefined) {
    const ok = claims.nonce === policy.nonce;
    checks.push({
      name: "policy.nonce",
      ok,
      detail: claims.nonce === undefined ? "the policy sets a nonce but this evidence has no nonce field" : ok ? "nonce equals the expected nonce" : "nonce differs from the expected nonce",
      evidence: { expected: policy.nonce, actual: claims.nonce ?? null },
    });
  }
  return checks;
}
