/** Models built in the tests: a valid packed one, and hostile ones (huge tensors, deep graphs, custom ops, not ONNX). */
import { onnx } from "onnx-proto";
import { serializeModel, type GraphSpec } from "../../../oracle/src/models/build/onnx-builder";
import { packModel } from "../../../oracle/src/models/pack";
import type { ModelSpec } from "../../../oracle/src/models/spec";

/** The spec of a float model y = f(x), x and y of shape [1, n]. */
export function floatSpec(name: string, n = 1, m = 1): ModelSpec {
  return {
    version: 1, name, description: `test model ${name}`,
    input: { name: "x", type: "float32", shape: [1, n], length: n, encoding: "abi-int256", min: -1000, max: 1000 },
    output: { name: "y", type: "float32", shape: [1, m], length: m },
    decimals: 3, determinism: "float",
  };
}

function graph(name: string, nodes: GraphSpec["nodes"], initializers: GraphSpec["initializers"] = [], n = 1, m = 1): GraphSpec {
  return { name, docString: "test", inputs: [{ name: "x", type: "float32", shape: ["batch", n] }], outputs: [{ name: "y", type: "float32", shape: ["batch", m] }], initializers, nodes };
}

/** y = 2x + 1: a well-behaved model a publisher might bring. */
export function affineModel(name = "affine-test"): Uint8Array {
  const bytes = serializeModel(graph(name, [
    { op: "Mul", inputs: ["x", "two"], outputs: ["t"] },
    { op: "Add", inputs: ["t", "one"], outputs: ["y"] },
  ], [{ name: "two", type: "float32", dims: [1], values: [2] }, { name: "one", type: "float32", dims: [1], values: [1] }]));
  return packModel(bytes, floatSpec(name)).bytes;
}

/** Expands x to [1, elements] floats and sums it back: allocates elements × 4 bytes at run time. */
export function hugeTensorModel(elements: number): Uint8Array {
  const bytes = serializeModel(graph("huge", [
    { op: "Expand", inputs: ["x", "shape"], outputs: ["big"] },
    { op: "ReduceSum", inputs: ["big", "axes"], outputs: ["y"], attributes: { keepdims: { int: 1 } } },
  ], [{ name: "shape", type: "int64", dims: [2], values: [1, elements] }, { name: "axes", type: "int64", dims: [1], values: [1] }]));
  return packModel(bytes, floatSpec("huge-tensor")).bytes;
}

/** A chain of `depth` Add nodes. */
export function deepModel(depth: number): Uint8Array {
  const nodes: GraphSpec["nodes"] = [];
  for (let i = 0; i < depth; i++) nodes.push({ op: "Add", inputs: [i === 0 ? "x" : `h${i - 1}`, "one"], outputs: [i === depth - 1 ? "y" : `h${i}`] });
  return packModel(serializeModel(graph("deep", nodes, [{ name: "one", type: "float32", dims: [1], values: [1] }])), floatSpec("deep-graph")).bytes;
}

/** One node of an operator no runtime knows, in the default domain. */
export function unknownOpModel(): Uint8Array {
  return packModel(serializeModel(graph("unknown", [{ op: "StealTheKey", inputs: ["x"], outputs: ["y"] }])), floatSpec("unknown-op")).bytes;
}

/** Bytes that are not ONNX. */
export function notOnnx(): Uint8Array {
  return new TextEncoder().encode("#!/bin/sh\necho this is not a model\n");
}

function varint(v: number): number[] {
  const out: number[] = [];
  for (; v > 127; v = Math.floor(v / 128)) out.push((v % 128) | 128);
  out.push(v);
  return out;
}

function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/**
 * The affine model with one more initializer, "bomb", declared as one int64 but carrying
 * `elements` packed int64 zeros (one byte each on the wire): cheap to send, and a full protobuf
 * decode turns it into `elements` JS values. Built on the wire, so the test never holds them either.
 */
export function int64BombModel(elements: number): Uint8Array {
  const model = onnx.ModelProto.decode(affineModel("bomb"));
  const graph = onnx.GraphProto.encode(model.graph!).finish();
  model.graph = null;
  const rest = onnx.ModelProto.encode(model).finish();
  const head = onnx.TensorProto.encode({ name: "bomb", dataType: 7, dims: [1] }).finish();
  const data = [0x3a, ...varint(elements)]; // TensorProto.int64_data = 7, packed
  const tensorLength = head.length + data.length + elements;
  const initializer = [0x2a, ...varint(tensorLength)]; // GraphProto.initializer = 5
  const graphLength = graph.length + initializer.length + tensorLength;
  return concat(rest, [0x3a, ...varint(graphLength)], graph, initializer, head, data, new Uint8Array(elements)); // ModelProto.graph = 7
}
