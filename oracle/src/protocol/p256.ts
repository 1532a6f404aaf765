/**
 * P-256 keys and signatures in the form the contracts verify with OpenZeppelin `P256`:
 * public key as (x, y) 32-byte words, signature as (r, s) with s in the lower half of the order.
 */
import { p256 } from "@noble/curves/p256";
import { hexlify, getBytes } from "ethers";
import type { P256Signature } from "./report";

export interface P256PublicKey {
  x: string;
  y: string;
}

/** Public key of a 32-byte P-256 private key, as (x, y) words. */
export function p256PublicKey(privateKey: Uint8Array): P256PublicKey {
  const point = p256.getPublicKey(privateKey, false); // 0x04 || x || y
  return { x: hexlify(point.slice(1, 33)), y: hexlify(point.slice(33, 65)) };
}

/** Signs a 32-byte digest (already hashed) with low-s, as `P256.verify` requires. */
export function p256SignDigest(privateKey: Uint8Array, digest: string): P256Signature {
  const sig = p256.sign(getBytes(digest), privateKey, { lowS: true, prehash: false });
  return { r: toWord(sig.r), s: toWord(sig.s) };
}

/** Verifies a low-s P-256 signature over a 32-byte digest. */
export function p256VerifyDigest(pub: P256PublicKey, digest: string, sig: P256Signature): boolean {
  const point = getBytes("0x04" + pub.x.slice(2) + pub.y.slice(2));
  const compact = getBytes(sig.r + sig.s.slice(2));
  return p256.verify(compact, getBytes(digest), point, { lowS: true, prehash: false });
}

function toWord(v: bigint): string {
  return "0x" + v.toString(16).padStart(64, "0");
}
