import { ResultStatus, decodeTensor, encodeTensor } from "../protocol";
import { InputEncodingError, OutputShapeError } from "./errors";
import { FLOAT32, FLOAT64, compareFixedToNumber, pow10, rationalToBinary, scaleToFixed } from "./fixed-point";
import type { ModelManifestEntry, TensorType } from "./manifest";

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

type Spec = Pick<ModelManifestEntry, "input" | "output" | "decimals">;

const INT_RANGE: Record<"int32" | "int64", [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
};
const INT256_MIN = -(2n ** 255n);
const INT256_MAX = 2n ** 255n - 1n;

function boundAt(bound: number | number[] | undefined, i: number): number | undefined {
  return Array.isArray(bound) ? bound[i] : bound;
}

function allocate(type: TensorType, length: number): TensorData {
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
 * Decodes a request input, `abi.encode(int256[])` with the model's decimals, into the model's
 * input tensor. Float tensors receive the element of their type nearest to v / 10^decimals (ties
 * to even, computed exactly); integer tensors receive v as it is.
 *
 * A value outside the manifest's [min, max] or beyond what the tensor type holds is a result,
 * not an error: the runner signs `InputOutOfRange` for it. Bytes that are not a canonical
 * encoding of `input.length` values throw {@link InputEncodingError} (the oracle contract
 * rejects those at request time, so reaching here means a caller bug).
 */
export function decodeInput(input: string | Uint8Array, entry: Spec): DecodedInput {
  let values: bigint[];
  try {
    values = decodeTensor(input);
  } catch (cause) {
    throw new InputEncodingError("input is not a canonical abi.encode(int256[])", { cause });
  }
  if (values.length !== entry.input.length) {
    throw new InputEncodingError(`input has ${values.length} values, the model takes ${entry.input.length}`);
  }
  const { type, min, max } = entry.input;
  const data = allocate(type, values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const lo = boundAt(min, i);
    const hi = boundAt(max, i);
    if (lo !== undefined && compareFixedToNumber(v, entry.decimals, lo) < 0) {
      return { status: ResultStatus.InputOutOfRange, index: i, reason: `input[${i}] is below the model's minimum ${lo}` };
    }
    if (hi !== undefined && compareFixedToNumber(v, entry.decimals, hi) > 0) {
      return { status: ResultStatus.InputOutOfRange, index: i, reason: `input[${i}] is above the model's maximum ${hi}` };
    }
    if (type === "int32" || type === "int64") {
      const [tmin, tmax] = INT_RANGE[type];
      if (v < tmin || v > tmax) return { status: ResultStatus.InputOutOfRange, index: i, reason: `input[${i}] does not fit ${type}` };
      if (data instanceof BigInt64Array) data[i] = v;
      else (data as Int32Array)[i] = Number(v);
    } else {
      const x = rationalToBinary(v, pow10(entry.decimals), type === "float32" ? FLOAT32 : FLOAT64);
      if (!Number.isFinite(x)) return { status: ResultStatus.InputOutOfRange, index: i, reason: `input[${i}] does not fit ${type}` };
      (data as Float32Array | Float64Array)[i] = x;
    }
  }
  return { status: ResultStatus.Ok, data };
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
  const integer = entry.output.type === "int32" || entry.output.type === "int64";
  const out: bigint[] = new Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    let v: bigint;
    if (typeof x === "bigint") {
      v = x;
    } else if (!Number.isFinite(x)) {
      return failure(ResultStatus.OutputNotRepresentable);
    } else if (integer) {
      if (!Number.isInteger(x)) throw new OutputShapeError(`integer output element ${i} is not an integer: ${x}`);
      v = BigInt(x);
    } else {
      v = scaleToFixed(x, entry.decimals);
    }
    if (v < INT256_MIN || v > INT256_MAX) return failure(ResultStatus.OutputNotRepresentable);
    out[i] = v;
  }
  return { status: ResultStatus.Ok, output: encodeTensor(out) };
}

/**
 * Fixed-point encoding of real input values (the inverse view of {@link decodeInput}) for
 * callers that hold real numbers, e.g. a dApp's off-chain helper or the build's evaluation:
 * each value is scaled by 10^decimals and rounded half to even, exactly; integers as they are.
 */
export function encodeInput(values: readonly (number | bigint)[], entry: Spec): string {
  const integer = entry.input.type === "int32" || entry.input.type === "int64";
  return encodeTensor(
    values.map((x, i) => {
      if (typeof x === "bigint") return x;
      if (!Number.isFinite(x)) throw new RangeError(`input value ${i} is not finite: ${x}`);
      if (integer && !Number.isInteger(x)) throw new RangeError(`input value ${i} of an integer model is not an integer: ${x}`);
      return integer ? BigInt(x) : scaleToFixed(x, entry.decimals);
    }),
  );
}
