/**
 * Request inputs in a model's `InputEncoding`: `abi.encode(int256[])` (encoding 0, see
 * `encodeTensor`) or packed big-endian two's complement integers of 1, 2, 4 or 8 bytes
 * (encodings 1..4), exactly `inputLength · width` bytes. The contracts check only the length
 * (`TensorCodec.isWellFormedInput`): every byte string of that length is a valid packed tensor.
 * test/contracts/protocol.test.ts fuzzes this module against the Solidity check.
 */
import { decodeTensor, encodeTensor } from "./eip712";
import { InputEncoding } from "./constants";
import { fromHex, int256ArrayLength, toHex } from "./bytes";

/** Bytes per value of a packed encoding (1, 2, 4, 8); throws for `AbiInt256` or an unknown encoding. */
export function packedWidth(encoding: InputEncoding): number {
  if (!Number.isInteger(encoding) || encoding < InputEncoding.PackedInt8 || encoding > InputEncoding.PackedInt64) {
    throw new RangeError(`input encoding ${encoding} is not a packed encoding (1..4)`);
  }
  return 1 << (encoding - 1);
}

/** Whether `encoding` is an `InputEncoding` value (0..4). */
export function isInputEncoding(encoding: number): encoding is InputEncoding {
  return Number.isInteger(encoding) && encoding >= InputEncoding.AbiInt256 && encoding <= InputEncoding.PackedInt64;
}

/** The byte length of an input of `length` values in `encoding`, as the oracle requires it. */
export function inputByteLength(length: number, encoding: InputEncoding): number {
  return encoding === InputEncoding.AbiInt256 ? 64 + 32 * length : length * packedWidth(encoding);
}

/**
 * Packs `values` as big-endian two's complement integers of the encoding's width; throws
 * RangeError naming the first value that does not fit (e.g. 128 in int8).
 */
export function encodePacked(values: readonly (bigint | number)[], encoding: InputEncoding): string {
  const width = packedWidth(encoding);
  const bits = BigInt(8 * width);
  const min = -(1n << (bits - 1n));
  const max = (1n << (bits - 1n)) - 1n;
  const out = new Uint8Array(values.length * width);
  values.forEach((raw, i) => {
    const v = BigInt(raw);
    if (v < min || v > max) throw new RangeError(`value ${i} (${v}) does not fit in int${8 * width}: allowed ${min}..${max}`);
    let u = BigInt.asUintN(Number(bits), v);
    for (let b = width - 1; b >= 0; b--) {
      out[i * width + b] = Number(u & 0xffn);
      u >>= 8n;
    }
  });
  return toHex(out);
}

/** Inverse of {@link encodePacked}; throws unless the length is a whole number of values. */
export function decodePacked(data: string | Uint8Array, encoding: InputEncoding): bigint[] {
  const bytes = typeof data === "string" ? fromHex(data) : data;
  const width = packedWidth(encoding);
  if (bytes.length % width !== 0) throw new RangeError(`packed input of ${bytes.length} bytes is not a whole number of ${width}-byte values`);
  const values: bigint[] = [];
  for (let i = 0; i < bytes.length; i += width) {
    let u = 0n;
    for (let b = 0; b < width; b++) u = (u << 8n) | BigInt(bytes[i + b]);
    values.push(BigInt.asIntN(8 * width, u));
  }
  return values;
}

/** Encodes input values in a model's input encoding (0x hex), as `requestInference` takes them. */
export function encodeInput(values: readonly (bigint | number)[], encoding: InputEncoding): string {
  if (encoding === InputEncoding.AbiInt256) return encodeTensor(values.map((v) => BigInt(v)));
  return encodePacked(values, encoding);
}

/**
 * Decodes a request input of `length` values in `encoding`; throws unless it is exactly what the
 * oracle accepts for that model (so a node never computes on an input the chain would refuse).
 */
export function decodeInput(data: string | Uint8Array, length: number, encoding: InputEncoding): bigint[] {
  if (!isInputEncoding(encoding)) throw new RangeError(`unknown input encoding ${encoding}`);
  const bytes = typeof data === "string" ? fromHex(data) : data;
  const expected = inputByteLength(length, encoding);
  if (bytes.length !== expected) throw new RangeError(`input is ${bytes.length} bytes; ${length} values in encoding ${encoding} take ${expected}`);
  const values = encoding === InputEncoding.AbiInt256 ? decodeTensor(bytes) : decodePacked(bytes, encoding);
  if (values.length !== length) throw new RangeError(`input has ${values.length} values, the model takes ${length}`);
  return values;
}

/** Names of the encodings in a model file's spec (`input.encoding`) and on the command line, by enum value. */
export const INPUT_ENCODING_NAMES = ["abi-int256", "packed-int8", "packed-int16", "packed-int32", "packed-int64"] as const;
export type InputEncodingName = (typeof INPUT_ENCODING_NAMES)[number];
/** Names of the determinism classes in a model file's spec, by `Determinism` value. */
export const DETERMINISM_NAMES = ["float", "bit-exact"] as const;
export type DeterminismName = (typeof DETERMINISM_NAMES)[number];

/** The enum value of an encoding name. */
export function inputEncodingByName(name: string): InputEncoding {
  const i = INPUT_ENCODING_NAMES.indexOf(name as InputEncodingName);
  if (i < 0) throw new RangeError(`unknown input encoding "${name}": use one of ${INPUT_ENCODING_NAMES.join(", ")}`);
  return i as InputEncoding;
}

/** The least and greatest value an encoding carries (int256 for the ABI form). */
export function encodingRange(encoding: InputEncoding): [bigint, bigint] {
  const bits = BigInt(encoding === InputEncoding.AbiInt256 ? 256 : 8 * packedWidth(encoding));
  return [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n];
}

/** Throws RangeError unless `bytes` is an input of exactly `length` values in the encoding (no decoding). */
export function checkInputLength(bytes: Uint8Array, encoding: InputEncoding, length: number): void {
  if (encoding === InputEncoding.AbiInt256) {
    const n = int256ArrayLength(bytes);
    if (n !== length) throw new RangeError(`input has ${n} values, the model takes ${length}`);
    return;
  }
  const expected = inputByteLength(length, encoding);
  if (bytes.length !== expected) throw new RangeError(`input is ${bytes.length} bytes, the model takes ${length} ${INPUT_ENCODING_NAMES[encoding]} values = ${expected} bytes`);
}

/**
 * Value i of a packed input (length already checked) as a JS number; undefined only for an int64
 * beyond ±2^53. The runner's codec reads inputs with this, one DataView per input.
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
