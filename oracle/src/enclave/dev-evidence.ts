/**
 * Off-chain verification of development-platform evidence (platform.ts signs it), in the
 * auditor's report shape: the certificate chains to a pinned vendor root, the report is signed by
 * the certified platform key, fresh, of this version and teeType DevSimulated, and names the
 * measurement, signer and operator the caller expects. The same checks the EnclaveRegistry makes
 * on-chain, done by the auditor (audit/evidence/dev.ts) and the result audit.
 */
import { ZeroAddress, getAddress } from "ethers";
import { CERTIFICATE_VERSION, REPORT_VERSION, TeeType } from "../protocol/constants";
import { p256VerifyDigest, type P256PublicKey } from "../protocol/p256";
import {
  certificateDigest,
  decodeCertificate,
  decodeReport,
  reportDigest,
  rootId as computeRootId,
  type AttestationReport,
  type P256Signature,
  type PlatformCertificate,
} from "../protocol/report";

export interface DevEvidenceInput {
  report: string;
  reportSignature: P256Signature;
  certificate: string;
  certificateSignature: P256Signature;
}

export interface VerifyDevEvidenceOptions {
  /** Trusted vendor roots (public keys). The evidence must chain to one of them. */
  roots: P256PublicKey[];
  /** Unix seconds at which validity and freshness are judged; defaults to now. */
  at?: number;
  /** If given, the report's measurement must be one of these. */
  allowedMeasurements?: string[];
  /** If given, the report must name this enclave signer. */
  expectedSigner?: string;
  /** If given, the report must name this operator (the account that registered, or will register, it). */
  expectedOperator?: string;
}

export interface DevCheck {
  name: string;
  ok: boolean;
  detail: string;
  skipped?: boolean;
}

export interface DevFacts {
  simulation: true;
  teeType: number | null;
  platformId: string | null;
  rootId: string | null;
  measurement: string | null;
  enclaveSigner: string | null;
  /** The only account that may register the report (version 2 onwards). */
  operator: string | null;
  runtime: string | null;
  issuedAt: number | null;
  expiresAt: number | null;
}

export interface DevTrustLink {
  role: "root" | "leaf" | "evidence" | "measurement" | "signer";
  title: string;
  subtitle: string;
  check?: string;
  ok: boolean | null;
}

/** Same shape as the auditor's `VerificationReport` (oracle/src/audit/types.ts), format "dev". */
export interface DevVerificationReport {
  format: "dev";
  valid: boolean;
  at: number;
  checks: DevCheck[];
  failedCheck?: string;
  facts: DevFacts;
  chain: DevTrustLink[];
}

/** Every check name, in order; a check that could not run is listed as skipped. */
export const DEV_CHECKS = [
  "encoding.certificate",
  "encoding.report",
  "chain.root",
  "chain.certificate",
  "certificate.validity",
  "report.platform",
  "report.signature",
  "report.version",
  "report.teeType",
  "report.freshness",
  "policy.measurement",
  "policy.signer",
  "policy.operator",
] as const;

/**
 * Verifies development-platform evidence against pinned roots. Never throws for bad evidence:
 * each failure is a failed check, and the checks that depend on it are listed as skipped.
 */
export function verifyDevEvidence(evidence: DevEvidenceInput, options: VerifyDevEvidenceOptions): DevVerificationReport {
  const at = options.at ?? Math.floor(Date.now() / 1000);
  const checks: DevCheck[] = [];
  const facts: DevFacts = {
    simulation: true, teeType: null, platformId: null, rootId: null, measurement: null,
    enclaveSigner: null, operator: null, runtime: null, issuedAt: null, expiresAt: null,
  };
  const record = (name: string, ok: boolean, detail: string): boolean => {
    checks.push({ name, ok, detail });
    return ok;
  };
  const finish = (): DevVerificationReport => devReport(checks, facts, at);

  const decoded = decodeDevEvidence(evidence, record);
  if (!decoded) return finish();
  const { cert, report } = decoded;
  Object.assign(facts, {
    teeType: report.teeType, platformId: report.platformId, measurement: report.measurement,
    enclaveSigner: report.enclaveSigner, operator: report.operator, runtime: report.runtime,
    issuedAt: Number(report.issuedAt), expiresAt: Number(report.expiresAt),
  });

  const certDigest = certificateDigest(cert);
  const root = options.roots.find((r) => safeVerify(r, certDigest, evidence.certificateSignature));
  if (!record("chain.root", root !== undefined, root
    ? `the certificate is signed by pinned root ${computeRootId(root.x, root.y)}`
    : `the certificate signature verifies under none of the ${options.roots.length} pinned roots`)) return finish();
  facts.rootId = computeRootId(root!.x, root!.y);
  record("chain.certificate", cert.version === CERTIFICATE_VERSION, `certificate version ${cert.version}, expected ${CERTIFICATE_VERSION}`);
  record("certificate.validity", BigInt(at) >= cert.notBefore && BigInt(at) <= cert.notAfter,
    `certificate valid from ${cert.notBefore} to ${cert.notAfter}; checked at ${at}`);
  if (!record("report.platform", report.platformId === cert.platformId,
    `report platform ${report.platformId}, certificate platform ${cert.platformId}`)) return finish();
  const platformKey = { x: cert.platformKeyX, y: cert.platformKeyY };
  if (!record("report.signature", safeVerify(platformKey, reportDigest(report), evidence.reportSignature),
    "the report's P-256 signature (low-s) under the certified platform key")) return finish();
  record("report.version", report.version === REPORT_VERSION, `report version ${report.version}, expected ${REPORT_VERSION}`);
  record("report.teeType", report.teeType === TeeType.DevSimulated,
    report.teeType === TeeType.DevSimulated
      ? "teeType DevSimulated: a software simulation of a TEE, not hardware-backed"
      : `teeType ${report.teeType}: a development platform may only sign DevSimulated reports`);
  record("report.freshness", BigInt(at) >= report.issuedAt && BigInt(at) < report.expiresAt,
    `report issued ${report.issuedAt}, expires ${report.expiresAt}; checked at ${at}`);
  checkDevPolicy(report, options, record);
  return finish();
}

