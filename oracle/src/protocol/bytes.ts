/**
 * Byte-level hot-path primitives shared by the runner, the host and the codec:
 *
 * - a canonical `abi.encode(int256[])` reader and writer that works on the bytes directly
 *   (no AbiCoder, no hex detour), with a fast path for values within ±2^53 that reads them as
 *   JS numbers and a BigInt fallback for everything else;
 * - keccak-256 over bytes: hash-wasm's WASM keccak once {@link initKeccak} has loaded it (≈1.3 µs
 *   for a 192-byte struct against ≈6–7 µs for js-sha3 and more for @noble/hashes, which ethers
 *   uses); js-sha3 before that, so a caller that never awaited the init still gets the right hash;
 * - hex ↔ bytes without ethers' per-character checks (validated once with a regex), and the
 *   32-byte ABI word of an unsigned integer.
 *
 * Canonical `int256[]` means exactly what `abi.encode(int256[])` produces: a head word 0x20,
 * a length word n, then n words, and nothing else. Every 256-bit pattern is a valid int256, so
 * these three checks (offset, length, exact size) are the whole canonicality condition — the
 * same one the previous decode → re-encode → compare-hashes check enforced.
 */
import { createHash } from "crypto";
import { keccak256 as sha3Keccak256 } from "js-sha3";
import { createKeccak, type IHasher } from "hash-wasm";

const TWO32 = 4294967296;
/** 2^53: the fast path covers [-2^53, 2^53 - 1] (hi word in [-2^21, 2^21)). */
const HI_LIMIT = 2097152;
const INT256_MIN = -(1n << 255n);
const INT256_MAX = (1n << 255n) - 1n;
const UINT256 = 1n << 256n;
const HEX_RE = /^0x(?:[0-9a-fA-F]{2})*$/;

/** The WASM keccak-256, once {@link initKeccak} has loaded and checked it. */
let wasmKeccak: IHasher | undefined;
let keccakInit: Promise<boolean> | undefined;

/** Inputs the WASM keccak must hash exactly as js-sha3 before it is used: around the 136-byte rate. */
const SELF_TEST_LENGTHS = [0, 1, 31, 32, 33, 64, 66, 135, 136, 137, 192, 271, 272, 273, 1000];

function selfTest(k: IHasher): boolean {
  for (const len of SELF_TEST_LENGTHS) {
    const data = new Uint8Array(len);
    for (let i = 0; i < len; i++) data[i] = (i * 131 + len * 7 + 1) & 0xff;
    const want = sha3Keccak256.hex(data);
    if (Buffer.from(k.init().update(data).digest("binary")).toString("hex") !== want) return false;
    if (k.init().update(data).digest("hex") !== want) return false;
  }
  return true;
}

/**
 * Loads hash-wasm's keccak-256 (the WASM is inside the package: nothing is fetched), checks it
 * against js-sha3 on a few lengths, and from then on {@link keccak256Bytes} and
 * {@link keccak256Hex} use it. Idempotent; concurrent callers share one load. Resolves true when
 * the WASM hash is in use, false when it could not be loaded or disagreed (js-sha3 stays in use:
 * the answers are the same, only slower). Never rejects.
 */
export function initKeccak(): Promise<boolean> {
  keccakInit ??= createKeccak(256).then(
    (k) => {
      if (!selfTest(k)) return false;
      wasmKeccak = k;
      return true;
    },
    () => false,
  );
  return keccakInit;
}

/** Which keccak-256 implementation {@link keccak256Bytes} uses right now. */
export function keccakBackend(): "hash-wasm" | "js-sha3" {
  return wasmKeccak !== undefined ? "hash-wasm" : "js-sha3";
}

/**
 * keccak-256 of bytes, as 32 raw bytes (a fresh array). Synchronous: the WASM hasher is used
 * start to finish within one call, so callers cannot interleave.
 */
export function keccak256Bytes(data: Uint8Array): Uint8Array {
  const k = wasmKeccak;
  if (k !== undefined) return k.init().update(data).digest("binary");
  return new Uint8Array(sha3Keccak256.arrayBuffer(data));
}

/** keccak-256 of bytes, as 0x-prefixed lower-case hex. */
export function keccak256Hex(data: Uint8Array): string {
  const k = wasmKeccak;
  if (k !== undefined) return "0x" + k.init().update(data).digest("hex");
  return "0x" + sha3Keccak256.hex(data);
}

/** 0x-hex of bytes, lower case. */
export function toHex(data: Uint8Array): string {
  return "0x" + Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("hex");
}

