/**
 * models/manifest.json: the catalogue of the models this repository ships (name, file, sha256,
 * dataset, held-out metrics, and a copy of each file's spec) for the demo, the deploy script and
 * people. It is NOT part of the runner's measurement and the runner never reads it: a model's
 * spec is in its file (spec.ts).
 */
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { refineSpec, specFields } from "./spec";

/** Folder of the committed models and their catalogue: `<repo>/models`. */
export const DEFAULT_MODELS_DIR = path.resolve(__dirname, "..", "..", "..", "models");

/** File name of the manifest inside the models folder. */
export const MANIFEST_FILE = "manifest.json";

export type { TensorType } from "./spec";

const hash = z.string().regex(/^0x[0-9a-f]{64}$/, "expected 0x followed by 64 lower-case hex digits");
const { version: _version, ...catalogueSpecFields } = specFields;

/**
 * One model of the catalogue: its spec (a copy of what its file's metadata says; the file is
 * the authority, and build.test.ts holds the two equal) with where it came from and how it scored.
 */
const entrySchema = z
  .object({
    ...catalogueSpecFields,
    file: z.string().regex(/^[A-Za-z0-9._-]+\.onnx$/, "a plain .onnx file name inside the models folder"),
    sha256: hash,
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
  .superRefine(refineSpec);

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
