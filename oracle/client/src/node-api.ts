/**
 * A node's description of the models it serves (`GET /v1/models` of its HTTP API): names,
 * feature names and output labels, from each model file's metadata. The registry holds only
 * what the chain checks (hash, lengths, decimals, fee); labels to decode an output come from here.
 */
import { OracleClientError } from "./errors";

export interface NodeModel {
  name: string;
  /** The on-chain id, when the node's deployment registered it. */
  modelId: number | null;
  /** sha256 of the .onnx file: match it against `ModelInfo.modelHash`. */
  modelHash: string;
  decimals: number;
  description?: string;
  input: { length: number; features?: string[] };
  output: { length: number; labels?: string[] };
}

/** The models a node serves, from its HTTP API (e.g. `oracle dev`'s `apiUrl`). */
export async function fetchNodeModels(apiUrl: string, opts: { timeoutMs?: number } = {}): Promise<NodeModel[]> {
  const url = `${apiUrl.replace(/\/$/, "")}/v1/models`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
  } catch (cause) {
    throw new OracleClientError(`cannot reach ${url}`, { cause });
  }
  if (!res.ok) throw new OracleClientError(`${url} answered HTTP ${res.status}`);
  const body = (await res.json()) as { models?: NodeModel[] };
  if (!Array.isArray(body.models)) throw new OracleClientError(`${url} did not return a model list`);
  return body.models;
}
