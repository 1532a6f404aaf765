/**
 * The development platform for tests: a vendor root and a platform key (P-256, @noble through
 * oracle/src/protocol/p256.ts), the platform certificate, and signed attestation reports.
 * A SIMULATION of TEE hardware, like the runner's platform.
 */
import { p256 } from "@noble/curves/p256";
import { hexlify, randomBytes } from "ethers";
import {
  AttestationReport, CERTIFICATE_VERSION, P256PublicKey, P256Signature, PlatformCertificate, REPORT_VERSION, TeeType,
  certificateDigest, encodeCertificate, encodeReport, p256PublicKey, p256SignDigest, reportDigest, rootId,
} from "../../oracle/src/protocol";

export interface DevPlatform {
  rootKey: Uint8Array;
  root: P256PublicKey;
  rootId: string;
  platformKey: Uint8Array;
  platform: P256PublicKey;
  platformId: string;
  cert: PlatformCertificate;
  /** abi-encoded certificate. */
  certificate: string;
  /** Root's signature over sha256(certificate). */
  certSig: P256Signature;
}

export interface SignedReport {
  report: AttestationReport;
  /** abi-encoded report. */
  encoded: string;
  /** Platform key's signature over sha256(report). */
  sig: P256Signature;
}

/** A fresh root and platform key; the certificate is valid from `now - 1 day` to `now + 1 year`. */
export function makeDevPlatform(now: bigint, overrides: Partial<PlatformCertificate> = {}): DevPlatform {
  const rootKey = p256.utils.randomPrivateKey();
  const platformKey = p256.utils.randomPrivateKey();
  const root = p256PublicKey(rootKey);
  const platform = p256PublicKey(platformKey);
  const platformId = hexlify(randomBytes(32));
  const cert: PlatformCertificate = {
    version: CERTIFICATE_VERSION,
    platformId,
    platformKeyX: platform.x,
    platformKeyY: platform.y,
    notBefore: now - 86_400n,
    notAfter: now + 365n * 86_400n,
    ...overrides,
  };
  return {
    rootKey, root, rootId: rootId(root.x, root.y), platformKey, platform, platformId, cert,
    certificate: encodeCertificate(cert),
    certSig: p256SignDigest(rootKey, certificateDigest(cert)),
  };
}

/** Re-issues the platform's certificate with other fields, signed by `signingKey` (default: its root). */
export function reissueCertificate(
  platform: DevPlatform, overrides: Partial<PlatformCertificate>, signingKey = platform.rootKey,
): DevPlatform {
  const cert = { ...platform.cert, ...overrides };
  return { ...platform, cert, certificate: encodeCertificate(cert), certSig: p256SignDigest(signingKey, certificateDigest(cert)) };
}

/**
 * A report binding `enclaveSigner` to `measurement` and to `operator` (the only account that may
 * register it), issued at `issuedAt`, valid 30 days by default.
 */
export function makeReport(
  platform: DevPlatform,
  fields: { enclaveSigner: string; operator: string; measurement: string; issuedAt: bigint } & Partial<AttestationReport>,
  signingKey = platform.platformKey,
): SignedReport {
  const report: AttestationReport = {
    version: REPORT_VERSION,
    teeType: TeeType.DevSimulated,
    platformId: platform.platformId,
    runtime: hexlify(randomBytes(32)),
    expiresAt: fields.issuedAt + 30n * 86_400n,
    ...fields,
  };
  return { report, encoded: encodeReport(report), sig: p256SignDigest(signingKey, reportDigest(report)) };
}
