/**
 * Access to the real attestation samples in ../shared/attestation-samples (not committed).
 * Suites that need them are declared with `describeWithSamples`: where the folder is absent,
 * the suite shows as pending with a title saying why.
 */
import { existsSync, readFileSync } from "fs";
import { join, resolve } from "path";

/**
 * Where the samples are: ATTESTATION_SAMPLES_DIR if set, else `shared/` beside the repository
 * (as CI lays it out), else the workplace's fixed path.
 */
export const SAMPLES_DIR =
  process.env.ATTESTATION_SAMPLES_DIR ??
  [resolve(__dirname, "../../../../shared/attestation-samples"), "/work/shared/attestation-samples"].find((d) => existsSync(d)) ??
  resolve(__dirname, "../../../../shared/attestation-samples");

export interface NitroSample {
  file: string;
  verifyAt: number;
  expiredAt: number;
  timestampMs: number;
  moduleId: string;
  debugMode: boolean;
  indefiniteLengthPayload: boolean;
  pcr0: string;
  pcr1: string;
  pcr2: string;
  pcr8: string;
  publicKey: string | null;
  userData: string | null;
  nonce: string | null;
}

export interface DcapSample {
  file: string;
  collateral: string;
  verifyAt: number;
  expiredAt: number;
  quoteVersion: number;
  teeType: "SGX" | "TDX";
  fmspc: string;
  tcbStatus: string;
  advisoryIds: string[];
  mrEnclave?: string;
  mrSigner?: string;
  isvProdId?: number;
  isvSvn?: number;
  mrTd?: string;
  rtmr0?: string;
  reportData: string;
}

export interface SevSnpSample {
  file: string;
  vcek: string;
  askArk: string;
  verifyAt: number;
  measurement: string;
  reportData: string;
  arkSha256: string;
}

export interface SampleManifest {
  nitro: NitroSample[];
  dcap: DcapSample[];
  sevSnp: SevSnpSample[];
  pinnedRoots: { awsNitroRootG1Sha256: string; intelSgxRootCaSha256: string };
}

export const samplesPresent = (): boolean => existsSync(join(SAMPLES_DIR, "manifest.json"));

/** `describe` when the samples are present; otherwise a pending suite that says they are absent. */
export function describeWithSamples(title: string, body: (manifest: SampleManifest) => void): void {
  if (samplesPresent()) {
    describe(title, () => body(loadManifest()));
  } else {
    describe(title, () => {
      // A test without a body is pending in mocha: the report lists it, with the reason in its title.
      it(`skipped: real attestation samples not found at ${SAMPLES_DIR} (set ATTESTATION_SAMPLES_DIR)`);
    });
  }
}

/** The manifest (empty lists when the samples are absent). */
export function loadManifest(): SampleManifest {
  if (!samplesPresent()) return { nitro: [], dcap: [], sevSnp: [], pinnedRoots: { awsNitroRootG1Sha256: "", intelSgxRootCaSha256: "" } };
  return JSON.parse(readFileSync(join(SAMPLES_DIR, "manifest.json"), "utf8")) as SampleManifest;
}

export const sampleBytes = (file: string): Buffer => readFileSync(join(SAMPLES_DIR, file));
export const samplePath = (file: string): string => join(SAMPLES_DIR, file);

/** A copy of `bytes` with one bit flipped at `offset`. */
export function flipByte(bytes: Uint8Array, offset: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[offset] ^= 0x01;
  return copy;
}
