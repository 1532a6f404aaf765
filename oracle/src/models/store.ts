import * as fs from "fs";
import * as path from "path";
import * as ort from "onnxruntime-node";
import { ResultStatus } from "../protocol";
import { int256ArrayLength, sha256Hex } from "../protocol/bytes";
import { type EncodedOutput, type EncodedOutputBytes, allocateTensor, decodeInput, decodeInto, encodeOutput, encodeOutputBytes, failure } from "./codec";
import { InputEncodingError, ModelHashMismatchError, ModelStoreClosedError, OutputShapeError, UnknownModelError } from "./errors";

const NO_BYTES = new Uint8Array(0);
import { type ModelManifest, type ModelManifestEntry, DEFAULT_MODELS_DIR, findByHash, loadManifest } from "./manifest";

/** Options of a {@link ModelStore}. */
export interface ModelStoreOptions {
  /** Folder holding `manifest.json` and the `.onnx` files. Default: `<repo>/models`. */
  dir?: string;
  /** The manifest to use instead of `<dir>/manifest.json` (already validated). */
  manifest?: ModelManifest;
  /**
   * ONNX Runtime session options for every session. Default: graph optimizations 'all',
   * one intra-op and one inter-op thread, sequential execution — the most predictable setting.
   */
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

/** One job of {@link ModelStore.inferMany}. */
export interface InferenceJob {
  modelHash: string;
  input: string | Uint8Array;
}


const DEFAULT_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  graphOptimizationLevel: "all",
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: "sequential",
};

interface Loaded {
  entry: ModelManifestEntry;
  session: ort.InferenceSession;
  /** The graph's input and output have a symbolic first dimension: rows can be stacked in one run. */
  stackable: boolean;
}

/** True when a value's declared shape is [symbolic, ...rest] with rest equal to the manifest's shape less its leading 1. */
function batchShaped(meta: ort.InferenceSession.ValueMetadata | undefined, shape: readonly number[]): boolean {
  if (!meta || !meta.isTensor || meta.shape.length !== shape.length || typeof meta.shape[0] !== "string" || shape[0] !== 1) return false;
  return meta.shape.slice(1).every((d, i) => d === shape[i + 1]);
}

/**
 * Serves the models of a manifest by their sha256. A model file is read and hashed before a
 * session is created from exactly those bytes, so a file changed on disk after the manifest was
 * written is refused ({@link ModelHashMismatchError}) and never run. Sessions are cached per hash.
 */
export class ModelStore {
  readonly dir: string;
  readonly manifest: ModelManifest;
  private readonly sessionOptions: ort.InferenceSession.SessionOptions;
  private readonly sessions = new Map<string, Promise<Loaded>>();
  private closed = false;
  private closing?: Promise<void>;

  constructor(options: ModelStoreOptions = {}) {
    this.dir = options.dir ?? DEFAULT_MODELS_DIR;
    this.manifest = options.manifest ?? loadManifest(this.dir);
    this.sessionOptions = { ...DEFAULT_SESSION_OPTIONS, ...options.sessionOptions };
  }

  /** The manifest entry of a model hash; throws {@link UnknownModelError}. */
  entry(modelHash: string): ModelManifestEntry {
    const entry = findByHash(this.manifest, modelHash);
    if (!entry) throw new UnknownModelError(modelHash, this.dir);
    return entry;
  }

  /**
   * Loads (once) the model with this hash: reads its file, checks the sha256 of the bytes
   * against the hash, and creates a session from the same bytes. A failed load is not cached,
   * so a repaired file can be loaded later.
   */
  load(modelHash: string): Promise<Loaded> {
    if (this.closed) return Promise.reject(new ModelStoreClosedError());
    const key = modelHash.toLowerCase();
    let loaded = this.sessions.get(key);
    if (!loaded) {
      loaded = this.create(key);
      this.sessions.set(key, loaded);
      loaded.catch(() => this.sessions.delete(key));
    }
    return loaded;
  }

  private async create(modelHash: string): Promise<Loaded> {
    const entry = this.entry(modelHash);
    const file = path.join(this.dir, entry.file);
    const bytes = await fs.promises.readFile(file);
    const actual = sha256Hex(bytes);
    if (actual !== modelHash) throw new ModelHashMismatchError(file, modelHash, actual);
    const session = await ort.InferenceSession.create(bytes, this.sessionOptions);
    const stackable =
      batchShaped(session.inputMetadata.find((m) => m.name === entry.input.name), entry.input.shape) &&
      batchShaped(session.outputMetadata.find((m) => m.name === entry.output.name), entry.output.shape);
    return { entry, session, stackable };
  }

