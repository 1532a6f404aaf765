import * as fs from "fs";
import * as path from "path";
import * as ort from "onnxruntime-node";
import { ResultStatus, decodeTensor } from "../../protocol";
import { decodeInput, encodeInput, encodeOutput } from "../codec";
import { type ModelManifest, type ModelManifestEntry, MANIFEST_FILE, parseManifest } from "../manifest";
import { sha256Hex } from "../../protocol/bytes";
import { trainIris } from "./iris";
import { trainMnist } from "./mnist";
import { IR_VERSION, OPSET_VERSION, serializeModel } from "./onnx-builder";
import { SPEC_KEY, SPEC_VERSION, specJson } from "../spec";
import { trainPenguins } from "./penguins";
import type { TrainedModel } from "./types";
import { trainVolatility } from "./volatility";

/** The trainers, in manifest order. */
export const TRAINERS: readonly (() => TrainedModel)[] = [trainIris, trainVolatility, trainPenguins, trainMnist];

/** Progress of a build: a step finished, out of `total`. */
export type BuildProgress = (event: { step: number; total: number; message: string }) => void;

export interface BuildOptions {
  /** Called after each step (train, write, evaluate per model; then the manifest). */
  onProgress?: BuildProgress;
}

/**
 * Runs the exported model on held-out rows the way the oracle does: real values → fixed-point
 * input bytes → decodeInput → onnxruntime → encodeOutput → values / 10^decimals.
 */
async function evaluate(bytes: Uint8Array, entry: Omit<ModelManifestEntry, "sha256" | "metrics">, rows: number[][]): Promise<number[][]> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: "all", intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: "sequential" });
  try {
    const scale = 10 ** entry.decimals;
    const out: number[][] = [];
    for (const row of rows) {
      const decoded = decodeInput(encodeInput(row, entry), entry);
      if (decoded.status !== ResultStatus.Ok) throw new Error(`${entry.name}: held-out row refused: ${decoded.reason}`);
      const result = await session.run({ [entry.input.name]: new ort.Tensor(entry.input.type, decoded.data, entry.input.shape) });
      const encoded = encodeOutput(result[entry.output.name].data as Float32Array, entry);
      if (encoded.status !== ResultStatus.Ok) throw new Error(`${entry.name}: held-out output not representable`);
      out.push(decodeTensor(encoded.output).map((v) => Number(v) / scale));
    }
    return out;
  } finally {
    await session.release();
  }
}

/**
 * Trains every model, writes `<name>.onnx` and `manifest.json` into `outDir` (created if
 * missing), and returns the manifest. Training uses only correctly rounded double arithmetic in
 * a fixed order, and serialization is a pure function of the weights, so the .onnx bytes (and
 * their sha256) are the same on every run and machine. Held-out metrics come from running the
 * written ONNX files with onnxruntime through the fixed-point codec, rounded to 6 decimals.
 */
export async function buildModels(outDir: string, options: BuildOptions = {}): Promise<ModelManifest> {
  const total = TRAINERS.length * 3 + 1;
  let step = 0;
  const progress = (message: string) => options.onProgress?.({ step: ++step, total, message });
  fs.mkdirSync(outDir, { recursive: true });
  const models: ModelManifestEntry[] = [];
  for (const train of TRAINERS) {
    const trained = train();
    progress(`trained ${trained.entry.name}`);
    const { name, file, description, input, output, decimals, determinism, dataset } = trained.entry;
    // The spec goes into the file first: the file is what the runner reads.
    const spec = specJson({ version: SPEC_VERSION, name, description, input, output, decimals, determinism });
    const bytes = serializeModel({ ...trained.graph, metadata: [[SPEC_KEY, spec], ...(trained.graph.metadata ?? [])] });
    fs.writeFileSync(path.join(outDir, trained.entry.file), bytes);
    const sha256 = sha256Hex(bytes);
    progress(`wrote ${trained.entry.file} (${bytes.length} bytes, sha256 ${sha256})`);
    const outputs = await evaluate(bytes, trained.entry, trained.heldOut);
    const metrics = trained.score(outputs);
    progress(`evaluated ${trained.entry.name} on ${trained.heldOut.length} held-out rows: ${JSON.stringify(metrics)}`);
    models.push({ name, file, sha256, description, input, output, decimals, determinism, dataset, metrics });
  }
  const manifest = parseManifest({
    version: 1,
    generator: "scripts/build-models.ts (oracle/src/models/build)",
    onnx: { irVersion: IR_VERSION, opset: OPSET_VERSION },
    runtime: `onnxruntime-node ${readOrtVersion()} (held-out metrics)`,
    models,
  });
  fs.writeFileSync(path.join(outDir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n");
  progress(`wrote ${MANIFEST_FILE}`);
  return manifest;
}

function readOrtVersion(): string {
  const pkg = path.join(path.dirname(require.resolve("onnxruntime-node")), "..", "..", "package.json");
  const candidates = [pkg, path.join(path.dirname(require.resolve("onnxruntime-node")), "..", "package.json")];
  for (const c of candidates) {
    if (fs.existsSync(c)) {
      const json = JSON.parse(fs.readFileSync(c, "utf8")) as { name?: string; version?: string };
      if (json.name === "onnxruntime-node" && json.version) return json.version;
    }
  }
  throw new Error("cannot read the onnxruntime-node version");
}
