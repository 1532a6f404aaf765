/**
 * `oracle model inspect`: what an ONNX file holds — its graph's inputs and outputs with shapes,
 * the operators it uses (by domain), its opsets, initializers and parameter count, its metadata
 * (and spec, if packed), and its size and sha256. Reads any ONNX file; refuses only a file that
 * is not one.
 */
import { onnx } from "onnx-proto";
import { Reader } from "protobufjs/minimal";
import { sha256Hex } from "../protocol/bytes";
import { ModelSpecError } from "./errors";
import { readMetadataProps } from "./onnx-metadata";

export interface ValueSummary {
  name: string;
  type: string;
  /** Numbers for fixed dimensions, strings for symbolic ones, "?" for unknown ones. */
  shape: (number | string)[];
}

export interface ModelSummary {
  sha256: string;
  bytes: number;
  irVersion: number;
  producer: string;
  opsets: { domain: string; version: number }[];
  inputs: ValueSummary[];
  outputs: ValueSummary[];
  nodes: number;
  /** Operator → how many nodes use it; custom-domain operators as `domain::Op`. */
  ops: Record<string, number>;
  initializers: number;
  parameters: number;
  /** Element types of the initializers (e.g. float32, int32). */
  initializerTypes: string[];
  /** Every node's output type where it is a Cast (`to`). */
  castTo: string[];
  metadata: Record<string, string>;
}

const TYPE_NAMES: Record<number, string> = {
  1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string", 9: "bool",
  10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64", 15: "complex128", 16: "bfloat16",
};

export function elementTypeName(code: number | null | undefined): string {
  return TYPE_NAMES[code ?? 0] ?? `type ${code}`;
}

/** Decodes an ONNX file whole (to re-encode it: `pack`); ModelSpecError if it is not one. */
export function decodeModel(bytes: Uint8Array): onnx.ModelProto {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new ModelSpecError(`the file is not an ONNX model: ${(err as Error).message}`);
  }
  if (!model.graph) throw new ModelSpecError("the file is not an ONNX model: it has no graph");
  return model;
}

/**
 * Reads each field of the protobuf message in `bytes`: `read` returns true for a field it read,
 * and any other field is skipped by its wire type, unread. Nothing else is decoded.
 */
function eachField(bytes: Uint8Array, read: (field: number, wire: number, r: Reader) => boolean | void): void {
  const r = Reader.create(bytes);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 0) throw new Error(`field number 0 at offset ${r.pos}`);
    if (read(tag >>> 3, tag & 7, r) !== true) r.skipType(tag & 7);
  }
}

const LEN = 2;
const VARINT = 0;
/** An int64 varint as a number (protobufjs gives a Long where the long package is installed). */
const int64 = (r: Reader): number => { const v: unknown = r.int64(); return typeof v === "number" ? v : Number(String(v)); };

function valueSummary(bytes: Uint8Array): ValueSummary {
  let name = "";
  let tensor = false;
  let elemType: number | undefined;
  const shape: (number | string)[] = [];
  const dim = (b: Uint8Array) => {
    let value: number | undefined;
    let param = "";
    eachField(b, (f, w, r) => (f === 1 && w === VARINT ? (value = int64(r), true) : f === 2 && w === LEN ? (param = r.string(), true) : false));
    shape.push(param ? param : value !== undefined ? value : "?");
  };
  const tensorType = (b: Uint8Array) => eachField(b, (f, w, r) => {
    if (f === 1 && w === VARINT) return (elemType = r.int32(), true);
    if (f === 2 && w === LEN) return (eachField(r.bytes(), (g, x, s) => (g === 1 && x === LEN ? (dim(s.bytes()), true) : false)), true);
    return false;
  });
  eachField(bytes, (f, w, r) => {
    if (f === 1 && w === LEN) return (name = r.string(), true);
    if (f === 2 && w === LEN) return (eachField(r.bytes(), (g, x, s) => (g === 1 && x === LEN ? (tensor = true, tensorType(s.bytes()), true) : false)), true);
    return false;
  });
  return { name, type: tensor ? elementTypeName(elemType) : "not a tensor", shape };
}

/** An initializer's name, element type and element count, its data skipped unread. */
function initializerSummary(bytes: Uint8Array): { name: string; type: string; elements: number } {
  let name = "";
  let dataType: number | undefined;
  let elements = 1;
  eachField(bytes, (f, w, r) => {
    if (f === 1 && w === VARINT) return (elements *= int64(r), true);
    if (f === 1 && w === LEN) { // packed dims
      const end = r.uint32() + r.pos;
      while (r.pos < end) elements *= int64(r);
      return true;
    }
    if (f === 2 && w === VARINT) return (dataType = r.int32(), true);
    if (f === 8 && w === LEN) return (name = r.string(), true);
    return false;
  });
  return { name, type: elementTypeName(dataType), elements };
}

