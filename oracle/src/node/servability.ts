/**
 * Whether this node can serve a request, decided BEFORE anything is computed or sent: every rule
 * the chain would otherwise enforce by skipping the result (for good), and every limit of this
 * node. A request that fails a rule is declined: its job fails permanently with the reason, the
 * trail says why (/v1/requests/:id) and `oracle_requests_declined_total{reason}` counts it. It is
 * never retried and never re-queued, and no transaction is spent on it.
 *
 * The rules are pure functions of the request, the registry's record of the model and the node's
 * limits ({@link declineReason}); the {@link ServabilityChecker} gathers the on-chain facts (cached
 * for a few seconds per model) and, last, asks the model provisioner (models/provision.ts) for the
 * model file: fetched by its registry URI if need be, sha256 checked, its own spec compared with
 * the registration. That is the one place a model's spec is compared; its refusal is a decline
 * here like any other.
 */
import { Contract, id } from "ethers";
import type { Provider } from "ethers";
import { callbackGas, itemGasPlan, tensorBytes, BATCH_OVERHEAD } from "../chain/gas";
import { shortError } from "../chain/retry";
import { MODEL_REGISTRY_ABI } from "../protocol/abi";
import { PermanentError, TransientError, isPermanent } from "../errors";
import type { InferenceRequest } from "../protocol/request";

/** Why a request is declined (the `reason` label of the metric). */
export type DeclineReason =
  | "input-too-large" | "callback-gas-too-high" | "does-not-fit-in-a-transaction"
  | "model-spec-mismatch" | "model-unavailable" | "measurement-not-allowed" | "gas-price-above-max" | "malformed-output" | "invalid-status" | "deadline-passed";

/** A request this node will not serve, with the reason and what it means. */
export class DeclinedError extends PermanentError {
  override name = "DeclinedError";
  constructor(readonly declined: DeclineReason, message: string) {
    super(message, { reason: declined });
  }
}

/** The model's record in the ModelRegistry, with whether it allows this node's runner measurement. */
export interface RegistryModel {
  modelHash: string;
  inputLength: number;
  outputLength: number;
  decimals: number;
  measurementAllowed: boolean;
}

/** This node's limits. */
export interface ServabilityLimits {
  maxInputBytes: number;
  /** Highest callback gas limit served (default: the oracle's own maximum, from its config()). */
  maxCallbackGas: number;
  /** Most gas one fulfilBatch may use: min(per-transaction cap, block gas limit). */
  maxBatchGas: bigint;
}

/** What the rules look at. */
export interface ServabilityFacts {
  request: InferenceRequest;
  registry?: RegistryModel;
  measurement: string;
  limits: ServabilityLimits;
  /** Gas price a fulfilment would pay now (base fee + tip), wei; undefined until read. */
  gasPrice?: bigint;
}

type Rule = (f: ServabilityFacts) => [DeclineReason, string] | undefined;

const inputBytes = (request: InferenceRequest) => (request.input.length - 2) / 2;

/** The rules, cheapest first. Each returns the reason and a sentence, or undefined when it holds. */
const RULES: Rule[] = [
  ({ request, limits }) => inputBytes(request) > limits.maxInputBytes
    ? ["input-too-large", `input of ${inputBytes(request)} bytes exceeds ORACLE_MAX_INPUT_BYTES=${limits.maxInputBytes}`] : undefined,
  ({ request, limits }) => request.callbackGasLimit > limits.maxCallbackGas
    ? ["callback-gas-too-high", `callback gas limit ${request.callbackGasLimit} exceeds the maximum served, ${limits.maxCallbackGas}`] : undefined,
  ({ request, registry, limits }) => {
    const alone = BATCH_OVERHEAD + itemGasPlan(request.callbackGasLimit, tensorBytes(registry?.outputLength ?? 0));
    return alone > limits.maxBatchGas
      ? ["does-not-fit-in-a-transaction", `even alone its fulfilment needs up to ${alone} gas (callback ${callbackGas(request.callbackGasLimit)}), above the ${limits.maxBatchGas} one transaction may use`]
      : undefined;
  },
  ({ request, registry, measurement }) => registry && !registry.measurementAllowed
    ? ["measurement-not-allowed", `model ${request.modelId} does not allow this node's runner measurement ${measurement}`] : undefined,
  // The prepayment reimburses gas at min(tx gas price, maxGasPrice): below the current price it
  // cannot cover the submission's cost.
  ({ request, gasPrice }) => gasPrice !== undefined && request.maxGasPrice < gasPrice
    ? ["gas-price-above-max", `the request reimburses gas at most at ${request.maxGasPrice} wei/gas (maxGasPrice), below the chain's current ${gasPrice} wei/gas: its gas prepayment cannot cover its cost`]
    : undefined,
];

/** The first rule the request breaks, or undefined when this node can serve it. */
export function declineReason(facts: ServabilityFacts): DeclinedError | undefined {
  for (const rule of RULES) {
    const broken = rule(facts);
    if (broken) return new DeclinedError(broken[0], broken[1]);
  }
  return undefined;
}

