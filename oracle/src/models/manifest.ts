import * as fs from "fs";
import * as path from "path";
import { z } from "zod";

/** Folder of the committed models and their manifest: `<repo>/models`. */
export const DEFAULT_MODELS_DIR = path.resolve(__dirname, "..", "..", "..", "models");

/** File name of the manifest inside the models folder. */
export const MANIFEST_FILE = "manifest.json";

const tensorType = z.enum(["float32", "float64", "int32", "int64"]);
/** Element type of a model's input or output tensor, as ONNX Runtime names it. */
export type TensorType = z.infer<typeof tensorType>;

const hash = z.string().regex(/^0x[0-9a-f]{64}$/, "expected 0x followed by 64 lower-case hex digits");
const bound = z.union([z.number().finite(), z.array(z.number().finite())]);

const inputSpec = z
  .object({
    name: z.string().min(1),
    type: tensorType,
    shape: z.array(z.number().int().positive()).min(1),
    length: z.number().int().positive(),
    /** Least accepted value, in model units (v / 10^decimals): one for all elements or one each. */
    min: bound.optional(),
    /** Greatest accepted value, in model units. */
    max: bound.optional(),
    /** What each element means, with its unit. */
    features: z.array(z.string()).optional(),
  })
  .strict();

const outputSpec = z
  .object({
    name: z.string().min(1),
    type: tensorType,
    shape: z.array(z.number().int().positive()).min(1),
    length: z.number().int().positive(),
    /** What each element means. */
    labels: z.array(z.string()).optional(),
  })
  .strict();

const entrySchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes"),
    file: z.string().regex(/^[A-Za-z0-9._-]+\.onnx$/, "a plain .onnx file name inside the models folder"),
    sha256: hash,
    description: z.string().min(1),
    input: inputSpec,
    output: outputSpec,
    decimals: z.number().int().min(0).max(38),
    dataset: z
      .object({
        package: z.string(),
        version: z.string(),
        file: z.string(),
        rows: z.number().int().positive(),
        split: z.string(),
        trainRows: z.number().int().positive(),
        testRows: z.number().int().positive(),
      })
      .strict(),
    metrics: z.record(z.union([z.number(), z.string()])),
  })
  .strict()
  .superRefine((e, ctx) => {
    for (const side of ["input", "output"] as const) {
      const spec = e[side];
      const product = spec.shape.reduce((a, b) => a * b, 1);
      if (product !== spec.length) ctx.addIssue({ code: "custom", path: [side, "length"], message: `length ${spec.length} is not the product of shape [${spec.shape}]` });
      const integer = spec.type === "int32" || spec.type === "int64";
      if (integer && e.decimals !== 0) ctx.addIssue({ code: "custom", path: ["decimals"], message: `an integer ${side} (${spec.type}) is taken as it is: decimals must be 0` });
    }
    for (const key of ["min", "max"] as const) {
      const b = e.input[key];
      if (Array.isArray(b) && b.length !== e.input.length) ctx.addIssue({ code: "custom", path: ["input", key], message: `has ${b.length} bounds for ${e.input.length} elements` });
    }
    if (e.input.features && e.input.features.length !== e.input.length) ctx.addIssue({ code: "custom", path: ["input", "features"], message: "one name per element" });
    if (e.output.labels && e.output.labels.length !== e.output.length) ctx.addIssue({ code: "custom", path: ["output", "labels"], message: "one label per element" });
  });

const manifestSchema = z
  .object({
    version: z.literal(1),
    generator: z.string(),
    onnx: z.object({ irVersion: z.number().int(), opset: z.number().int() }).strict(),
    runtime: z.string(),
    models: z.array(entrySchema).min(1),
  })
  .strict()
  .superRefine((m, ctx) => {
    const seen = new Map<string, string>();
    m.models.forEach((e, i) => {
      for (const [kind, key] of [["name", e.name], ["file", e.file], ["sha256", e.sha256]] as const) {
        const k = `${kind}:${key}`;
        if (seen.has(k)) ctx.addIssue({ code: "custom", path: ["models", i, kind], message: `duplicate ${kind} ${key}` });
        seen.set(k, e.name);
      }
    });
  });

/** One model of the manifest. */
export type ModelManifestEntry = z.infer<typeof entrySchema>;
/** The manifest: `models/manifest.json`. */
export type ModelManifest = z.infer<typeof manifestSchema>;

/** Validates a parsed manifest; throws an error listing every problem with its path. */
export function parseManifest(value: unknown, source = "manifest"): ModelManifest {
  const result = manifestSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`).join("\n");
    throw new Error(`${source} is not a valid model manifest:\n${problems}`);
  }
  return result.data;
}

/** Reads and validates `<dir>/manifest.json`. */
export function loadManifest(dir: string = DEFAULT_MODELS_DIR): ModelManifest {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (cause) {
    throw new Error(`cannot read model manifest ${file}: ${(cause as Error).message}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new Error(`model manifest ${file} is not JSON: ${(cause as Error).message}`, { cause });
  }
  return parseManifest(json, file);
}

/** The entry with the given sha256 (0x-hex, any case), or undefined. */
export function findByHash(manifest: ModelManifest, sha256: string): ModelManifestEntry | undefined {
  const h = sha256.toLowerCase();
  return manifest.models.find((m) => m.sha256 === h);
}

/** The entry with the given name, or undefined. */
export function findByName(manifest: ModelManifest, name: string): ModelManifestEntry | undefined {
  return manifest.models.find((m) => m.name === name);
}
