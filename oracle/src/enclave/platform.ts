/**
 * The development platform: a SOFTWARE SIMULATION of TEE hardware. Nothing here is backed by
 * hardware; anyone holding the platform file can sign any report. It exists so the whole trust
 * chain (vendor root → platform key → report → measurement → enclave signer) can be built and
 * verified, on-chain and off, with the same formats and checks as the real-TEE path.
 *
 * - vendor root: a P-256 key; its public key goes to the EnclaveRegistry (`addRoot`), its id is
 *   `rootId = keccak256(abi.encode(x, y))`. The private half is used once, to certify the platform
 *   key, and is not kept in the platform file.
 * - platform key: a P-256 key certified by the root (PlatformCertificate, protocol/report.ts).
 *   It signs attestation reports (teeType DevSimulated) over the measurement the host computed,
 *   the runner's signer and the operator the host is configured with (the only account the
 *   EnclaveRegistry lets register the report).
 * - platform secret: 32 random bytes from which sealing keys are derived per measurement.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ZeroAddress, getAddress, hexlify, sha256 } from "ethers";
import { p256 } from "@noble/curves/p256";
import { CERTIFICATE_VERSION, REPORT_VERSION, TeeType } from "../protocol/constants";
import { fromHex } from "../protocol/bytes";
import { p256PublicKey, p256SignDigest, p256VerifyDigest, type P256PublicKey } from "../protocol/p256";
import {
  certificateDigest,
  decodeCertificate,
  decodeReport,
  encodeCertificate,
  encodeReport,
  reportDigest,
  rootId as computeRootId,
  type AttestationReport,
  type P256Signature,
  type PlatformCertificate,
} from "../protocol/report";
import type { AttestationBackend, AttestationRequest, DevEvidence } from "./backend";
import { deriveSealingKey } from "./sealing";

export const PLATFORM_FILE_FORMAT = "oracle-dev-platform/1";
/** Default lifetime of a platform certificate: one year. */
export const DEFAULT_CERT_VALIDITY_SECONDS = 365 * 24 * 3600;
/** Default lifetime of an attestation report (and so of the enclave key registration): one day. */
export const DEFAULT_REPORT_VALIDITY_SECONDS = 24 * 3600;

/** A vendor root of the development platform. Tests keep it to certify more platforms. */
export interface DevRoot {
  privateKey: Uint8Array;
  publicKey: P256PublicKey;
  rootId: string;
}

export function createDevRoot(): DevRoot {
  const privateKey = p256.utils.randomPrivateKey();
  const publicKey = p256PublicKey(privateKey);
  return { privateKey, publicKey, rootId: computeRootId(publicKey.x, publicKey.y) };
}

export interface CreateDevPlatformOptions {
  /** Root that certifies the platform; a fresh one if absent (its private key is then discarded). */
  root?: DevRoot;
  /** Unix seconds; defaults to now. */
  now?: number;
  certValiditySeconds?: number;
  reportValiditySeconds?: number;
}

interface PlatformFile {
  format: typeof PLATFORM_FILE_FORMAT;
  simulation: string;
  platformId: string;
  rootPublicKey: P256PublicKey;
  rootId: string;
  certificate: string;
  certificateSignature: P256Signature;
  platformPrivateKey: string;
  secret: string;
  reportValiditySeconds: number;
}

/** The simulated TEE platform. Implements {@link AttestationBackend}. */
export class DevPlatform implements AttestationBackend {
  readonly name = "dev-platform";
  readonly bindsOperator = true;
  readonly teeType = TeeType.DevSimulated;
  readonly platformId: string;
  readonly rootPublicKey: P256PublicKey;
  readonly rootId: string;
  /** `abi.encode` of the PlatformCertificate, 0x hex. */
  readonly certificate: string;
  readonly certificateSignature: P256Signature;
  readonly platformPublicKey: P256PublicKey;
  readonly reportValiditySeconds: number;
  readonly #platformKey: Uint8Array;
  readonly #secret: Uint8Array;
  /** Clock in unix seconds; replaceable so tests can sign at a chain's time. */
  now: () => number = () => Math.floor(Date.now() / 1000);

