/**
 * Sealing of the runner's signing key, as a TEE seals data to its enclave identity.
 *
 * The platform (here: the host, standing in for the hardware) derives a sealing key from its
 * platform secret and the measurement IT computed for the runner:
 *     sealKey = HKDF-SHA256(ikm = platformSecret, salt = measurement, info = "oracle-runner-seal-v1")
 * and hands only that key to the runner. The runner encrypts its secp256k1 key with AES-256-GCM
 * under it, with the measurement as additional data. A runner of another measurement receives a
 * different sealing key and cannot open the blob; the platform secret itself never reaches the
 * runner. The sealed file holds only the ciphertext, never the key in any encoding.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { fromHex } from "../protocol/bytes";

export const SEAL_INFO = "oracle-runner-seal-v1";
export const SEALED_KEY_FORMAT = "oracle-sealed-key/1";

/** On-disk form of a sealed key (JSON). */
export interface SealedKeyFile {
  format: typeof SEALED_KEY_FORMAT;
  /** Measurement the key was sealed under (0x hex), for a clear error message; also the GCM AAD. */
  measurement: string;
  /** Address of the sealed key, so an operator can tell files apart without unsealing. */
  signer: string;
  iv: string;
  ciphertext: string;
  tag: string;
}

/** Raised when a sealed key cannot be opened: another measurement, another platform, or a damaged file. */
export class UnsealError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsealError";
  }
}

/** The platform's derivation of the sealing key for one measurement. */
export function deriveSealingKey(platformSecret: Uint8Array, measurement: string): Buffer {
  return Buffer.from(hkdfSync("sha256", platformSecret, fromHex(measurement), SEAL_INFO, 32));
}

export function sealKey(sealingKey: Uint8Array, measurement: string, signer: string, privateKey: Uint8Array): SealedKeyFile {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", sealingKey, iv);
  cipher.setAAD(fromHex(measurement));
  const ciphertext = Buffer.concat([cipher.update(privateKey), cipher.final()]);
  return {
    format: SEALED_KEY_FORMAT,
    measurement,
    signer,
    iv: iv.toString("hex"),
    ciphertext: ciphertext.toString("hex"),
    tag: cipher.getAuthTag().toString("hex"),
  };
}

export function unsealKey(sealingKey: Uint8Array, measurement: string, sealed: SealedKeyFile): Buffer {
  if (sealed.format !== SEALED_KEY_FORMAT) throw new UnsealError(`sealed key has format ${String(sealed.format)}, expected ${SEALED_KEY_FORMAT}`);
  if (sealed.measurement.toLowerCase() !== measurement.toLowerCase()) {
    throw new UnsealError(`sealed key belongs to measurement ${sealed.measurement}, this runner is ${measurement}`);
  }
  try {
    const decipher = createDecipheriv("aes-256-gcm", sealingKey, Buffer.from(sealed.iv, "hex"));
    decipher.setAAD(fromHex(measurement));
    decipher.setAuthTag(Buffer.from(sealed.tag, "hex"));
    return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, "hex")), decipher.final()]);
  } catch {
    throw new UnsealError("sealed key does not open under this platform and measurement (authentication failed)");
  }
}