/**
 * `ResultSkipped` reasons (error selectors) that mean the chain will never take a result of this
 * node for the request: the job is declined, not retried. (AlreadyFulfilled, AlreadyExpired and
 * the like mean "settled", and are handled as such by the pipeline.)
 */
const PERMANENT_SKIPS: Record<string, DeclineReason> = {
  [id("InferenceOracleMeasurementNotAllowedForModel(uint256,bytes32)").slice(0, 10)]: "measurement-not-allowed",
  [id("InferenceOracleMalformedOutput(uint256)").slice(0, 10)]: "malformed-output",
  [id("InferenceOracleInvalidStatus(uint8)").slice(0, 10)]: "invalid-status",
  [id("InferenceOracleDeadlinePassed(uint256,uint64)").slice(0, 10)]: "deadline-passed",
};

/** The decline a permanent skip reason stands for, or undefined for a transient or "settled" one. */
export function permanentSkip(selector: string, requestId: string, tx: string): DeclinedError | undefined {
  const reason = PERMANENT_SKIPS[selector.toLowerCase()];
  return reason ? new DeclinedError(reason, `the oracle skipped the result of request ${requestId} in ${tx} with ${reason} (${selector}): it will never accept one from this node`) : undefined;
}

/** Makes a model file servable or refuses it (models/provision.ts `ModelProvisioner`). */
export interface ModelPreparer {
  /** Resolves when the file is cached and equals its registration; rejects with a permanent error and its `reason` to decline. */
  prepare(modelId: bigint, modelHash: string): Promise<unknown>;
}

export interface ServabilityDeps {
  provider: Provider;
  modelRegistry: string;
  /** The model files: fetched, hash-checked and compared with their registration before any job of them runs. */
  models: ModelPreparer;
  /** The runners' measurement. */
  measurement: () => string;
  /** The gas price a fulfilment would pay now (base fee + tip), wei. */
  gasPrice: () => Promise<bigint>;
  limits: ServabilityLimits;
  /** How long the registry's answer for a model is reused (default 5 s). */
  cacheMs?: number;
}

/** A transient failure to read the registry or the gas price: the job is retried, not declined. */
export class RegistryReadError extends TransientError {
  override name = "RegistryReadError";
}

export class ServabilityChecker {
  private readonly registry: Contract;
  private readonly cache = new Map<string, { at: number; model: Promise<RegistryModel> }>();

  constructor(private readonly deps: ServabilityDeps) {
    this.registry = new Contract(deps.modelRegistry, MODEL_REGISTRY_ABI, deps.provider);
  }

  /** Resolves with the gas the job may add to a batch; throws {@link DeclinedError} when the node must not serve it. */
  async check(request: InferenceRequest): Promise<bigint> {
    const facts: ServabilityFacts = { request, measurement: this.deps.measurement(), limits: this.deps.limits };
    const early = declineReason(facts);
    if (early) throw early;
    [facts.registry, facts.gasPrice] = await Promise.all([this.registryModel(request.modelId, facts.measurement), this.gasPrice()]);
    const late = declineReason(facts);
    if (late) throw late;
    await this.prepareModel(request);
    return itemGasPlan(request.callbackGasLimit, tensorBytes(facts.registry!.outputLength));
  }

  /** The model file, last (it may be fetched): a refusal is a decline, anything else a retry. */
  private async prepareModel(request: InferenceRequest): Promise<void> {
    try {
      await this.deps.models.prepare(request.modelId, request.modelHash);
    } catch (err) {
      if (!isPermanent(err)) throw new RegistryReadError((err as Error).message, { cause: err });
      throw new DeclinedError(err.reason === "spec-mismatch" ? "model-spec-mismatch" : "model-unavailable", err.message);
    }
  }

  private async gasPrice(): Promise<bigint> {
    try {
      return await this.deps.gasPrice();
    } catch (err) {
      throw new RegistryReadError(`reading the gas price failed: ${shortError(err)}`, { cause: err });
    }
  }

  private registryModel(modelId: bigint, measurement: string): Promise<RegistryModel> {
    const key = `${modelId}:${measurement}`;
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < (this.deps.cacheMs ?? 5000)) return hit.model;
    const model = this.readModel(modelId, measurement);
    this.cache.set(key, { at: Date.now(), model });
    model.catch(() => { if (this.cache.get(key)?.model === model) this.cache.delete(key); });
    return model;
  }

  private async readModel(modelId: bigint, measurement: string): Promise<RegistryModel> {
    try {
      const [m, allowed] = await Promise.all([this.registry.getModel(modelId), this.registry.isMeasurementAllowed(modelId, measurement)]);
      return {
        modelHash: m.modelHash, inputLength: Number(m.inputLength), outputLength: Number(m.outputLength), decimals: Number(m.decimals),
        measurementAllowed: allowed,
      };
    } catch (err) {
      throw new RegistryReadError(`reading model ${modelId} from the ModelRegistry failed: ${shortError(err)}`, { cause: err });
    }
  }
}
