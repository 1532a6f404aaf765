/**
 * Request input encodings and determinism classes of a model (ModelRegistry v2 `ModelSpec`).
 *
 * Output is always `abi.encode(int256[])`. Input is what the model declares:
 *   0  abi.encode(int256[])                        64 + 32·n bytes
 *   1..4  packed big-endian two's complement int8, int16, int32, int64: exactly n·width bytes
 * A packed input costs 1 to 8 bytes per value instead of 32 (a 784-pixel image: 784 bytes
 * as int8 instead of 25 KB), in calldata and again in the request event.
 */
import { allocInt256Array, int256ArrayLength, readInt256, writeInt256 } from "./bytes";

/** `ModelSpec.inputEncoding` values. */
export enum InputEncoding {
  AbiInt256 = 0,
  PackedInt8 = 1,
  PackedInt16 = 2,
  PackedInt32 = 3,
  PackedInt64 = 4,
}

/** `ModelSpec.determinism` values. */
export enum Determinism {
  /** Float arithmetic: the same bits only within one runtime build on one CPU family. */
  Float = 0,
  /** Integer-only graph: the same bits on any CPU and build. */
  BitExact = 1,
}

/** Names used in a model file's spec (metadata) and on the command line, by enum value. */
export const INPUT_ENCODING_NAMES = ["abi-int256", "packed-int8", "packed-int16", "packed-int32", "packed-int64"] as const;
export type InputEncodingName = (typeof INPUT_ENCODING_NAMES)[number];
export const DETERMINISM_NAMES = ["float", "bit-exact"] as const;
export type DeterminismName = (typeof DETERMINISM_NAMES)[number];

const WIDTH = [32, 1, 2, 4, 8];

/** Bytes per value of a packed encoding (32 for the ABI form, whose 64-byte head comes on top). */
export function encodingWidth(encoding: InputEncoding): number {
  const w = WIDTH[encoding];
  if (w === undefined) throw new RangeError(`unknown input encoding ${encoding} (0 = abi int256[], 1..4 = packed int8/16/32/64)`);
  return w;
}

/** Exact byte length of an input of `length` values. */
export function inputByteLength(encoding: InputEncoding, length: number): number {
  return encoding === InputEncoding.AbiInt256 ? 64 + 32 * length : length * encodingWidth(encoding);
}

/** The least and greatest value an encoding carries. */
export function encodingRange(encoding: InputEncoding): [bigint, bigint] {
  const bits = BigInt(8 * encodingWidth(encoding));
  return [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n];
}

/**
 * Value i of a packed input (length already checked) as a JS number; undefined only for an int64
 * beyond ±2^53 (read it with {@link readPacked}). The codec's hot path calls this with one view.
 */
export function packedNumber(view: DataView, encoding: InputEncoding, i: number): number | undefined {
  switch (encoding) {
    case InputEncoding.PackedInt8:
      return view.getInt8(i);
    case InputEncoding.PackedInt16:
      return view.getInt16(2 * i, false);
    case InputEncoding.PackedInt32:
      return view.getInt32(4 * i, false);
    case InputEncoding.PackedInt64: {
      const v = view.getBigInt64(8 * i, false);
      return v >= -9007199254740992n && v <= 9007199254740992n ? Number(v) : undefined;
    }
    default:
      throw new RangeError(`not a packed encoding: ${encoding}`);
  }
}

/** Value `index` of a packed input (length already checked), as a number when safe, else a bigint. */
export function readPacked(bytes: Uint8Array, encoding: InputEncoding, index: number): number | bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return packedNumber(view, encoding, index) ?? view.getBigInt64(8 * index, false);
}

/** Encodes integer values in the encoding; throws RangeError for a value the encoding cannot carry. */
export function encodeInputValues(values: readonly (bigint | number)[], encoding: InputEncoding): Uint8Array {
  const [lo, hi] = encodingRange(encoding);
  const big = values.map((v, i) => {
    if (typeof v === "number" && !Number.isSafeInteger(v)) throw new RangeError(`input value ${i} is not a safe integer: ${v}`);
    const b = BigInt(v);
    if (b < lo || b > hi) throw new RangeError(`input value ${i} (${b}) does not fit ${INPUT_ENCODING_NAMES[encoding]} [${lo}, ${hi}]`);
    return b;
  });
  if (encoding === InputEncoding.AbiInt256) {
    const out = allocInt256Array(big.length);
    big.forEach((v, i) => writeInt256(out, i, v));
    return out;
  }
  const width = encodingWidth(encoding);
  const out = new Uint8Array(big.length * width);
  const view = new DataView(out.buffer);
  big.forEach((v, i) => {
    if (width === 1) view.setInt8(i, Number(v));
    else if (width === 2) view.setInt16(2 * i, Number(v), false);
    else if (width === 4) view.setInt32(4 * i, Number(v), false);
    else view.setBigInt64(8 * i, v, false);
  });
  return out;
}

/**
 * Decodes an input of exactly `length` values; throws RangeError when the bytes are not exactly
 * that (wrong size, or a non-canonical ABI array).
 */
export function decodeInputValues(bytes: Uint8Array, encoding: InputEncoding, length: number): bigint[] {
  checkInputLength(bytes, encoding, length);
  const out: bigint[] = new Array(length);
  for (let i = 0; i < length; i++) out[i] = encoding === InputEncoding.AbiInt256 ? readInt256(bytes, i) : BigInt(readPacked(bytes, encoding, i));
  return out;
}

/** Throws RangeError unless `bytes` is an input of exactly `length` values in the encoding. */
export function checkInputLength(bytes: Uint8Array, encoding: InputEncoding, length: number): void {
  if (encoding === InputEncoding.AbiInt256) {
    const n = int256ArrayLength(bytes);
    if (n !== length) throw new RangeError(`input has ${n} values, the model takes ${length}`);
    return;
  }
  const expected = inputByteLength(encoding, length);
  if (bytes.length !== expected) {
    throw new RangeError(`input is ${bytes.length} bytes, the model takes ${length} ${INPUT_ENCODING_NAMES[encoding]} values = ${expected} bytes`);
  }
}

/** The enum value of an encoding name (as in a model's spec). */
export function inputEncodingByName(name: string): InputEncoding {
  const i = INPUT_ENCODING_NAMES.indexOf(name as InputEncodingName);
  if (i < 0) throw new RangeError(`unknown input encoding "${name}": use one of ${INPUT_ENCODING_NAMES.join(", ")}`);
  return i as InputEncoding;
}
