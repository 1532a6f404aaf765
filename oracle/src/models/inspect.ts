/**
 * `oracle model inspect`: what an ONNX file holds — its graph's inputs and outputs with shapes,
 * the operators it uses (by domain), its opsets, initializers and parameter count, its metadata
 * (and spec, if packed), and its size and sha256. Reads any ONNX file; refuses only a file that
 * is not one.
 */
import { onnx } from "onnx-proto";
import { sha256Hex } from "../protocol/bytes";
import { ModelSpecError } from "./errors";

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

/** Decodes an ONNX file; ModelSpecError if it is not one. */
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

function valueSummary(v: onnx.IValueInfoProto): ValueSummary {
  const t = v.type?.tensorType;
  return {
    name: v.name ?? "",
    type: t ? elementTypeName(t.elemType) : "not a tensor",
    shape: (t?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? Number(d.dimValue) : "?")),
  };
}

/** Elements of a tensor of these dims (protobufjs gives int64 dims as numbers or Long objects). */
function count(dims: (number | { toString(): string })[] | null | undefined): number {
  return (dims ?? []).reduce<number>((a, d) => a * Number(d), 1);
}

export function summarize(bytes: Uint8Array, model: onnx.ModelProto = decodeModel(bytes)): ModelSummary {
  const g = model.graph!;
  const initNames = new Set((g.initializer ?? []).map((t) => t.name));
  const ops: Record<string, number> = {};
  const castTo: string[] = [];
  for (const n of g.node ?? []) {
    const key = n.domain && n.domain !== "ai.onnx" ? `${n.domain}::${n.opType}` : String(n.opType);
    ops[key] = (ops[key] ?? 0) + 1;
    if (n.opType === "Cast") {
      const to = (n.attribute ?? []).find((a) => a.name === "to");
      castTo.push(elementTypeName(Number(to?.i ?? 0)));
    }
  }
  return {
    sha256: sha256Hex(bytes),
    bytes: bytes.length,
    irVersion: Number(model.irVersion ?? 0),
    producer: `${model.producerName ?? ""} ${model.producerVersion ?? ""}`.trim(),
    opsets: (model.opsetImport ?? []).map((o) => ({ domain: o.domain || "ai.onnx", version: Number(o.version ?? 0) })),
    inputs: (g.input ?? []).filter((v) => !initNames.has(v.name ?? "")).map(valueSummary),
    outputs: (g.output ?? []).map(valueSummary),
    nodes: (g.node ?? []).length,
    ops,
    initializers: (g.initializer ?? []).length,
    parameters: (g.initializer ?? []).reduce((a, t) => a + count(t.dims), 0),
    initializerTypes: [...new Set((g.initializer ?? []).map((t) => elementTypeName(t.dataType)))].sort(),
    castTo,
    metadata: Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? "", p.value ?? ""])),
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
