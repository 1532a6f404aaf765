/**
 * Tensors as people read them: `abi.encode(int256[])` fixed point turned into decimal values
 * (value = v / 10^decimals, exact) with the model's feature names and output labels.
 * The names come from the model file's spec, which anyone who publishes a model writes: they are
 * data to show, never markup (the console renders them as text, the audit page escapes them).
 */
import { formatUnits } from "ethers";
import type { ModelManifestEntry } from "./manifest";
import { specInputEncoding } from "./spec";
import { InputEncoding } from "../protocol/constants";
import { decodeTensor } from "../protocol/eip712";
import { decodeInput } from "../protocol/input";

/** What the console and the audit page need to know of a model to show its values. */
export interface ModelView {
  name: string;
  decimals: number;
  /** One name per input element, if the model gives them. */
  features?: string[];
  /** One label per output element, if the model gives them. */
  labels?: string[];
  /** Values in an input, and how a request encodes them (default abi.encode(int256[])). */
  inputLength: number;
  inputEncoding?: InputEncoding;
}

export interface TensorValue {
  name: string;
  value: string;
}

export interface TensorView {
  values: TensorValue[];
  /** For a classifier (labels, more than one output): the label of the largest value. */
  top?: string;
}

/** The model spec fields the views read. */
export function modelView(entry: ModelManifestEntry): ModelView {
  return {
    name: entry.name, decimals: entry.decimals, features: entry.input.features, labels: entry.output.labels, inputLength: entry.input.length,
    inputEncoding: specInputEncoding(entry),
  };
}

/** A decimal string of a fixed-point integer: exact, no trailing zeros beyond one decimal. */
export function fixedToDecimal(v: bigint, decimals: number): string {
  const s = formatUnits(v, decimals);
  return decimals === 0 ? s.replace(/\.0$/, "") : s;
}

/**
 * Decodes `abi.encode(int256[])` bytes into named decimal values. Undefined when the bytes are
 * not such an encoding (a failed result carries empty output). `labels` names an output's
 * elements (and picks the top one); `features` an input's.
 */
export function describeTensor(hex: string, decimals: number, names?: { labels?: readonly string[]; features?: readonly string[] }): TensorView | undefined {
  let raw: bigint[];
  try {
    raw = decodeTensor(hex);
  } catch {
    return undefined;
  }
  return describeValues(raw, decimals, names);
}

/** A request's input in the model's input encoding, named by its features; undefined if it is not one. */
export function describeInput(hex: string, model: ModelView): TensorView | undefined {
  let raw: bigint[];
  try {
    raw = decodeInput(hex, model.inputLength, model.inputEncoding ?? InputEncoding.AbiInt256);
  } catch {
    return undefined;
  }
  return describeValues(raw, model.decimals, { features: model.features });
}

function describeValues(raw: bigint[], decimals: number, names?: { labels?: readonly string[]; features?: readonly string[] }): TensorView {
  const list = names?.labels ?? names?.features;
  const named = !!list && list.length === raw.length;
  const values = raw.map((v, i) => ({ name: named ? list[i] : `[${i}]`, value: fixedToDecimal(v, decimals) }));
  let top: string | undefined;
  if (named && names?.labels && raw.length > 1) {
    let best = 0;
    for (let i = 1; i < raw.length; i++) if (raw[i] > raw[best]) best = i;
    top = list[best];
  }
  return top === undefined ? { values } : { values, top };
}
