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

const VARINT = 0;
const LEN = 2;
/** A field's protobuf tag: its number and wire type. */
const tag = (field: number, wire: number): number => field * 8 + wire;

/**
 * Reads the fields of the protobuf message in `bytes` that `readers` has a reader for (by tag);
 * every other field is skipped by its wire type, unread. Nothing else is decoded.
 */
function readMessage(bytes: Uint8Array, readers: Record<number, (r: Reader) => void>): void {
  const r = Reader.create(bytes);
  while (r.pos < r.len) {
    const t = r.uint32();
    if (t >>> 3 === 0) throw new Error(`field number 0 at offset ${r.pos}`);
    const read = readers[t];
    if (read) read(r);
    else r.skipType(t & 7);
  }
}

/** An int64 varint as a number (protobufjs gives a Long where the long package is installed). */
function int64(r: Reader): number {
  const v: unknown = r.int64();
  return typeof v === "number" ? v : Number(String(v));
}

/** ValueInfoProto: name (1), type (2) → TypeProto.tensor_type (1) → elem_type (1), shape (2) → dim (1). */
function valueSummary(bytes: Uint8Array): ValueSummary {
  let name = "";
  let tensor = false;
  let elemType: number | undefined;
  const shape: (number | string)[] = [];
  const dim = (b: Uint8Array) => {
    let value: number | undefined;
    let param = "";
    readMessage(b, { [tag(1, VARINT)]: (r) => { value = int64(r); }, [tag(2, LEN)]: (r) => { param = r.string(); } });
    shape.push(param || (value ?? "?"));
  };
  const tensorType = (b: Uint8Array) => readMessage(b, {
    [tag(1, VARINT)]: (r) => { elemType = r.int32(); },
    [tag(2, LEN)]: (r) => readMessage(r.bytes(), { [tag(1, LEN)]: (d) => dim(d.bytes()) }),
  });
  readMessage(bytes, {
    [tag(1, LEN)]: (r) => { name = r.string(); },
    [tag(2, LEN)]: (r) => readMessage(r.bytes(), { [tag(1, LEN)]: (t) => { tensor = true; tensorType(t.bytes()); } }),
  });
  return { name, type: tensor ? elementTypeName(elemType) : "not a tensor", shape };
}

/** TensorProto (an initializer): its name (8), element type (2) and element count (dims, 1), its data skipped unread. */
function initializerSummary(bytes: Uint8Array): { name: string; type: string; elements: number } {
  let name = "";
  let dataType: number | undefined;
  let elements = 1;
  readMessage(bytes, {
    [tag(1, VARINT)]: (r) => { elements *= int64(r); },
    [tag(1, LEN)]: (r) => { // packed dims
      const end = r.uint32() + r.pos;
      while (r.pos < end) elements *= int64(r);
    },
    [tag(2, VARINT)]: (r) => { dataType = r.int32(); },
    [tag(8, LEN)]: (r) => { name = r.string(); },
  });
  return { name, type: elementTypeName(dataType), elements };
}

/** NodeProto: op_type (4), domain (7), and a Cast's `to` attribute (5 → name 1, i 3). */
function nodeSummary(bytes: Uint8Array): { op: string; castTo?: string } {
  let opType = "";
  let domain = "";
  let to = 0;
  readMessage(bytes, {
    [tag(4, LEN)]: (r) => { opType = r.string(); },
    [tag(7, LEN)]: (r) => { domain = r.string(); },
    [tag(5, LEN)]: (r) => {
      let attr = "";
      let i = 0;
      readMessage(r.bytes(), { [tag(1, LEN)]: (a) => { attr = a.string(); }, [tag(3, VARINT)]: (a) => { i = int64(a); } });
      if (attr === "to") to = i;
    },
  });
  return { op: domain && domain !== "ai.onnx" ? `${domain}::${opType}` : opType, castTo: opType === "Cast" ? elementTypeName(to) : undefined };
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
    // ModelProto: ir_version (1), producer (2, 3), graph (7), opset_import (8 → domain 1, version 2).
    readMessage(bytes, {
      [tag(1, VARINT)]: (r) => { irVersion = int64(r); },
      [tag(2, LEN)]: (r) => { producerName = r.string(); },
      [tag(3, LEN)]: (r) => { producerVersion = r.string(); },
      [tag(7, LEN)]: (r) => { graph = r.bytes(); },
      [tag(8, LEN)]: (r) => {
        const opset = { domain: "", version: 0 };
        readMessage(r.bytes(), { [tag(1, LEN)]: (o) => { opset.domain = o.string(); }, [tag(2, VARINT)]: (o) => { opset.version = int64(o); } });
        opsets.push({ domain: opset.domain || "ai.onnx", version: opset.version });
      },
    });
    if (!graph) throw new ModelSpecError("the file is not an ONNX model: it has no graph");
    // GraphProto: node (1), initializer (5), input (11), output (12).
    readMessage(graph, {
      [tag(1, LEN)]: (r) => {
        const node = nodeSummary(r.bytes());
        nodes++;
        ops[node.op] = (ops[node.op] ?? 0) + 1;
        if (node.castTo) castTo.push(node.castTo);
      },
      [tag(5, LEN)]: (r) => { inits.push(initializerSummary(r.bytes())); },
      [tag(11, LEN)]: (r) => { inputs.push(valueSummary(r.bytes())); },
      [tag(12, LEN)]: (r) => { outputs.push(valueSummary(r.bytes())); },
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
