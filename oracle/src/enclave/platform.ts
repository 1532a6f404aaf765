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
 * Its evidence is verified off-chain by dev-evidence.ts.
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