  /**
   * Runs one inference: decodes the fixed-point input, runs the model, encodes the output.
   * An input the model does not accept gives `{status: InputOutOfRange, output: "0x"}`.
   */
  async infer(modelHash: string, input: string | Uint8Array): Promise<EncodedOutput> {
    const { entry, session } = await this.load(modelHash);
    const decoded = decodeInput(input, entry);
    if (decoded.status !== ResultStatus.Ok) return failure(decoded.status);
    const feeds = { [entry.input.name]: new ort.Tensor(entry.input.type, decoded.data, entry.input.shape) };
    const results = await session.run(feeds, [entry.output.name]);
    const tensor = results[entry.output.name];
    return encodeOutput(tensor.data as Float32Array, entry);
  }

  /**
   * Runs many inputs of one model; results in input order, each exactly what {@link infer} gives
   * for it alone, as bytes. When the model's graph has a symbolic batch dimension, the accepted
   * inputs are stacked into one `[k, n]` tensor and run in ONE session.run; otherwise (a model
   * with a fixed `[1, n]` input) they run one by one. Stacking is sound only because each row's
   * output is bit-identical to a batch of one under these session options: test/oracle/models/
   * stacking.test.ts checks that for every committed model. An input the model refuses
   * (InputOutOfRange) is left out of the stack and gets its failure status; bytes that are not a
   * canonical int256[] of the model's length throw InputEncodingError, as {@link infer} does.
   */
  async inferStacked(modelHash: string, inputs: readonly Uint8Array[]): Promise<EncodedOutputBytes[]> {
    const { entry, session, stackable } = await this.load(modelHash);
    const results: EncodedOutputBytes[] = new Array(inputs.length);
    const n = entry.input.length;
    const m = entry.output.length;
    if (!stackable) {
      for (let i = 0; i < inputs.length; i++) {
        const decoded = decodeInput(inputs[i], entry);
        if (decoded.status !== ResultStatus.Ok) {
          results[i] = { status: decoded.status, output: NO_BYTES };
          continue;
        }
        const out = await session.run({ [entry.input.name]: new ort.Tensor(entry.input.type, decoded.data, entry.input.shape) }, [entry.output.name]);
        results[i] = encodeOutputBytes(out[entry.output.name].data as Float32Array, 0, entry);
      }
      return results;
    }
    const data = allocateTensor(entry.input.type, inputs.length * n);
    const rows: number[] = [];
    for (let i = 0; i < inputs.length; i++) {
      const bytes = inputs[i];
      let length: number;
      try {
        length = int256ArrayLength(bytes);
      } catch (cause) {
        throw new InputEncodingError("input is not a canonical abi.encode(int256[])", { cause });
      }
      if (length !== n) throw new InputEncodingError(`input has ${length} values, the model takes ${n}`);
      const refused = decodeInto(bytes, entry, data, rows.length * n);
      if (refused) results[i] = { status: refused.status, output: NO_BYTES };
      else rows.push(i);
    }
    if (rows.length === 0) return results;
    const k = rows.length;
    const feed = new ort.Tensor(entry.input.type, k === inputs.length ? data : data.subarray(0, k * n), [k, ...entry.input.shape.slice(1)]);
    const out = await session.run({ [entry.input.name]: feed }, [entry.output.name]);
    const y = out[entry.output.name].data as Float32Array;
    if (y.length !== k * m) throw new OutputShapeError(`model output has ${y.length} values for ${k} rows of ${m}`);
    for (let r = 0; r < k; r++) results[rows[r]] = encodeOutputBytes(y, r * m, entry);
    return results;
  }

  /** Runs jobs one after another (sessions are single-input); results in the order of the jobs. */
  async inferMany(jobs: readonly InferenceJob[]): Promise<EncodedOutput[]> {
    const out: EncodedOutput[] = [];
    for (const job of jobs) out.push(await this.infer(job.modelHash, job.input));
    return out;
  }

  /** Releases every session. Idempotent; later calls to infer reject with ModelStoreClosedError. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.closing = (async () => {
        const pending = [...this.sessions.values()];
        this.sessions.clear();
        const errors: unknown[] = [];
        for (const p of pending) {
          // A load that failed has nothing to release.
          const loaded = await p.catch(() => undefined);
          if (!loaded) continue;
          try {
            await loaded.session.release();
          } catch (e) {
            errors.push(e);
          }
        }
        if (errors.length > 0) throw new AggregateError(errors, "some model sessions failed to release");
      })();
    }
    return this.closing;
  }
}
