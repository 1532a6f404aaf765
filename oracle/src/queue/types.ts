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
import { fromHex, keccak256Hex } from "../protocol/bytes";
import type { RequestCommitment } from "../protocol/request";

/** A request as the watcher saw it on-chain. Everything here is public. */
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

/** The commitment `fulfilBatch` needs, rebuilt from the job (i.e. from the request event). */
export function commitmentOf(job: InferenceJob): RequestCommitment {
  return {
    requestId: BigInt(job.requestId), modelId: BigInt(job.modelId), requester: job.requester, modelHash: job.modelHash,
    inputHash: keccak256Hex(fromHex(job.input)), fee: BigInt(job.fee), gasPrepayment: BigInt(job.gasPrepayment),
    maxGasPrice: BigInt(job.maxGasPrice), callbackGasLimit: BigInt(job.callbackGasLimit),
    deadline: BigInt(job.deadline), redundancy: BigInt(job.redundancy),
  };
}

/** The job id of a request: stable across nodes and restarts, free of ':' (BullMQ reserves it). */
export function jobId(chainId: number | bigint, oracle: string, requestId: bigint | string): string {
  return `${chainId}-${oracle.toLowerCase()}-${requestId.toString()}`;
}

/** Retry delay before attempt `attempt + 1`. */
export function backoffDelay(backoffMs: number, attempt: number): number {
  return backoffMs * 2 ** Math.max(0, attempt - 1);
}
