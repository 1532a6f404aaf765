import * as fs from "fs";
import * as ort from "onnxruntime-node";
import { ResultStatus } from "../protocol/constants";
import { sha256Hex } from "../protocol/bytes";
import { type EncodedOutput, type EncodedOutputBytes, allocateTensor, checkInput, decodeInput, decodeInto, encodeOutput, encodeOutputBytes, failure } from "./codec";
import { ModelHashMismatchError, ModelLoadError, ModelSpecError, ModelStoreClosedError, ModelTooLargeError, OutputShapeError, UnknownModelError } from "./errors";
import { findModelFile } from "./locate";
import { DEFAULT_MODELS_DIR } from "./manifest";
import { type ModelSpec, readModelSpec } from "./spec";

const NO_BYTES = new Uint8Array(0);

/** Largest model file a store loads by default: 64 MiB. */
export const DEFAULT_MAX_MODEL_BYTES = 64 * 1024 * 1024;

/** Options of a {@link ModelStore}. */
export interface ModelStoreOptions {
  /**
   * Folder of model files: `<sha256 hex>.onnx` (the node's cache) or files of any name, found by
   * their hash (locate.ts). Default: `<repo>/models`.
   */
  dir?: string;
  /**
   * ONNX Runtime session options for every session. Default: graph optimizations 'all',
   * one intra-op and one inter-op thread, sequential execution — the most predictable setting.
   */
  sessionOptions?: ort.InferenceSession.SessionOptions;
  /** Largest model file loaded, in bytes. Default {@link DEFAULT_MAX_MODEL_BYTES}. */
  maxModelBytes?: number;
}

/** One job of {@link ModelStore.inferMany}. */
export interface InferenceJob {
  modelHash: string;
  input: string | Uint8Array;
}

export const DEFAULT_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  graphOptimizationLevel: "all",
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: "sequential",
};

/** A model ready to run: its spec (from its own file) and its session. */
export interface LoadedModel {
  spec: ModelSpec;
  session: ort.InferenceSession;
  /** The graph's input and output have a symbolic first dimension: rows can be stacked in one run. */
  stackable: boolean;
}

/**
 * Checks one graph value against the spec: same name and element type, and the shape of one
 * request ([1, ...rest]) with the first dimension either 1 or symbolic (a batch) and every other
 * dimension fixed. Returns whether the first dimension is symbolic.
 */
function matchValue(side: "input" | "output", meta: ort.InferenceSession.ValueMetadata | undefined, spec: ModelSpec["input"] | ModelSpec["output"]): boolean {
  if (!meta) throw new ModelSpecError(`the graph has no ${side} named "${spec.name}": set ${side}.name in the spec to the graph's ${side} name`);
  if (!meta.isTensor) throw new ModelSpecError(`graph ${side} "${spec.name}" is not a tensor`);
  if (meta.type !== spec.type) throw new ModelSpecError(`graph ${side} "${spec.name}" is ${meta.type}, the spec says ${spec.type}: make them equal`);
  const shape = meta.shape;
  const want = spec.shape;
  const ok = shape.length === want.length && (shape[0] === 1 || typeof shape[0] === "string") && shape.slice(1).every((d, i) => d === want[i + 1]);
  if (!ok) throw new ModelSpecError(`graph ${side} "${spec.name}" has shape [${shape.join(", ")}], the spec says [${want.join(", ")}]: only the first (batch) dimension may be symbolic`);
  return typeof shape[0] === "string";
}

/**
 * Checks that a session's graph is what the spec says; returns whether rows can be stacked.
 * Throws ModelSpecError saying what to change.
 */
export function matchSpec(session: ort.InferenceSession, spec: ModelSpec): boolean {
  if (session.inputMetadata.length !== 1) {
    throw new ModelSpecError(`the graph has ${session.inputMetadata.length} inputs (${session.inputNames.join(", ")}): the oracle feeds exactly one`);
  }
  const inBatch = matchValue("input", session.inputMetadata[0].name === spec.input.name ? session.inputMetadata[0] : undefined, spec.input);
  const outBatch = matchValue("output", session.outputMetadata.find((m) => m.name === spec.output.name), spec.output);
  return inBatch && outBatch;
}

/**
 * Serves models by their sha256. The file is read, its size and sha256 checked, and its spec read
 * from its own metadata before a session is created from exactly those bytes; the session's
 * graph must match the spec. Nothing but the file's bytes and the input bytes decides what a
 * result is. Sessions are cached per hash; a failed load is not cached.
 */
export class ModelStore {
  readonly dir: string;
  readonly maxModelBytes: number;
  private readonly sessionOptions: ort.InferenceSession.SessionOptions;
  private readonly sessions = new Map<string, Promise<LoadedModel>>();
  private closed = false;
  private closing?: Promise<void>;

