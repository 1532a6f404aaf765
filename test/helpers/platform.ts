/**
 * The development platform for tests is the product's (oracle/src/enclave/platform.ts): honest
 * reports come from `DevPlatform.signReport`. This file adds only what the product must never do,
 * for attack and edge-case tests: a report with fields the platform would not sign (another
 * version, TEE type, platform or lifetime) or signed by another key, and a certificate re-issued
 * with other fields or by another key. Built from the protocol module's encoders and digests.
 */
import { getBytes, id } from "ethers";
import type { DevEvidence } from "../../oracle/src/enclave/backend";
import { createDevPlatform, type DevPlatform, type DevRoot } from "../../oracle/src/enclave/platform";
import {
  AttestationReport, PlatformCertificate, certificateDigest, decodeCertificate, decodeReport, encodeCertificate,
  encodeReport, p256SignDigest, reportDigest,
} from "../../oracle/src/protocol";

/** Reports the tests' platform signs are valid this long (the product's default is one day). */
export const TEST_REPORT_VALIDITY_SECONDS = 30 * 86_400;
/** The runtime hash the tests' reports carry. */
export const TEST_RUNTIME = id("test runtime");

/** A development platform certified by `root` at chain time `now`, its reports valid 30 days. */
export function createTestPlatform(root: DevRoot, now: bigint): DevPlatform {
  return createDevPlatform({ root, now: Number(now), reportValiditySeconds: TEST_REPORT_VALIDITY_SECONDS });
}

/** The platform's report (DevPlatform.signReport) binding `signer` to `measurement` and `operator`, issued at `issuedAt`. */
export function signReportAt(
  platform: DevPlatform, fields: { signer: string; operator: string; measurement: string; issuedAt: bigint },
): DevEvidence {
  return platform.signReport({ ...fields, runtime: TEST_RUNTIME }, Number(fields.issuedAt));
}

/** The platform's private P-256 key, from its file content (DevPlatform.toFile). */
export function platformKeyOf(platform: DevPlatform): Uint8Array {
  return getBytes(platform.toFile().platformPrivateKey);
}

/** `evidence` with its report's fields overridden and re-signed by `signingKey` (default: the platform key). */
export function alterReport(
  platform: DevPlatform, evidence: DevEvidence, overrides: Partial<AttestationReport>, signingKey = platformKeyOf(platform),
): DevEvidence {
  const r = { ...decodeReport(evidence.report), ...overrides };
  return {
    ...evidence,
    report: encodeReport(r),
    reportSignature: p256SignDigest(signingKey, reportDigest(r)),
    measurement: r.measurement, signer: r.enclaveSigner, operator: r.operator, teeType: r.teeType,
    runtime: r.runtime, issuedAt: r.issuedAt, expiresAt: r.expiresAt,
  };
}

/** The platform's certificate with fields overridden, signed by `signingKey` (its root's, or another key). */
export function reissueCertificate(
  platform: DevPlatform, signingKey: Uint8Array, overrides: Partial<PlatformCertificate>,
): Pick<DevEvidence, "certificate" | "certificateSignature"> {
  const cert = { ...decodeCertificate(platform.certificate), ...overrides };
  return { certificate: encodeCertificate(cert), certificateSignature: p256SignDigest(signingKey, certificateDigest(cert)) };
}

/** The arguments of `EnclaveRegistry.registerEnclave` for development evidence. */
export function registerEnclaveArgs(e: DevEvidence): [string, DevEvidence["reportSignature"], string, DevEvidence["certificateSignature"], string] {
  return [e.report, e.reportSignature, e.certificate, e.certificateSignature, e.rootId];
}