type RecordCheck = (name: string, ok: boolean, detail: string) => boolean;

/** `encoding.certificate`, `encoding.report`: both decode in their ABI layouts (a report of another version says so). */
function decodeDevEvidence(evidence: DevEvidenceInput, record: RecordCheck): { cert: PlatformCertificate; report: AttestationReport } | undefined {
  let cert: PlatformCertificate;
  let report: AttestationReport;
  try {
    cert = decodeCertificate(evidence.certificate);
    record("encoding.certificate", true, "the certificate decodes as the PlatformCertificate ABI layout");
  } catch (err) {
    record("encoding.certificate", false, `the certificate does not decode: ${(err as Error).message}`);
    return undefined;
  }
  try {
    report = decodeReport(evidence.report);
    record("encoding.report", true, "the report decodes as the AttestationReport ABI layout");
  } catch (err) {
    const version = declaredVersion(evidence.report);
    record("encoding.report", false, version !== undefined && version !== REPORT_VERSION
      ? `report version ${version}: this verifier reads version ${REPORT_VERSION} (version 2 added the operator)`
      : `the report does not decode: ${(err as Error).message}`);
    return undefined;
  }
  return { cert, report };
}

/** `policy.measurement`, `policy.signer`, `policy.operator`: each checked when the caller gives one. */
function checkDevPolicy(report: AttestationReport, options: VerifyDevEvidenceOptions, record: RecordCheck): void {
  if (options.allowedMeasurements) {
    const allowed = options.allowedMeasurements.map((m) => m.toLowerCase());
    record("policy.measurement", allowed.includes(report.measurement.toLowerCase()),
      `measurement ${report.measurement} ${allowed.includes(report.measurement.toLowerCase()) ? "is" : "is not"} in the policy`);
  } else {
    record("policy.measurement", true, "no measurement policy given: any measurement accepted");
  }
  if (options.expectedSigner) {
    record("policy.signer", getAddress(options.expectedSigner) === getAddress(report.enclaveSigner),
      `report names signer ${report.enclaveSigner}, expected ${getAddress(options.expectedSigner)}`);
  } else {
    record("policy.signer", true, "no expected signer given");
  }
  if (options.expectedOperator) {
    record("policy.operator", getAddress(options.expectedOperator) === getAddress(report.operator),
      `report names operator ${report.operator}, expected ${getAddress(options.expectedOperator)}`);
  } else {
    record("policy.operator", true, `no expected operator given; the report names ${report.operator}${report.operator === ZeroAddress ? " (the zero address: no account can register it)" : ""}`);
  }
}

/** The report: checks not reached listed as skipped, and the trust diagram. */
function devReport(checks: DevCheck[], facts: DevFacts, at: number): DevVerificationReport {
  const first = checks.find((c) => !c.ok);
  for (const name of DEV_CHECKS) {
    if (!checks.some((c) => c.name === name)) {
      checks.push({ name, ok: false, skipped: true, detail: `not evaluated: "${first?.name ?? "an earlier step"}" failed first` });
    }
  }
  const outcome = (name: string): boolean | null => {
    const c = checks.find((x) => x.name === name);
    return !c || c.skipped ? null : c.ok;
  };
  const failed = checks.find((c) => !c.ok && !c.skipped);
  return {
    format: "dev",
    valid: checks.every((c) => c.ok),
    at,
    checks,
    ...(failed ? { failedCheck: failed.name } : {}),
    facts,
    chain: [
      { role: "root", title: "Development vendor root (simulation)", subtitle: facts.rootId ?? "unknown", check: "chain.root", ok: outcome("chain.root") },
      { role: "leaf", title: "Platform key", subtitle: facts.platformId ?? "unknown", check: "chain.certificate", ok: outcome("chain.certificate") },
      { role: "evidence", title: "Attestation report (DevSimulated)", subtitle: `issued ${facts.issuedAt ?? "?"}`, check: "report.signature", ok: outcome("report.signature") },
      { role: "measurement", title: "Runner measurement", subtitle: facts.measurement ?? "unknown", check: "policy.measurement", ok: outcome("policy.measurement") },
      { role: "signer", title: "Enclave signer", subtitle: facts.enclaveSigner ?? "unknown", check: "policy.signer", ok: outcome("policy.signer") },
    ],
  };
}

/** The version a report declares in its first word, if it has one that fits a uint16. */
function declaredVersion(report: string): number | undefined {
  if (!/^0x[0-9a-fA-F]{64}/.test(report)) return undefined;
  const word = BigInt(report.slice(0, 66));
  return word <= 0xffffn ? Number(word) : undefined;
}

function safeVerify(key: P256PublicKey, digest: string, sig: P256Signature): boolean {
  try {
    return p256VerifyDigest(key, digest, sig);
  } catch {
    return false;
  }
}
