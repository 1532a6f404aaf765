/** The model catalogue, read from the ModelRegistry. */
import type { OracleClient } from "./client";
import { UnknownModelError, withContractErrors, OracleContractError } from "./errors";

export interface ModelInfo {
  modelId: bigint;
  /** sha256 of the .onnx file bytes. */
  modelHash: string;
  inputLength: number;
  outputLength: number;
  /** Fixed-point decimals of input and output (value = v / 10^decimals). */
  decimals: number;
  /** Fee in wei per enclave (a request of redundancy k pays k times, publisher share included). */
  fee: bigint;
  /** 0 = abi.encode(int256[]); 1..4 = packed int8/int16/int32/int64. */
  inputEncoding: number;
  /** 0 = float (deterministic within one runtime build), 1 = bit-exact (integer-only). */
  determinism: number;
  /** The publisher's share of the fee, in basis points. */
  publisherShareBps: number;
  active: boolean;
  publisher: string;
  /** Where the model file can be fetched (checked against modelHash). */
  uri: string;
}

function toModelInfo(modelId: bigint, m: Record<string, unknown>): ModelInfo {
  return {
    modelId,
    modelHash: String(m.modelHash),
    inputLength: Number(m.inputLength),
    outputLength: Number(m.outputLength),
    decimals: Number(m.decimals),
    fee: BigInt(m.fee as bigint),
    inputEncoding: Number(m.inputEncoding ?? 0),
    determinism: Number(m.determinism ?? 0),
    publisherShareBps: Number(m.publisherShareBps ?? 0),
    active: Boolean(m.active),
    publisher: String(m.publisher),
    uri: String(m.uri),
  };
}

/** One model; throws {@link UnknownModelError} for an id the registry does not know. */
export async function getModel(client: OracleClient, modelId: bigint | number): Promise<ModelInfo> {
  const id = BigInt(modelId);
  try {
    const m = await withContractErrors(() => client.modelRegistry.getModel(id));
    return toModelInfo(id, (m as { toObject(): Record<string, unknown> }).toObject());
  } catch (err) {
    if (err instanceof OracleContractError && err.errorName === "ModelRegistryUnknownModel") throw new UnknownModelError(id);
    throw err;
  }
}

/** Every registered model, in id order (inactive ones included: check `active`). */
export async function listModels(client: OracleClient): Promise<ModelInfo[]> {
  const count = Number(await withContractErrors(() => client.modelRegistry.modelCount() as Promise<bigint>));
  return Promise.all(Array.from({ length: count }, (_, i) => getModel(client, BigInt(i + 1))));
}
