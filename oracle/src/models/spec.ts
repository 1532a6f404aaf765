/**
 * The model file is its own spec. Everything the runner needs to turn input bytes into a signed
 * output — input and output names, shapes, element types, decimals, value bounds, labels, the
 * input encoding and the determinism class — is one JSON object stored in the .onnx file's
 * `metadata_props` under the key {@link SPEC_KEY}. The file's sha256 (the model hash every
 * result signs) therefore binds the whole spec: what the runner signs is a function of the model
 * file's bytes and the input bytes alone.
 *
 * `oracle model pack` writes it (models/pack.ts); the build writes it for the shipped models.
 */
import { z } from "zod";
import { Determinism, InputEncoding } from "../protocol/constants";
import { DETERMINISM_NAMES, INPUT_ENCODING_NAMES, encodingRange, inputEncodingByName } from "../protocol/input";
import { readMetadataProps, ProtobufFormatError } from "./onnx-metadata";
import { ModelSpecError } from "./errors";

/** metadata_props key of the spec. */
export const SPEC_KEY = "oracle.spec";
/** Version of the spec's JSON layout. */
export const SPEC_VERSION = 1;

const tensorType = z.enum(["float32", "float64", "int32", "int64"]);
/** Element type of a model's input or output tensor, as ONNX Runtime names it. */
export type TensorType = z.infer<typeof tensorType>;
const INTEGER_TYPES: readonly TensorType[] = ["int32", "int64"];

const bound = z.union([z.number().finite(), z.array(z.number().finite())]);

const inputSchema = z
  .object({
    name: z.string().min(1),
    type: tensorType,
    /** One request's shape, [1, ...]: the graph's first dimension may be a symbolic batch. */
    shape: z.array(z.number().int().positive()).min(1),
    length: z.number().int().positive(),
    /** How the request carries the values (ModelRegistry `inputEncoding`). */
    encoding: z.enum(INPUT_ENCODING_NAMES),
    /** Least accepted value, in model units (v / 10^decimals): one for all elements or one each. */
    min: bound.optional(),
    /** Greatest accepted value, in model units. */
    max: bound.optional(),
    /** What each element means, with its unit. */
    features: z.array(z.string()).optional(),
  })
  .strict();

const outputSchema = z
  .object({
    name: z.string().min(1),
    type: tensorType,
    shape: z.array(z.number().int().positive()).min(1),
    length: z.number().int().positive(),
    /** What each element means. */
    labels: z.array(z.string()).optional(),
  })
  .strict();

const specFields = {
  version: z.literal(SPEC_VERSION),
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes").max(64),
  description: z.string().min(1).max(2000),
  input: inputSchema,
  output: outputSchema,
  /** Fixed-point decimals of input and output values (ModelRegistry `decimals`). */
  decimals: z.number().int().min(0).max(38),
  /** "bit-exact" only for an integer-only graph (ModelRegistry `determinism`). */
  determinism: z.enum(DETERMINISM_NAMES),
};