/** Bytes of 0x-prefixed hex with an even number of digits; throws TypeError on anything else. */
export function fromHex(hex: string): Uint8Array {
  if (typeof hex !== "string" || !HEX_RE.test(hex)) throw new TypeError("expected 0x-prefixed hex with an even number of digits");
  const buf = Buffer.from(hex.slice(2), "hex");
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** `value` as one 32-byte big-endian ABI word; throws RangeError outside uint256. */
export function abiWord(value: bigint | number): Uint8Array {
  const v = BigInt(value);
  if (v < 0n || v >= UINT256) throw new RangeError(`uint256 out of range: ${v}`);
  return fromHex("0x" + v.toString(16).padStart(64, "0"));
}

/** Big-endian int32 at `o`. */
function int32At(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}

/**
 * Checks that `bytes` is a canonical `abi.encode(int256[])` and returns its length n.
 * Throws RangeError (offset word not 0x20, length word beyond the data, size not 64 + 32·n).
 */
export function int256ArrayLength(bytes: Uint8Array): number {
  const size = bytes.length;
  if (size < 64 || size % 32 !== 0) throw new RangeError(`not a canonical int256[]: ${size} bytes`);
  // Offset word: 31 zero bytes then 0x20.
  for (let i = 0; i < 31; i++) if (bytes[i] !== 0) throw new RangeError("not a canonical int256[]: offset is not 0x20");
  if (bytes[31] !== 0x20) throw new RangeError("not a canonical int256[]: offset is not 0x20");
  // Length word: must equal (size - 64) / 32, so its top 28 bytes are zero.
  for (let i = 32; i < 60; i++) if (bytes[i] !== 0) throw new RangeError("not a canonical int256[]: length does not match the data");
  const n = int32At(bytes, 60) >>> 0;
  if (64 + 32 * n !== size) throw new RangeError(`not a canonical int256[]: length ${n} but ${(size - 64) / 32} words`);
  return n;
}

/**
 * Element `index` of a canonical int256[] (checked by {@link int256ArrayLength}) as a JS number
 * when it lies in [-2^53, 2^53 - 1]; `undefined` otherwise (read it with {@link readInt256}).
 * The fast path checks that bytes 0..23 of the word are the sign extension of the low 8 bytes.
 */
export function readInt256Number(bytes: Uint8Array, index: number): number | undefined {
  const o = 64 + 32 * index;
  const hi = int32At(bytes, o + 24);
  if (hi < -HI_LIMIT || hi >= HI_LIMIT) return undefined;
  const fill = hi < 0 ? 0xff : 0;
  for (let i = o; i < o + 24; i++) if (bytes[i] !== fill) return undefined;
  return hi * TWO32 + (int32At(bytes, o + 28) >>> 0);
}

/** Element `index` of a canonical int256[] as a bigint (any value). */
export function readInt256(bytes: Uint8Array, index: number): bigint {
  const fast = readInt256Number(bytes, index);
  if (fast !== undefined) return BigInt(fast);
  const o = 64 + 32 * index;
  let v = 0n;
  for (let i = o; i < o + 32; i += 4) v = (v << 32n) | BigInt(int32At(bytes, i) >>> 0);
  return v > INT256_MAX ? v - UINT256 : v;
}

/** All elements of a canonical `abi.encode(int256[])`; throws RangeError on non-canonical bytes. */
export function decodeInt256Array(bytes: Uint8Array): bigint[] {
  const n = int256ArrayLength(bytes);
  const out: bigint[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = readInt256(bytes, i);
  return out;
}

/** A zeroed `abi.encode(int256[])` buffer of n elements with its offset and length words written. */
export function allocInt256Array(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0 || n >= TWO32) throw new RangeError(`bad int256[] length ${n}`);
  const out = new Uint8Array(64 + 32 * n);
  out[31] = 0x20;
  out[60] = n >>> 24;
  out[61] = (n >>> 16) & 0xff;
  out[62] = (n >>> 8) & 0xff;
  out[63] = n & 0xff;
  return out;
}

/**
 * Writes the safe integer v (|v| ≤ 2^53; -0 is written as 0) as element `index` of a buffer from
 * {@link allocInt256Array}, two's complement. The buffer's word must still be zero.
 */
export function writeInt256Number(out: Uint8Array, index: number, v: number): void {
  const o = 64 + 32 * index;
  const hi = Math.floor(v / TWO32); // exact: division by a power of two
  const lo = v - hi * TWO32; // in [0, 2^32)
  if (hi < 0) out.fill(0xff, o, o + 24);
  out[o + 24] = (hi >> 24) & 0xff;
  out[o + 25] = (hi >> 16) & 0xff;
  out[o + 26] = (hi >> 8) & 0xff;
  out[o + 27] = hi & 0xff;
  out[o + 28] = lo >>> 24;
  out[o + 29] = (lo >>> 16) & 0xff;
  out[o + 30] = (lo >>> 8) & 0xff;
  out[o + 31] = lo & 0xff;
}

/** Writes the int256 v as element `index`; throws RangeError beyond int256. */
export function writeInt256(out: Uint8Array, index: number, v: bigint): void {
  if (v >= -9007199254740992n && v <= 9007199254740992n) {
    writeInt256Number(out, index, Number(v));
    return;
  }
  if (v < INT256_MIN || v > INT256_MAX) throw new RangeError(`value out of int256 range: ${v}`);
  let u = v < 0n ? v + UINT256 : v;
  const o = 64 + 32 * index;
  for (let i = o + 28; i >= o; i -= 4) {
    const w = Number(u & 0xffffffffn);
    out[i] = w >>> 24;
    out[i + 1] = (w >>> 16) & 0xff;
    out[i + 2] = (w >>> 8) & 0xff;
    out[i + 3] = w & 0xff;
    u >>= 32n;
  }
}

/** `abi.encode(int256[])` of the values as bytes; numbers must be safe integers. */
export function encodeInt256Array(values: readonly (bigint | number)[]): Uint8Array {
  const out = allocInt256Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === "bigint") writeInt256(out, i, v);
    else if (typeof v === "number" && Number.isSafeInteger(v)) writeInt256Number(out, i, v);
    else throw new RangeError(`int256 value ${i} is not a bigint or a safe integer: ${String(v)}`);
  }
  return out;
}

/** 0x-hex sha256 of bytes: model hashes, evidence hashes. */
export function sha256Hex(bytes: Uint8Array): string {
  return "0x" + createHash("sha256").update(bytes).digest("hex");
}
