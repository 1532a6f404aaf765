/**
 * Tensors as the oracle carries them: input in the model's encoding, output always
 * `abi.encode(int256[])`, fixed-point with the model's decimals.
 */
import { formatUnits, parseUnits } from "ethers";
import { InputEncoding } from "../../src/protocol/constants";
import { decodeTensor, encodeTensor } from "../../src/protocol/eip712";
import { encodeInput as encodeProtocolInput, isInputEncoding } from "../../src/protocol/input";
import { InvalidInputError } from "./errors";

export { decodeTensor, encodeTensor };

/**
 * `values` in input encoding `encoding` (protocol/input.ts): 0 → `abi.encode(int256[])`; 1..4 →
 * big-endian two's complement of 1, 2, 4 or 8 bytes each. Throws {@link InvalidInputError} for an
 * unknown encoding or a value the width cannot hold.
 */
export function encodeInput(values: readonly bigint[], encoding: number = InputEncoding.AbiInt256): string {
  if (!isInputEncoding(encoding)) {
    throw new InvalidInputError(`unknown input encoding ${encoding}`, { details: "0 = abi.encode(int256[]), 1..4 = packed int8/16/32/64" });
  }
  try {
    return encodeProtocolInput(values, encoding);
  } catch (cause) {
    throw new InvalidInputError((cause as Error).message, { cause });
  }
}

/** Decimal numbers (e.g. 5.1 or "5.1") to fixed point with `decimals`, rounded half away from zero at the last digit. */
export function toFixedPoint(values: readonly (number | string)[], decimals: number): bigint[] {
  return values.map((v) => {
    const s = typeof v === "number" ? v.toFixed(decimals) : v;
    return parseUnits(s, decimals);
  });
}

export interface DecodedOutput {
  /** The fixed-point integers, as on-chain. */
  raw: bigint[];
  /** The same as decimal strings, exact (`raw / 10^decimals`). */
  formatted: string[];
  /** The same as JS numbers (may round beyond 15 significant digits). */
  values: number[];
  /** `{label, value}` per value, when labels were given. */
  labelled?: { label: string; value: number }[];
  /** The largest value (a classifier's class); absent for an empty output. */
  top?: { index: number; value: number; label?: string };
}

/**
 * Decodes an output (`abi.encode(int256[])` hex, or its values) with the model's decimals and,
 * if given, its labels (from the model's metadata, e.g. models/manifest.json).
 */
export function decodeOutput(output: string | readonly bigint[], opts: { decimals: number; labels?: readonly string[] }): DecodedOutput {
  const raw = typeof output === "string" ? decodeTensor(output) : [...output];
  if (opts.labels && opts.labels.length !== raw.length) {
    throw new InvalidInputError(`${opts.labels.length} labels for ${raw.length} output values`);
  }
  const formatted = raw.map((v) => formatUnits(v, opts.decimals));
  const values = formatted.map(Number);
  let index = 0;
  raw.forEach((v, i) => { if (v > raw[index]) index = i; });
  return {
    raw, formatted, values,
    labelled: opts.labels?.map((label, i) => ({ label, value: values[i] })),
    top: raw.length ? { index, value: values[index], label: opts.labels?.[index] } : undefined,
  };
}
