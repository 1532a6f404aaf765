/**
 * The work queue between the watcher and the runner pool. One interface, two implementations
 * with the same semantics: BullMQ on Redis (several node processes may share it) and an
 * in-process queue (the one-command demo, no Redis).
 *
 * Semantics both keep:
 * - A job's id is derived from (chainId, oracle address, requestId): adding the same request
 *   twice yields one job (`added: false` the second time), for as long as the queue remembers it.
 * - A handler error that is permanent (an `OracleError` whose `transient` is false: errors.ts)
 *   fails the job at once with its message; any other error is retried with exponential backoff
 *   (`backoffMs · 2^(attempt-1)`) until `attempts` are used up.
 * - Job data holds only public, on-chain facts about the request: never a key or a URL.
 */
import { inferenceRequest, type InferenceRequest } from "../protocol/request";

/**
 * A request as the queue stores it (JSON in Redis: ids and amounts as decimal strings), with the
 * chain and oracle it came from and when the watcher saw it. Everything here is public. Made from
 * the request record by {@link jobOf} and read back into one by {@link requestOf}, only.
 */
export interface InferenceJob {
  chainId: number;
  oracle: string;
  requestId: string;
  modelId: string;
  modelHash: string;
  /** 0x-hex input bytes, in the model's input encoding. */
  input: string;
  callbackGasLimit: number;
  deadline: string;
  /** Fee held, wei, decimal. */
  fee: string;
  /** Wei held for gas, decimal: what the relaying operator can be reimbursed from. */
  gasPrepayment: string;
  /** The most the relaying operator is reimbursed per gas, wei, decimal. */
  maxGasPrice: string;
  redundancy: number;
  requester: string;
  blockNumber: number;
  blockHash: string;
  txHash: string;
  /** Wall-clock ms when the watcher queued it. */
  seenAt: number;
}

export type JobStateName = "waiting" | "delayed" | "active" | "completed" | "failed" | "unknown";

export interface JobContext {
  id: string;
  /** 1 on the first attempt. */
  attempt: number;
}

export type JobHandler = (job: InferenceJob, ctx: JobContext) => Promise<void>;

export interface QueueOptions {
  /** Attempts per job (first try included). */
  attempts: number;
  /** First retry delay in ms; doubles each attempt. */
  backoffMs: number;
}

export interface WorkQueue {
  readonly kind: "bullmq" | "memory";
  /** Adds a job unless one with the same id exists. */
  add(job: InferenceJob): Promise<{ id: string; added: boolean }>;
  /** State of a job, "unknown" if the queue has no such job (never added, removed or flushed). */
  state(id: string): Promise<{ state: JobStateName; failedReason?: string; attempts?: number }>;
  /** Puts a failed job back in the queue (used when its request is still pending on-chain). */
  retry(id: string): Promise<void>;
  /** Starts consuming with `concurrency` jobs at once. */
  process(handler: JobHandler, concurrency: number): void;
  /** Stops taking new jobs and waits for the active ones to finish. Idempotent. */
  stopProcessing(): Promise<void>;
  /** Job counts by state. */
  counts(): Promise<Record<string, number>>;
  /** True when the backing store answers. */
  ping(): Promise<boolean>;
  /** Stops processing and releases every resource. Idempotent. */
  close(): Promise<void>;
}

/** The job for a request the watcher saw at `seenAt` on `oracle` of chain `chainId`. */
export function jobOf(request: InferenceRequest, source: { chainId: number; oracle: string; seenAt: number }): InferenceJob {
  return {
    chainId: source.chainId, oracle: source.oracle, requestId: request.requestId.toString(), modelId: request.modelId.toString(),
    modelHash: request.modelHash, input: request.input, callbackGasLimit: Number(request.callbackGasLimit), deadline: request.deadline.toString(),
    fee: request.fee.toString(), gasPrepayment: request.gasPrepayment.toString(), maxGasPrice: request.maxGasPrice.toString(),
    redundancy: Number(request.redundancy), requester: request.requester, blockNumber: request.event.blockNumber,
    blockHash: request.event.blockHash, txHash: request.event.txHash, seenAt: source.seenAt,
  };
}

/** The request a job carries, as the record (its input and commitment hashed again here). */
export function requestOf(job: InferenceJob): InferenceRequest {
  return inferenceRequest({
    requestId: BigInt(job.requestId), modelId: BigInt(job.modelId), requester: job.requester, modelHash: job.modelHash, input: job.input,
    fee: BigInt(job.fee), gasPrepayment: BigInt(job.gasPrepayment), maxGasPrice: BigInt(job.maxGasPrice),
    callbackGasLimit: BigInt(job.callbackGasLimit), deadline: BigInt(job.deadline), redundancy: BigInt(job.redundancy),
  }, { blockNumber: job.blockNumber, blockHash: job.blockHash, txHash: job.txHash });
}

/** The job id of a request: stable across nodes and restarts, free of ':' (BullMQ reserves it). */
export function jobId(chainId: number | bigint, oracle: string, requestId: bigint | string): string {
  return `${chainId}-${oracle.toLowerCase()}-${requestId.toString()}`;
}

/** Retry delay before attempt `attempt + 1`. */
export function backoffDelay(backoffMs: number, attempt: number): number {
  return backoffMs * 2 ** Math.max(0, attempt - 1);
}