/** Checks of a spec that span fields; shared with the catalogue (manifest.ts). */
export function refineSpec(e: { input: z.infer<typeof inputSchema>; output: z.infer<typeof outputSchema>; decimals: number; determinism: string }, ctx: z.RefinementCtx): void {
  for (const side of ["input", "output"] as const) {
    const spec = e[side];
    const product = spec.shape.reduce((a, b) => a * b, 1);
    if (product !== spec.length) ctx.addIssue({ code: "custom", path: [side, "length"], message: `length ${spec.length} is not the product of shape [${spec.shape}]` });
    if (spec.shape[0] !== 1) ctx.addIssue({ code: "custom", path: [side, "shape"], message: `the first dimension is one request's batch: it must be 1, not ${spec.shape[0]}` });
    const integer = INTEGER_TYPES.includes(spec.type);
    if (integer && e.decimals !== 0) ctx.addIssue({ code: "custom", path: ["decimals"], message: `an integer ${side} (${spec.type}) is taken as it is: decimals must be 0` });
    if (!integer && e.determinism === "bit-exact") ctx.addIssue({ code: "custom", path: ["determinism"], message: `a ${spec.type} ${side} is float arithmetic: use "float", or quantize the model to int32/int64` });
  }
  for (const key of ["min", "max"] as const) {
    const b = e.input[key];
    if (Array.isArray(b) && b.length !== e.input.length) ctx.addIssue({ code: "custom", path: ["input", key], message: `has ${b.length} bounds for ${e.input.length} elements` });
  }
  if (e.input.features && e.input.features.length !== e.input.length) ctx.addIssue({ code: "custom", path: ["input", "features"], message: "one name per element" });
  if (e.output.labels && e.output.labels.length !== e.output.length) ctx.addIssue({ code: "custom", path: ["output", "labels"], message: "one label per element" });
  if (e.input.encoding !== "abi-int256" && e.input.type === "int32" && e.input.encoding === "packed-int64") {
    ctx.addIssue({ code: "custom", path: ["input", "encoding"], message: "packed-int64 values do not fit an int32 input: use packed-int32 or narrower" });
  }
}

export const specSchema = z.object(specFields).strict().superRefine(refineSpec);
/** The spec of a model, as stored in its file. */
export type ModelSpec = z.infer<typeof specSchema>;
/** The fields of a spec the codec reads. */
export type CodecSpec = Pick<ModelSpec, "input" | "output" | "decimals">;
export { specFields, inputSchema, outputSchema };

/** The input encoding of a spec as the ModelRegistry's enum value. */
export function specInputEncoding(spec: Pick<ModelSpec, "input">): InputEncoding {
  return inputEncodingByName(spec.input.encoding);
}

/** The determinism class of a spec as the ModelRegistry's enum value. */
export function specDeterminism(spec: Pick<ModelSpec, "determinism">): Determinism {
  return spec.determinism === "bit-exact" ? Determinism.BitExact : Determinism.Float;
}

/** The range of values the spec's encoding can carry (bounds outside it can never be met). */
export function specEncodingRange(spec: Pick<ModelSpec, "input">): [bigint, bigint] {
  return encodingRange(specInputEncoding(spec));
}

/** Validates a parsed spec; the error lists every problem with its path. */
export function parseSpec(value: unknown, source = "model spec"): ModelSpec {
  const result = specSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`).join("\n");
    throw new ModelSpecError(`${source} is not a valid model spec`, { details: problems });
  }
  return result.data;
}

/**
 * The spec stored in an ONNX file's metadata. Throws ModelSpecError, saying what to change, when
 * the file is not a protobuf message, has no spec (or two), or the spec is invalid.
 */
export function readModelSpec(bytes: Uint8Array): ModelSpec {
  let props: [string, string][];
  try {
    props = readMetadataProps(bytes);
  } catch (err) {
    if (err instanceof ProtobufFormatError) throw new ModelSpecError(`the file is not an ONNX model (${err.message})`);
    throw err;
  }
  const found = props.filter(([k]) => k === SPEC_KEY);
  if (found.length === 0) throw new ModelSpecError(`the model has no "${SPEC_KEY}" in its metadata_props: write one with \`oracle model pack\``);
  if (found.length > 1) throw new ModelSpecError(`the model has ${found.length} "${SPEC_KEY}" entries in its metadata_props: keep exactly one (\`oracle model pack\` replaces them)`);
  let json: unknown;
  try {
    json = JSON.parse(found[0][1]);
  } catch (err) {
    throw new ModelSpecError(`the "${SPEC_KEY}" metadata is not JSON: ${(err as Error).message}`);
  }
  return parseSpec(json, `the "${SPEC_KEY}" metadata`);
}

/** The canonical JSON of a spec (keys in schema order), as pack writes it. */
export function specJson(spec: ModelSpec): string {
  return JSON.stringify(parseSpec(spec));
}
