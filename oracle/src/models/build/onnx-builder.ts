import { onnx } from "onnx-proto";

/** ONNX IR version and default-domain opset every model in this repository is written with. */
export const IR_VERSION = 8;
export const OPSET_VERSION = 17;

/**
 * Symbolic first dimension of every graph input and output: a session can run `[batch, n]`
 * stacked requests in one call (the runner does, per model; see docs/models.md for the test that
 * each row's output is bit-identical to a batch of one). The manifest's `shape` is one request's.
 */
export const BATCH_DIM = "batch";

/** Tensor element types the model builder writes; values are `onnx.TensorProto.DataType`. */
export type ElementType = "float32" | "float64" | "int32" | "int64";

const DATA_TYPE: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
};

/** A graph input or output: name, element type and shape (a string is a symbolic dimension). */
export interface ValueSpec {
  name: string;
  type: ElementType;
  shape: readonly (number | string)[];
}

/** An attribute value of a node; numbers are written as INT when `int` is set, else FLOAT. */
export type AttributeValue = { int: number } | { float: number } | { ints: number[] };

/** One node of the graph. */
export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attributes?: Record<string, AttributeValue>;
}

/** A constant tensor stored in the graph (an initializer). */
export interface InitializerSpec {
  name: string;
  type: ElementType;
  dims: readonly number[];
  /** Row-major values; for int64, bigint or safe integers. */
  values: readonly (number | bigint)[];
}

export interface GraphSpec {
  name: string;
  docString: string;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  initializers: InitializerSpec[];
  nodes: NodeSpec[];
  /** Written into the model's metadata_props in the order given. */
  metadata?: [string, string][];
}

/**
 * Little-endian raw bytes of a tensor. Written with DataView so the bytes do not depend on the
 * endianness of the building machine; float values are rounded to the element type first.
 */
export function rawTensorBytes(type: ElementType, values: readonly (number | bigint)[]): Uint8Array {
  const width = type === "float32" || type === "int32" ? 4 : 8;
  const out = new Uint8Array(values.length * width);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    const at = i * width;
    switch (type) {
      case "float32":
        view.setFloat32(at, Number(v), true);
        break;
      case "float64":
        view.setFloat64(at, Number(v), true);
        break;
      case "int32":
        if (!Number.isInteger(Number(v)) || Number(v) < -(2 ** 31) || Number(v) >= 2 ** 31) {
          throw new RangeError(`int32 initializer value out of range: ${v}`);
        }
        view.setInt32(at, Number(v), true);
        break;
      case "int64": {
        const b = typeof v === "bigint" ? v : BigInt(v);
        if (typeof v === "number" && !Number.isSafeInteger(v)) throw new RangeError(`int64 initializer value is not a safe integer: ${v}`);
        view.setBigInt64(at, b, true);
        break;
      }
    }
  });
  return out;
}

function valueInfo(spec: ValueSpec): onnx.IValueInfoProto {
  return {
    name: spec.name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[spec.type],
        shape: { dim: spec.shape.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttributeValue): onnx.IAttributeProto {
  if ("int" in value) return { name, type: onnx.AttributeProto.AttributeType.INT, i: value.int };
  if ("float" in value) return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value.float };
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: value.ints };
}

/**
 * Serializes a graph to ONNX bytes (IR 8, opset 17). The encoding is a pure function of the
 * spec: protobufjs writes fields in declaration order and nothing time- or host-dependent is
 * recorded, so equal specs give equal bytes.
 */
export function serializeModel(spec: GraphSpec): Uint8Array {
  const model: onnx.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET_VERSION }],
    producerName: "attested-inference-oracle/build-models",
    producerVersion: "1",
    modelVersion: 1,
    docString: spec.docString,
    graph: {
      name: spec.name,
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      initializer: spec.initializers.map((t) => ({
        name: t.name,
        dataType: DATA_TYPE[t.type],
        dims: [...t.dims],
        rawData: rawTensorBytes(t.type, t.values),
      })),
      node: spec.nodes.map((n, i) => ({
        name: n.name ?? `${n.op.toLowerCase()}_${i}`,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)),
      })),
    },
    metadataProps: (spec.metadata ?? []).map(([key, value]) => ({ key, value })),
  };
  const err = onnx.ModelProto.verify(model);
  if (err) throw new Error(`invalid ONNX model ${spec.name}: ${err}`);
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
