/**
 * Real-TEE evidence through Linux configfs-tsm (Documentation/ABI/testing/configfs-tsm), the
 * kernel's common interface to Intel TDX and AMD SEV-SNP guest attestation:
 *
 *   mkdir  <root>/<entry>                 a fresh report request
 *   write  <entry>/inblob                 64 bytes of report data: keccak256(signer) ‖ 32 zero bytes
 *   read   <entry>/generation             g1: the write bumped it
 *   read   <entry>/outblob                the quote (TDX) or report (SEV-SNP), made by the kernel
 *   read   <entry>/generation             g2: must equal g1, or another writer raced us
 *   read   <entry>/provider               tdx_guest → "dcap", sev_guest → "sev-snp"
 *   rmdir  <entry>
 *
 * The evidence is not verifiable on-chain at a sane gas cost; auditors verify it off-chain and
 * countersign an EIP-712 EnclaveAttestation (EnclaveRegistry.registerAttestedEnclave).
 * The file-system calls are injectable so the flow is tested against a fake configfs.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { getAddress, getBytes, hexlify, keccak256 } from "ethers";
import { PermanentError } from "../../errors";
import { TeeType } from "../../protocol/constants";
import type { AttestationBackend, AttestationRequest, HardwareEvidence } from "../backend";

export const DEFAULT_TSM_REPORT_ROOT = "/sys/kernel/config/tsm/report";

/** The file-system operations the backend performs; node:fs by default. */
export interface TsmFs {
  mkdir(dir: string): void;
  writeFile(file: string, data: Uint8Array): void;
  readFile(file: string): Buffer;
  rmdir(dir: string): void;
}

const NODE_FS: TsmFs = {
  mkdir: (dir) => fs.mkdirSync(dir, { mode: 0o700 }),
  writeFile: (file, data) => fs.writeFileSync(file, data),
  readFile: (file) => fs.readFileSync(file),
  // configfs removes an item's attribute files with the directory itself
  rmdir: (dir) => fs.rmdirSync(dir),
};

export interface ConfigfsTsmOptions {
  /** The configfs-tsm report directory. Default /sys/kernel/config/tsm/report. */
  root?: string;
  fs?: TsmFs;
  /** Attempts when another writer races on the entry (generation moved). Default 3. */
  maxAttempts?: number;
}

/** Raised when the kernel interface is missing, misbehaves, or keeps racing. */
export class TsmError extends PermanentError {
  override name = "TsmError";
}

const PROVIDERS: Record<string, { format: "dcap" | "sev-snp"; teeType: TeeType }> = {
  tdx_guest: { format: "dcap", teeType: TeeType.IntelTdx },
  sev_guest: { format: "sev-snp", teeType: TeeType.AmdSevSnp },
};

/** The 64 bytes of report data that bind an enclave signer: keccak256(address) ‖ 32 zero bytes. */
export function reportDataFor(signer: string): Uint8Array {
  const data = new Uint8Array(64);
  data.set(getBytes(keccak256(getAddress(signer))), 0);
  return data;
}

export class ConfigfsTsmBackend implements AttestationBackend {
  readonly name = "configfs-tsm";
  readonly root: string;
  readonly #fs: TsmFs;
  readonly #maxAttempts: number;

  constructor(options: ConfigfsTsmOptions = {}) {
    this.root = options.root ?? DEFAULT_TSM_REPORT_ROOT;
    this.#fs = options.fs ?? NODE_FS;
    this.#maxAttempts = options.maxAttempts ?? 3;
  }

  async attest(request: AttestationRequest): Promise<HardwareEvidence> {
    const reportData = reportDataFor(request.signer);
    const { evidence, provider } = this.getEvidence(reportData);
    const known = PROVIDERS[provider];
    if (!known) throw new TsmError(`unknown configfs-tsm provider "${provider}" (expected tdx_guest or sev_guest)`);
    return {
      format: known.format,
      evidence,
      provider,
      reportData: hexlify(reportData),
      measurement: request.measurement,
      signer: getAddress(request.signer),
      teeType: known.teeType,
      runtime: request.runtime,
    };
  }

  /** One report for 64 bytes of report data; retries when the generation shows a race. */
  getEvidence(inblob: Uint8Array): { evidence: Uint8Array; provider: string; generation: number } {
    if (inblob.length !== 64) throw new TsmError(`inblob must be 64 bytes, got ${inblob.length}`);
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      const entry = path.join(this.root, `oracle-${process.pid}-${randomBytes(6).toString("hex")}`);
      try {
        this.#fs.mkdir(entry);
      } catch (err) {
        throw new TsmError(`cannot create ${entry}: ${(err as Error).message} (is configfs-tsm mounted, and is this a TDX/SEV-SNP guest?)`);
      }
      try {
        const before = this.#generation(entry);
        this.#fs.writeFile(path.join(entry, "inblob"), inblob);
        const g1 = this.#generation(entry);
        const outblob = this.#fs.readFile(path.join(entry, "outblob"));
        const g2 = this.#generation(entry);
        if (g1 === before || g1 !== g2) continue; // another writer touched the entry: try a fresh one
        if (outblob.length === 0) throw new TsmError("the kernel returned an empty outblob");
        const provider = this.#fs.readFile(path.join(entry, "provider")).toString("utf8").trim();
        return { evidence: new Uint8Array(outblob), provider, generation: g2 };
      } finally {
        try {
          this.#fs.rmdir(entry);
        } catch {
          // leave it: the kernel entry holds no secret, and rmdir failing must not hide the result
        }
      }
    }
    throw new TsmError(`configfs-tsm report raced ${this.#maxAttempts} times (generation changed while reading)`);
  }

  #generation(entry: string): number {
    const text = this.#fs.readFile(path.join(entry, "generation")).toString("utf8").trim();
    const g = Number(text);
    if (!Number.isInteger(g)) throw new TsmError(`generation is not a number: "${text}"`);
    return g;
  }
}
