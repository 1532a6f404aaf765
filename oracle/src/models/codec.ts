import { ResultStatus } from "../protocol/constants";
import { allocInt256Array, fromHex, readInt256, readInt256Number, toHex, writeInt256, writeInt256Number } from "../protocol/bytes";
import { InputEncoding } from "../protocol/constants";
import { checkInputLength, encodeInput as encodeInputValues, packedNumber } from "../protocol/input";
import { InputEncodingError, OutputShapeError } from "./errors";
import { FLOAT32, FLOAT64, compareFixedToNumber, pow10, rationalToBinary, scaleToFixed } from "./fixed-point";
import { type CodecSpec, type TensorType, specInputEncoding } from "./spec";

/** The data of one tensor, typed as ONNX Runtime takes and returns it. */
export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array;

/** Result of {@link decodeInput}: the tensor data, or the status to sign when the input is refused. */
export type DecodedInput =
  | { status: ResultStatus.Ok; data: TensorData }
  | { status: ResultStatus.InputOutOfRange; index: number; reason: string };

/** Result of {@link encodeOutput}: what the runner signs. `output` is `0x` unless status is Ok. */
export interface EncodedOutput {
  status: ResultStatus;
  output: string;
}

type Spec = CodecSpec;

const INT_RANGE: Record<"int32" | "int64", [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
};
const INT256_MIN = -(2n ** 255n);
const INT256_MAX = 2n ** 255n - 1n;

function boundAt(bound: number | number[] | undefined, i: number): number | undefined {
  return Array.isArray(bound) ? bound[i] : bound;
}

/** A zeroed tensor of the type. */
export function allocateTensor(type: TensorType, length: number): TensorData {
  switch (type) {
    case "float32":
      return new Float32Array(length);
    case "float64":
      return new Float64Array(length);
    case "int32":
      return new Int32Array(length);
    case "int64":
      return new BigInt64Array(length);
  }
}

/**
 * Checks that `bytes` is an input of exactly the model's length in the model's encoding
 * (spec.input.encoding); throws {@link InputEncodingError} otherwise.
 */