/**
 * What an ONNX file holds, read without decoding it into objects: a walk over the protobuf
 * fields that reads names, types, shapes, operators and dims, and skips tensor data unread. An
 * untrusted file (a registry URI's) is summarized by the node this way: a full decode turns
 * 64 MiB of packed int64 into gigabytes of JS objects and seconds of a blocked event loop.
 * ModelSpecError if the bytes are not an ONNX model.
 */
export function summarize(bytes: Uint8Array): ModelSummary {
  let irVersion = 0;
  let producerName = "";
  let producerVersion = "";
  let graph: Uint8Array | undefined;
  const opsets: { domain: string; version: number }[] = [];
  const ops: Record<string, number> = {};
  const castTo: string[] = [];
  const inits: { name: string; type: string; elements: number }[] = [];
  const inputs: ValueSummary[] = [];
  const outputs: ValueSummary[] = [];
  let nodes = 0;
  let metadata: Record<string, string>;
  try {
    eachField(bytes, (f, w, r) => {
      if (f === 1 && w === VARINT) return (irVersion = int64(r), true);
      if (f === 2 && w === LEN) return (producerName = r.string(), true);
      if (f === 3 && w === LEN) return (producerVersion = r.string(), true);
      if (f === 7 && w === LEN) return (graph = r.bytes(), true);
      if (f === 8 && w === LEN) {
        let domain = "";
        let version = 0;
        eachField(r.bytes(), (g, x, s) => (g === 1 && x === LEN ? (domain = s.string(), true) : g === 2 && x === VARINT ? (version = int64(s), true) : false));
        return (opsets.push({ domain: domain || "ai.onnx", version }), true);
      }
      return false;
    });
    if (!graph) throw new ModelSpecError("the file is not an ONNX model: it has no graph");
    eachField(graph, (f, w, r) => {
      if (w !== LEN) return false;
      if (f === 1) {
        nodes++;
        let opType = "";
        let domain = "";
        let to: number | undefined;
        eachField(r.bytes(), (g, x, s) => {
          if (g === 4 && x === LEN) return (opType = s.string(), true);
          if (g === 7 && x === LEN) return (domain = s.string(), true);
          if (g === 5 && x === LEN) {
            let attr = "";
            let i: number | undefined;
            eachField(s.bytes(), (h, y, t) => (h === 1 && y === LEN ? (attr = t.string(), true) : h === 3 && y === VARINT ? (i = int64(t), true) : false));
            if (attr === "to") to = i ?? 0;
            return true;
          }
          return false;
        });
        const key = domain && domain !== "ai.onnx" ? `${domain}::${opType}` : opType;
        ops[key] = (ops[key] ?? 0) + 1;
        if (opType === "Cast") castTo.push(elementTypeName(to ?? 0));
        return true;
      }
      if (f === 5) return (inits.push(initializerSummary(r.bytes())), true);
      if (f === 11) return (inputs.push(valueSummary(r.bytes())), true);
      if (f === 12) return (outputs.push(valueSummary(r.bytes())), true);
      return false;
    });
    metadata = Object.fromEntries(readMetadataProps(bytes));
  } catch (err) {
    if (err instanceof ModelSpecError) throw err;
    throw new ModelSpecError(`the file is not an ONNX model: ${(err as Error).message}`);
  }
  const initNames = new Set(inits.map((t) => t.name));
  return {
    sha256: sha256Hex(bytes),
    bytes: bytes.length,
    irVersion,
    producer: `${producerName} ${producerVersion}`.trim(),
    opsets,
    inputs: inputs.filter((v) => !initNames.has(v.name)),
    outputs,
    nodes,
    ops,
    initializers: inits.length,
    parameters: inits.reduce((a, t) => a + t.elements, 0),
    initializerTypes: [...new Set(inits.map((t) => t.type))].sort(),
    castTo,
    metadata,
  };
}

/** The summary in words, for the terminal. */
export function formatSummary(s: ModelSummary): string {
  const shape = (v: ValueSummary) => `${v.name}: ${v.type}[${v.shape.join(", ")}]`;
  const lines = [
    `sha256      ${s.sha256}`,
    `size        ${s.bytes} bytes`,
    `ONNX IR     ${s.irVersion}, opsets ${s.opsets.map((o) => `${o.domain} ${o.version}`).join(", ")}${s.producer ? `, produced by ${s.producer}` : ""}`,
    `inputs      ${s.inputs.map(shape).join("; ") || "none"}`,
    `outputs     ${s.outputs.map(shape).join("; ") || "none"}`,
    `graph       ${s.nodes} nodes, ${s.initializers} initializers, ${s.parameters} parameters (${s.initializerTypes.join(", ") || "none"})`,
    `operators   ${Object.entries(s.ops).sort().map(([op, n]) => `${op}×${n}`).join(" ") || "none"}`,
  ];
  for (const [k, v] of Object.entries(s.metadata)) lines.push(`metadata    ${k} = ${v.length > 200 ? v.slice(0, 197) + "..." : v}`);
  return lines.join("\n") + "\n";
}
