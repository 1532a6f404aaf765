/**
 * Makes a registered model servable before a job of it reaches a runner: reads its registration
 * (URI and on-chain spec) from the ModelRegistry, fetches the file into the cache by that URI if
 * it is not there (fetch.ts: sha256 checked first), and checks that the file's own spec equals
 * the registration and passes the static checks (check.ts). A model that fails is declined with
 * a reason, and stays declined (a transient fetch failure — busy, timeout, network — is retried
 * by the caller instead). The node calls this from its pipeline; a decline fails the job
 * permanently, so the request expires and is refunded, and the trail and metrics carry the reason.
 */
import * as fs from "node:fs";
import { Contract, type Provider } from "ethers";
import { PermanentError, TransientError } from "../errors";
import { MODEL_REGISTRY_ABI } from "../protocol/abi";
import { staticProblems } from "./check";
import { ModelFetchError, type ModelFetcher } from "./fetch";
import { summarize } from "./inspect";
import { specMismatches } from "./publish";
import { type ModelSpec, readModelSpec } from "./spec";

/** Why a model is not served: a short machine reason and words for the trail. */
export class ModelDeclinedError extends PermanentError {
  override name = "ModelDeclinedError";
  constructor(readonly modelHash: string, reason: string, message: string) {
    super(`model ${modelHash} declined (${reason}): ${message}`, { reason });
  }
}

/** A model fetch that may succeed later (busy, timeout, network). */
export class ModelNotReadyError extends TransientError {
  override name = "ModelNotReadyError";
}

export interface ModelRegistration {
  modelHash: string;
  uri: string;
  inputLength?: number;
  outputLength?: number;
  decimals?: number;
  inputEncoding?: number;
  determinism?: number;
}

/** Reads a model's registration from the chain. */
export type RegistrationReader = (modelId: bigint) => Promise<ModelRegistration>;

/** The ModelRegistry's `getModel`, as a {@link RegistrationReader}. */
export function registryReader(provider: Provider, registry: string): RegistrationReader {
  const c = new Contract(registry, MODEL_REGISTRY_ABI, provider);
  return async (modelId) => {
    const m = await c.getModel(modelId);
    return {
      modelHash: m.modelHash, uri: m.uri, inputLength: Number(m.inputLength), outputLength: Number(m.outputLength), decimals: Number(m.decimals),
      inputEncoding: Number(m.inputEncoding), determinism: Number(m.determinism),
    };
  };
}

/** Decline reasons that depend on a model id's registration, not on the file. */
const REGISTRATION_REASONS = new Set(["hash-mismatch", "spec-mismatch"]);

export class ModelProvisioner {
  private readonly ready = new Map<string, ModelSpec>();
  private readonly declined = new Map<string, ModelDeclinedError>();

  constructor(private readonly deps: { fetcher: ModelFetcher; registration: RegistrationReader; onDecline?: (err: ModelDeclinedError) => void }) {}

  /** Models declined so far: hash → reason. */
  declinedModels(): Map<string, string> {
    return new Map([...this.declined].map(([h, e]) => [h, e.message]));
  }

  /** The spec of a servable model; throws ModelDeclinedError or ModelNotReadyError. */
  async prepare(modelId: bigint, modelHash: string): Promise<ModelSpec> {
    const hash = modelHash.toLowerCase();
    // Ready per registration (model id): each registration of a hash is checked against the file.
    const ok = this.ready.get(`${hash}#${modelId}`);
    if (ok && this.deps.fetcher.cache.has(hash)) return ok;
    const no = this.declined.get(hash) ?? this.declined.get(`${hash}#${modelId}`);
    if (no) throw no;
    let spec: ModelSpec;
    try {
      spec = await this.provision(modelId, hash);
    } catch (err) {
      if (err instanceof ModelDeclinedError) {
        // A registration that lies about a file declines that registration (model id), not the
        // file: anyone can register a copy of a served model's hash, and must not switch it off.
        this.declined.set(REGISTRATION_REASONS.has(err.reason) ? `${hash}#${modelId}` : hash, err);
        this.deps.onDecline?.(err);
      }
      throw err;
    }
    this.ready.set(`${hash}#${modelId}`, spec);
    return spec;
  }

  private async readRegistration(modelId: bigint): Promise<ModelRegistration> {
    try {
      return await this.deps.registration(modelId);
    } catch (err) {
      throw new ModelNotReadyError(`reading model ${modelId} from the ModelRegistry failed: ${(err as Error).message}`);
    }
  }

  private async provision(modelId: bigint, hash: string): Promise<ModelSpec> {
    const decline = (reason: string, message: string) => new ModelDeclinedError(hash, reason, message);
    let file: string;
    const cache = this.deps.fetcher.cache;
    let reg: ModelRegistration | undefined;
    if (cache.has(hash)) file = cache.path(hash);
    else {
      reg = await this.readRegistration(modelId);
      if (String(reg.modelHash).toLowerCase() !== hash) throw decline("hash-mismatch", `the registry says model ${modelId} is ${reg.modelHash}`);
      try {
        file = await this.deps.fetcher.ensure(hash, reg.uri);
      } catch (err) {
        if (err instanceof ModelFetchError && err.transient) throw new ModelNotReadyError(`fetching ${reg.uri}: ${err.message}`);
        if (err instanceof ModelFetchError) throw decline(`fetch-${err.reason}`, err.message);
        throw err;
      }
    }
    const bytes = fs.readFileSync(file);
    let spec: ModelSpec;
    try {
      spec = readModelSpec(bytes);
    } catch (err) {
      throw decline("no-spec", (err as Error).message.split("\n")[0]);
    }
    const problems = staticProblems(summarize(bytes));
    if (problems.length) throw decline("check", problems.map((p) => `${p.message} (${p.fix})`).join("; "));
    // Every registration is compared with the file before it is served: a failed read is a
    // "not yet" (retried), never a pass.
    reg ??= await this.readRegistration(modelId);
    const diff = specMismatches(reg, hash, spec);
    if (diff.length) throw decline("spec-mismatch", `the registration differs from the file's spec: ${diff.join("; ")}`);
    return spec;
  }
}