export function checkInput(bytes: Uint8Array, entry: Spec): void {
  try {
    checkInputLength(bytes, specInputEncoding(entry), entry.input.length);
  } catch (cause) {
    throw new InputEncodingError(`input is not ${entry.input.length} values in the model's encoding ${entry.input.encoding}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Decodes a request input — `abi.encode(int256[])` or packed integers, as the model's spec says,
 * with the model's decimals — into the model's input tensor. Float tensors receive the element of their type nearest to v / 10^decimals (ties
 * to even, computed exactly); integer tensors receive v as it is.
 *
 * A value outside the manifest's [min, max] or beyond what the tensor type holds is a result,
 * not an error: the runner signs `InputOutOfRange` for it. Bytes that are not a canonical
 * encoding of `input.length` values throw {@link InputEncodingError} (the oracle contract
 * rejects those at request time, so reaching here means a caller bug).
 */
export function decodeInput(input: string | Uint8Array, entry: Spec): DecodedInput {
  let bytes: Uint8Array;
  try {
    bytes = typeof input === "string" ? fromHex(input) : input;
  } catch (cause) {
    throw new InputEncodingError("input is not 0x hex", { cause });
  }
  checkInput(bytes, entry);
  const data = allocateTensor(entry.input.type, entry.input.length);
  const refused = decodeInto(bytes, entry, data, 0);
  return refused ?? { status: ResultStatus.Ok, data };
}

/** The float32 midpoint test below reads the low word of a double. */
const f64 = new Float64Array(1);
const f64Low = new Uint32Array(f64.buffer, 0, 1);
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error("codec: a little-endian platform is assumed");

/** 10^k as an exact double for k ≤ 22. */
const POW10_NUMBER = Array.from({ length: 23 }, (_, k) => Number(10n ** BigInt(k)));

function packedBig(view: DataView, encoding: InputEncoding, i: number): bigint {
  return encoding === InputEncoding.PackedInt64 ? view.getBigInt64(8 * i, false) : BigInt(packedNumber(view, encoding, i)!);
}

/**
 * Decodes the values of an input `bytes` (length and encoding already checked) into
 * `data[at .. at + n)`: the work of {@link decodeInput}, reusable for stacked batches.
 * Returns the refusal, or undefined when every value was accepted.
 *
 * Fast path, exact: a value v with |v| ≤ 2^53 and decimals ≤ 22 gives x = v / 10^d as one
 * correctly rounded double division (both operands exact). Bounds: rounding is monotonic and
 * the bound b is a double, so x < b implies v/10^d < b and x > b implies v/10^d > b; x = b is
 * decided exactly with BigInt. float32: fround(x) is the float32 nearest to v/10^d unless the
 * double x is itself a float32 midpoint (the only case where rounding twice can differ from
 * rounding once); a midpoint goes to the exact BigInt conversion. |v/10^d| lies in
 * [10^-22, 2^53], inside float32's normal range, so neither overflow nor subnormals occur.
 */
export function decodeInto(bytes: Uint8Array, entry: Spec, data: TensorData, at: number): Extract<DecodedInput, { status: ResultStatus.InputOutOfRange }> | undefined {
  const { type, min, max } = entry.input;
  const n = entry.input.length;
  const decimals = entry.decimals;
  const integer = type === "int32" || type === "int64";
  const fastScale = integer ? (decimals === 0 ? 1 : 0) : decimals <= 22 ? POW10_NUMBER[decimals] : 0;
  const encoding = specInputEncoding(entry);
  const abi = encoding === InputEncoding.AbiInt256;
  const view = abi ? undefined : new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) {
    const lo = boundAt(min, i);
    const hi = boundAt(max, i);
    const num = fastScale === 0 ? undefined : abi ? readInt256Number(bytes, i) : packedNumber(view!, encoding, i);
    if (num !== undefined) {
      const x = fastScale === 1 ? num : num / fastScale;
      if (lo !== undefined && (x < lo || (x === lo && compareFixedToNumber(BigInt(num), decimals, lo) < 0))) {
        return { status: ResultStatus.InputOutOfRange, index: i, reason: `input[${i}] is below the model's minimum ${lo}` };
      }
      if (hi !== undefined && (x > hi || (x === hi && compareFixedToNumber(BigInt(num), decimals, hi) > 0))) {
        return { status: ResultStatus.InputOutOfRange, index: i, reason: `input[${i}] is above the model's maximum ${hi}` };
      }
      if (type === "int64") {
        (data as BigInt64Array)[at + i] = BigInt(num);
      } else if (type === "int32") {
        if (num < -2147483648 || num > 2147483647) return { status: ResultStatus.InputOutOfRange, index: i, reason: `input[${i}] does not fit ${type}` };
        (data as Int32Array)[at + i] = num;
      } else if (type === "float64") {
        (data as Float64Array)[at + i] = x;
      } else {
        const f = Math.fround(x);
        if (f !== x) {
          f64[0] = x;
          if ((f64Low[0] & 0x1fffffff) === 0x10000000) {
            (data as Float32Array)[at + i] = rationalToBinary(BigInt(num), pow10(decimals), FLOAT32);
            continue;
          }
        }
        (data as Float32Array)[at + i] = f;
      }
      continue;
    }
    // Exact BigInt path: values beyond ±2^53, more than 22 decimals, integers with decimals.
    const v = abi ? readInt256(bytes, i) : packedBig(view!, encoding, i);
    if (lo !== undefined && compareFixedToNumber(v, decimals, lo) < 0) {
      return { status: ResultStatus.InputOutOfRange, index: i, reason: `input[${i}] is below the model's minimum ${lo}` };
    }
    if (hi !== undefined && compareFixedToNumber(v, decimals, hi) > 0) {
      return { status: ResultStatus.InputOutOfRange, index: i, reason: `input[${i}] is above the model's maximum ${hi}` };
    }
    if (integer) {
      const [tmin, tmax] = INT_RANGE[type];
      if (v < tmin || v > tmax) return { status: ResultStatus.InputOutOfRange, index: i, reason: `input[${i}] does not fit ${type}` };
      if (type === "int64") (data as BigInt64Array)[at + i] = v;
      else (data as Int32Array)[at + i] = Number(v);
    } else {
      const x = rationalToBinary(v, pow10(decimals), type === "float32" ? FLOAT32 : FLOAT64);
      if (!Number.isFinite(x)) return { status: ResultStatus.InputOutOfRange, index: i, reason: `input[${i}] does not fit ${type}` };
      (data as Float32Array | Float64Array)[at + i] = x;
    }
  }
  return undefined;
}

/** A failed result: the status with an empty output. */
export function failure(status: ResultStatus): EncodedOutput {
  return { status, output: "0x" };
}

/**
 * Encodes a model output as `abi.encode(int256[])`: for float tensors each element is
 * round-half-to-even(value · 10^decimals), computed exactly from the value's bits; integer
 * tensors are taken as they are. NaN, an infinity, or a value beyond int256 gives
 * `OutputNotRepresentable` with output `0x`.
 */
