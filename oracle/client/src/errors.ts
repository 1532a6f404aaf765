/**
 * The client's errors: one base class with a short message, details and `cause`, and a named
 * error per failure. A revert of the oracle, a registry or a consumer arrives as an
 * {@link OracleContractError} carrying the contract's named error and its arguments, decoded by
 * selector from the ABIs the contracts package ships.
 */
import { Interface, isHexString, type ErrorDescription } from "ethers";
import EnclaveRegistryAbi from "../../../contracts/abi/EnclaveRegistry.json";
import EquivocationSlasherAbi from "../../../contracts/abi/EquivocationSlasher.json";
import InferenceConsumerAbi from "../../../contracts/abi/InferenceConsumer.json";
import InferenceOracleAbi from "../../../contracts/abi/InferenceOracle.json";
import ModelRegistryAbi from "../../../contracts/abi/ModelRegistry.json";
import OperatorBondsAbi from "../../../contracts/abi/OperatorBonds.json";

export class OracleClientError extends Error {
  override name = "OracleClientError";
  /** What the caller may need to act on, beyond the short message. */
  readonly details?: string;

  constructor(message: string, opts: { details?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.details = opts.details;
  }
}

/** A contract reverted with one of its named errors (or a plain reason / panic). */
export class OracleContractError extends OracleClientError {
  override name = "OracleContractError";
  /** The error's name, e.g. `InferenceOracleFeeAboveMax`; `Error` for a reason string, `Panic` for a panic. */
  readonly errorName: string;
  /** The error's arguments, by position and, where the ABI names them, by name. */
  readonly args: Record<string, unknown> & unknown[];
  /** The 4-byte selector of the revert data. */
  readonly selector: string;

  constructor(error: ErrorDescription, cause: unknown) {
    const args = Object.assign([...error.args], namedArgs(error));
    super(`${error.name}(${[...error.args].map(String).join(", ")})`, { cause });
    this.errorName = error.name;
    this.args = args;
    this.selector = error.selector;
  }
}

/** The call reverted with data no known ABI describes. */
export class UnknownRevertError extends OracleClientError {
  override name = "UnknownRevertError";
  constructor(readonly data: string, cause: unknown) {
    super(`reverted with unknown data ${data.slice(0, 10)}`, { details: data, cause });
  }
}

/** No request has this id on this oracle (or its event is before the client's `fromBlock`). */
export class UnknownRequestError extends OracleClientError {
  override name = "UnknownRequestError";
  constructor(readonly requestId: bigint) {
    super(`request ${requestId} not found`, { details: "check the oracle address, the chain, and the client's fromBlock" });
  }
}

/** No model has this id. */
export class UnknownModelError extends OracleClientError {
  override name = "UnknownModelError";
  constructor(readonly modelId: bigint) {
    super(`model ${modelId} not found`);
  }
}

/** The input does not fit the model (length or encoding); nothing was sent. */
export class InvalidInputError extends OracleClientError {
  override name = "InvalidInputError";
}

/** The result did not arrive in time. The request may still be fulfilled later, or expired after its deadline. */
export class OracleTimeoutError extends OracleClientError {
  override name = "OracleTimeoutError";
  constructor(readonly requestId: bigint, readonly timeoutMs: number) {
    super(`request ${requestId}: no result within ${timeoutMs} ms`, { details: "wait again, or expire it after its deadline" });
  }
}

function namedArgs(error: ErrorDescription): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  error.fragment.inputs.forEach((input, i) => {
    if (input.name) out[input.name] = error.args[i];
  });
  return out;
}

function errorFragments(abi: readonly { type: string }[]): { type: string }[] {
  return abi.filter((f) => f.type === "error");
}

/** Every named error of the oracle, the registries, the bonds, the slasher and the consumer base, by selector. */
export const ERRORS_INTERFACE = new Interface(dedupe([
  ...errorFragments(InferenceOracleAbi), ...errorFragments(ModelRegistryAbi), ...errorFragments(EnclaveRegistryAbi),
  ...errorFragments(OperatorBondsAbi), ...errorFragments(EquivocationSlasherAbi), ...errorFragments(InferenceConsumerAbi),
]));

function dedupe(fragments: { type: string }[]): { type: string }[] {
  const seen = new Set<string>();
  return fragments.filter((f) => {
    const key = JSON.stringify(f);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The revert data inside an ethers error, wherever the provider put it. */
export function revertData(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const walk = (e: unknown): string | undefined => {
    if (!e || typeof e !== "object" || seen.has(e)) return undefined;
    seen.add(e);
    const o = e as Record<string, unknown>;
    if (typeof o.data === "string" && isHexString(o.data) && o.data.length >= 10) return o.data;
    for (const k of ["data", "error", "info", "cause"]) {
      const hit = walk(o[k]);
      if (hit) return hit;
    }
    return undefined;
  };
  return walk(err);
}

/** Decodes revert data into the contracts' named error, or undefined when no ABI knows its selector. */
export function decodeRevert(data: string): ErrorDescription | undefined {
  try {
    return ERRORS_INTERFACE.parseError(data) ?? undefined;
  } catch {
    return undefined;
  }
}

/** The typed error for anything a contract call threw: a named contract error if there is revert data. */
export function toClientError(err: unknown): Error {
  if (err instanceof OracleClientError) return err;
  const data = revertData(err);
  if (!data) return err instanceof Error ? err : new OracleClientError(String(err));
  const decoded = decodeRevert(data);
  return decoded ? new OracleContractError(decoded, err) : new UnknownRevertError(data, err);
}

/** Runs a contract call and throws {@link toClientError} of whatever it throws. */
export async function withContractErrors<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toClientError(err);
  }
}