  constructor(options: ModelStoreOptions = {}) {
    this.dir = options.dir ?? DEFAULT_MODELS_DIR;
    this.maxModelBytes = options.maxModelBytes ?? DEFAULT_MAX_MODEL_BYTES;
    this.sessionOptions = { ...DEFAULT_SESSION_OPTIONS, ...options.sessionOptions };
  }

  /** Loads (once) the model with this hash. */
  load(modelHash: string): Promise<LoadedModel> {
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

  /** The spec of a model (loading it). */
  async spec(modelHash: string): Promise<ModelSpec> {
    return (await this.load(modelHash)).spec;
  }

  private async create(modelHash: string): Promise<LoadedModel> {
    const file = findModelFile(this.dir, modelHash, this.maxModelBytes);
    if (!file) throw new UnknownModelError(modelHash, this.dir);
    const size = (await fs.promises.stat(file)).size;
    if (size > this.maxModelBytes) throw new ModelTooLargeError(size, this.maxModelBytes);
    const bytes = await fs.promises.readFile(file);
    const actual = sha256Hex(bytes);
    if (actual !== modelHash) throw new ModelHashMismatchError(file, modelHash, actual);
    const spec = readModelSpec(bytes);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, this.sessionOptions);
    } catch (cause) {
      throw new ModelLoadError(`onnxruntime refused the model: ${String((cause as Error)?.message ?? cause).split("\n")[0].slice(0, 300)}`, { cause });
    }
    try {
      return { spec, session, stackable: matchSpec(session, spec) };
    } catch (err) {
      await session.release().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Runs one inference: decodes the fixed-point input, runs the model, encodes the output.
   * An input the model does not accept gives `{status: InputOutOfRange, output: "0x"}`.
   */
  async infer(modelHash: string, input: string | Uint8Array): Promise<EncodedOutput> {
    const { spec, session } = await this.load(modelHash);
    const decoded = decodeInput(input, spec);
    if (decoded.status !== ResultStatus.Ok) return failure(decoded.status);
    const feeds = { [spec.input.name]: new ort.Tensor(spec.input.type, decoded.data, spec.input.shape) };
    const results = await session.run(feeds, [spec.output.name]);
    return encodeOutput(results[spec.output.name].data as Float32Array, spec);
  }

  /**
   * Runs many inputs of one model; results in input order, each exactly what {@link infer} gives
   * for it alone, as bytes. When the model's graph has a symbolic batch dimension, the accepted
   * inputs are stacked into one `[k, n]` tensor and run in ONE session.run; otherwise (a model
   * with a fixed `[1, n]` input) they run one by one. Stacking is sound only because each row's
   * output is bit-identical to a batch of one under these session options: test/oracle/models/
   * stacking.test.ts checks that for every committed model. An input the model refuses
   * (InputOutOfRange) is left out of the stack and gets its failure status; bytes that are not
   * the model's length in its encoding throw InputEncodingError, as {@link infer} does.
   */
  async inferStacked(modelHash: string, inputs: readonly Uint8Array[]): Promise<EncodedOutputBytes[]> {
    const { spec, session, stackable } = await this.load(modelHash);
    const results: EncodedOutputBytes[] = new Array(inputs.length);
    const n = spec.input.length;
    const m = spec.output.length;
    if (!stackable) {
      for (let i = 0; i < inputs.length; i++) {
        const decoded = decodeInput(inputs[i], spec);
        if (decoded.status !== ResultStatus.Ok) {
          results[i] = { status: decoded.status, output: NO_BYTES };
          continue;
        }
        const out = await session.run({ [spec.input.name]: new ort.Tensor(spec.input.type, decoded.data, spec.input.shape) }, [spec.output.name]);
        results[i] = encodeOutputBytes(out[spec.output.name].data as Float32Array, 0, spec);
      }
      return results;
    }
    const data = allocateTensor(spec.input.type, inputs.length * n);
    const rows: number[] = [];
    for (let i = 0; i < inputs.length; i++) {
      checkInput(inputs[i], spec);
      const refused = decodeInto(inputs[i], spec, data, rows.length * n);
      if (refused) results[i] = { status: refused.status, output: NO_BYTES };
      else rows.push(i);
    }
    if (rows.length === 0) return results;
    const k = rows.length;
    const feed = new ort.Tensor(spec.input.type, k === inputs.length ? data : data.subarray(0, k * n), [k, ...spec.input.shape.slice(1)]);
    const out = await session.run({ [spec.input.name]: feed }, [spec.output.name]);
    const y = out[spec.output.name].data as Float32Array;
    if (y.length !== k * m) throw new OutputShapeError(`model output has ${y.length} values for ${k} rows of ${m}`);
    for (let r = 0; r < k; r++) results[rows[r]] = encodeOutputBytes(y, r * m, spec);
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