  constructor(file: PlatformFile) {
    if (file.format !== PLATFORM_FILE_FORMAT) throw new Error(`not a development platform file (format ${String(file.format)})`);
    this.platformId = file.platformId;
    this.rootPublicKey = file.rootPublicKey;
    this.rootId = file.rootId;
    this.certificate = file.certificate;
    this.certificateSignature = file.certificateSignature;
    this.reportValiditySeconds = file.reportValiditySeconds;
    this.#platformKey = Buffer.from(file.platformPrivateKey.replace(/^0x/, ""), "hex");
    this.#secret = Buffer.from(file.secret.replace(/^0x/, ""), "hex");
    this.platformPublicKey = p256PublicKey(this.#platformKey);
    const cert = decodeCertificate(this.certificate);
    if (cert.platformKeyX !== this.platformPublicKey.x || cert.platformKeyY !== this.platformPublicKey.y) {
      throw new Error("platform file: the certificate does not certify this platform key");
    }
    if (computeRootId(this.rootPublicKey.x, this.rootPublicKey.y) !== this.rootId) throw new Error("platform file: rootId does not match the root key");
    if (!p256VerifyDigest(this.rootPublicKey, certificateDigest(cert), this.certificateSignature)) {
      throw new Error("platform file: the certificate signature does not verify under the root key");
    }
  }

  /**
   * Signs a DevSimulated report over the host's measurement, the runtime hash, the signer and the
   * operator. Without an operator the report names the zero address, which no account can register.
   */
  async attest(request: AttestationRequest): Promise<DevEvidence> {
    return this.signReport(request);
  }

  signReport(request: AttestationRequest, issuedAt = this.now()): DevEvidence {
    const report: AttestationReport = {
      version: REPORT_VERSION,
      teeType: TeeType.DevSimulated,
      platformId: this.platformId,
      measurement: request.measurement,
      enclaveSigner: getAddress(request.signer),
      operator: request.operator === undefined ? ZeroAddress : getAddress(request.operator),
      runtime: request.runtime,
      issuedAt: BigInt(issuedAt),
      expiresAt: BigInt(issuedAt + this.reportValiditySeconds),
    };
    return {
      format: "dev",
      report: encodeReport(report),
      reportSignature: p256SignDigest(this.#platformKey, reportDigest(report)),
      certificate: this.certificate,
      certificateSignature: this.certificateSignature,
      rootId: this.rootId,
      measurement: report.measurement,
      signer: report.enclaveSigner,
      operator: report.operator,
      teeType: report.teeType,
      runtime: report.runtime,
      issuedAt: report.issuedAt,
      expiresAt: report.expiresAt,
    };
  }

  /** HKDF(platform secret, measurement): the runner of that measurement, and only it, gets this key. */
  sealingKey(measurement: string): Uint8Array {
    return deriveSealingKey(this.#secret, measurement);
  }

  /** The platform file's content. Holds the platform private key and secret: keep it 0600. */
  toFile(): PlatformFile {
    return {
      format: PLATFORM_FILE_FORMAT,
      simulation: "development platform: a software simulation of TEE hardware, not hardware-backed",
      platformId: this.platformId,
      rootPublicKey: this.rootPublicKey,
      rootId: this.rootId,
      certificate: this.certificate,
      certificateSignature: this.certificateSignature,
      platformPrivateKey: hexlify(this.#platformKey),
      secret: hexlify(this.#secret),
      reportValiditySeconds: this.reportValiditySeconds,
    };
  }

  /** Never serialise the secrets by accident (logs, JSON.stringify of an options object). */
  toJSON(): object {
    return { name: this.name, platformId: this.platformId, rootId: this.rootId, simulation: true };
  }
}

/** Creates a development platform: a root (unless given), a platform key it certifies, a sealing secret. */
export function createDevPlatform(options: CreateDevPlatformOptions = {}): DevPlatform {
  const root = options.root ?? createDevRoot();
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const platformPrivateKey = p256.utils.randomPrivateKey();
  const platformPublicKey = p256PublicKey(platformPrivateKey);
  const platformId = sha256(Buffer.concat([fromHex(platformPublicKey.x), fromHex(platformPublicKey.y)]));
  const cert: PlatformCertificate = {
    version: CERTIFICATE_VERSION,
    platformId,
    platformKeyX: platformPublicKey.x,
    platformKeyY: platformPublicKey.y,
    notBefore: BigInt(now - 60),
    notAfter: BigInt(now + (options.certValiditySeconds ?? DEFAULT_CERT_VALIDITY_SECONDS)),
  };
  return new DevPlatform({
    format: PLATFORM_FILE_FORMAT,
    simulation: "development platform: a software simulation of TEE hardware, not hardware-backed",
    platformId,
    rootPublicKey: root.publicKey,
    rootId: root.rootId,
    certificate: encodeCertificate(cert),
    certificateSignature: p256SignDigest(root.privateKey, certificateDigest(cert)),
    platformPrivateKey: hexlify(platformPrivateKey),
    secret: hexlify(randomBytes(32)),
    reportValiditySeconds: options.reportValiditySeconds ?? DEFAULT_REPORT_VALIDITY_SECONDS,
  });
}

/** Writes the platform file with mode 0600 (its directory 0700), atomically. */
export function saveDevPlatform(platform: DevPlatform, file: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(platform.toFile(), null, 2) + "\n", { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** Reads a platform file; refuses one that others can read, as ssh refuses such a key. */
export function loadDevPlatform(file: string): DevPlatform {
  if (!existsSync(file)) throw new Error(`no development platform at ${file} (create one: npx ts-node scripts/dev-platform.ts --network <name>)`);
  const mode = statSync(file).mode & 0o777;
  if (process.platform !== "win32" && (mode & 0o077) !== 0) {
    throw new Error(`${file} has mode ${mode.toString(8)}: it holds the platform key, make it 0600`);
  }
  return new DevPlatform(JSON.parse(readFileSync(file, "utf8")) as PlatformFile);
}

// ---------------------------------------------------------------------------------------------
// Off-chain verification of development-platform evidence, in the auditor's report shape.

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
