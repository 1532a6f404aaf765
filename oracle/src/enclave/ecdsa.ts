/**
 * secp256k1 ECDSA for the hot path: signing in the runner and recovery in the host, with
 * tiny-secp256k1 (libsecp256k1 compiled to WASM, shipped inside the npm package) instead of
 * ethers/noble (measured here ≈4× faster to sign, ≈5–7× faster to recover).
 *
 * The signature is the one ethers and Solidity expect: 65 bytes r ‖ s ‖ v with v = 27 + recovery
 * id, RFC 6979 deterministic nonce (no extra entropy, as ethers' `SigningKey.sign`), low s
 * (libsecp256k1 normalises it; {@link signDigest} checks it anyway). Equal byte for byte to
 * `SigningKey.sign(digest).serialized` (test/oracle/enclave/ecdsa.test.ts).
 *
 * This file is imported by the runner, so it is part of the measurement; tiny-secp256k1 enters the
 * runtime identifiers by name and version.
 */
import { recover, signRecoverable } from "tiny-secp256k1";
import { keccak256Bytes } from "../protocol/bytes";

/** secp256k1 group order / 2: a signature's s must not exceed it (EIP-2, OpenZeppelin ECDSA). */
const HALF_ORDER = Uint8Array.from(Buffer.from("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0", "hex"));

/** True when the 32 bytes at `offset` (big-endian) are ≤ n/2. */
export function isLowS(sig: Uint8Array, offset = 32): boolean {
  for (let i = 0; i < 32; i++) {
    const a = sig[offset + i];
    const b = HALF_ORDER[i];
    if (a !== b) return a < b;
  }
  return true;
}

/**
 * Signs a 32-byte digest with a 32-byte private key: 65 bytes r ‖ s ‖ v (v = 27 or 28).
 * Returns undefined in the cases ethers would encode differently — a recovery id of 2 or 3
 * (r ≥ n, probability ≈ 2^-127) or, should the library ever return one, a high s — so the caller
 * can fall back to ethers. Throws (tiny-secp256k1's TypeError) on a bad digest or key.
 */
export function signDigest(digest: Uint8Array, privateKey: Uint8Array): Uint8Array | undefined {
  const { signature, recoveryId } = signRecoverable(digest, privateKey);
  if (recoveryId > 1 || signature.length !== 64 || !isLowS(signature)) return undefined;
  const out = new Uint8Array(65);
  out.set(signature, 0);
  out[64] = 27 + recoveryId;
  return out;
}

/** The 20-byte address of a 65-byte uncompressed public key (0x04 ‖ X ‖ Y). */
export function publicKeyToAddress(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== 65 || publicKey[0] !== 0x04) throw new RangeError("expected a 65-byte uncompressed public key");
  return keccak256Bytes(publicKey.subarray(1)).subarray(12);
}

/**
 * The 20-byte address that signed `digest`, from a 65-byte r ‖ s ‖ v signature, or undefined when
 * the signature is not one the chain accepts: v not 27/28, s above n/2, r or s zero or out of
 * range, r not an x coordinate, no key recovers. (Stricter than ethers' `recoverAddress`, which
 * also takes v = 0/1 and a high s; OpenZeppelin's ECDSA — and so `fulfil` — refuses both.)
 */
export function recoverSigner(digest: Uint8Array, signature: Uint8Array): Uint8Array | undefined {
  if (digest.length !== 32 || signature.length !== 65) return undefined;
  const v = signature[64];
  if ((v !== 27 && v !== 28) || !isLowS(signature)) return undefined;
  let publicKey: Uint8Array | null;
  try {
    publicKey = recover(digest, signature.subarray(0, 64), (v - 27) as 0 | 1, false);
  } catch {
    return undefined; // r or s zero or ≥ n, r not on the curve
  }
  return publicKey ? publicKeyToAddress(publicKey) : undefined;
}