export function encodeOutput(data: TensorData | readonly number[], entry: Spec): EncodedOutput {
  if (data.length !== entry.output.length) {
    throw new OutputShapeError(`model output has ${data.length} values, the manifest says ${entry.output.length}`);
  }
  const encoded = encodeOutputBytes(data, 0, entry);
  return { status: encoded.status, output: encoded.status === ResultStatus.Ok ? toHex(encoded.output) : "0x" };
}

/** {@link encodeOutput} as bytes: `output` is empty unless status is Ok. */
export interface EncodedOutputBytes {
  status: ResultStatus;
  output: Uint8Array;
}

const EMPTY = new Uint8Array(0);
const TWO52 = 4503599627370496;
const TWO53 = 9007199254740992;

/**
 * Encodes `entry.output.length` values of `data` starting at `at` (one row of a stacked output)
 * as `abi.encode(int256[])` bytes, with the semantics of {@link encodeOutput}.
 *
 * Fast path, exact: for a float32 value x and decimals ≤ 12, x · 10^d is exact in a double
 * (24-bit significand × 5^d < 2^28 fits 53 bits; × 2^d is exact), so round-half-to-even of that
 * double is the exact answer; below 2^52 the fraction y − floor(y) is exact too, and at or above
 * 2^52 the double is already an integer. Other values use the BigInt conversion.
 */
export function encodeOutputBytes(data: TensorData | readonly number[], at: number, entry: Spec): EncodedOutputBytes {
  const n = entry.output.length;
  if (at < 0 || at + n > data.length) throw new OutputShapeError(`model output has ${data.length - at} values, the manifest says ${n}`);
  const integer = entry.output.type === "int32" || entry.output.type === "int64";
  const decimals = entry.decimals;
  const scale = !integer && decimals <= 12 ? POW10_NUMBER[decimals] : 0;
  const out = allocInt256Array(n);
  for (let i = 0; i < n; i++) {
    const x = data[at + i];
    if (typeof x === "bigint") {
      if (x < INT256_MIN || x > INT256_MAX) return { status: ResultStatus.OutputNotRepresentable, output: EMPTY };
      writeInt256(out, i, x);
      continue;
    }
    if (!Number.isFinite(x)) return { status: ResultStatus.OutputNotRepresentable, output: EMPTY };
    if (integer) {
      if (!Number.isInteger(x)) throw new OutputShapeError(`integer output element ${i} is not an integer: ${x}`);
      if (x >= -TWO53 && x <= TWO53) writeInt256Number(out, i, x);
      else {
        const v = BigInt(x);
        if (v < INT256_MIN || v > INT256_MAX) return { status: ResultStatus.OutputNotRepresentable, output: EMPTY };
        writeInt256(out, i, v);
      }
      continue;
    }
    if (scale !== 0 && Math.fround(x) === x) {
      const y = x * scale;
      if (y > -TWO52 && y < TWO52) {
        const f = Math.floor(y);
        const frac = y - f;
        writeInt256Number(out, i, frac > 0.5 || (frac === 0.5 && f % 2 !== 0) ? f + 1 : f);
        continue;
      }
      if (y >= -TWO53 && y <= TWO53) {
        writeInt256Number(out, i, y);
        continue;
      }
    }
    const v = scaleToFixed(x, decimals);
    if (v < INT256_MIN || v > INT256_MAX) return { status: ResultStatus.OutputNotRepresentable, output: EMPTY };
    writeInt256(out, i, v);
  }
  return { status: ResultStatus.Ok, output: out };
}

/**
 * Fixed-point encoding of real input values (the inverse view of {@link decodeInput}) for
 * callers that hold real numbers, e.g. a dApp's off-chain helper or the build's evaluation:
 * each value is scaled by 10^decimals and rounded half to even, exactly; integers as they are;
 * then written in the model's input encoding (0x hex). Throws RangeError for a value the
 * encoding cannot carry.
 */
export function encodeInput(values: readonly (number | bigint)[], entry: Spec): string {
  const integer = entry.input.type === "int32" || entry.input.type === "int64";
  return encodeInputValues(
    values.map((x, i) => {
      if (typeof x === "bigint") return x;
      if (!Number.isFinite(x)) throw new RangeError(`input value ${i} is not finite: ${x}`);
      if (integer && !Number.isInteger(x)) throw new RangeError(`input value ${i} of an integer model is not an integer: ${x}`);
      return integer ? BigInt(x) : scaleToFixed(x, entry.decimals);
    }),
    specInputEncoding(entry),
  );
}
