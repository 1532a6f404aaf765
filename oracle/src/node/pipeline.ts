/**
 * From a queued job to a verified fulfilment: collect jobs into a batch (by size or time window),
 * re-check the whole batch on-chain in one JSON-RPC batch request (the stored commitment of each
 * request), have one registered runner compute and sign it, check its answer, submit
 * `fulfilBatch`, and ack each job only when the receipt's events say its request is fulfilled (or
 * was already settled).
 *
 * The queue handler's promise is the ack: it resolves when the request is done on-chain, rejects
 * with a transient error to retry, or with a permanent one to fail the job with its reason.
 * Batches are pipelined: the next one is computed and sent while earlier ones await receipts.
 */
import { Contract } from "ethers";
import type { Logger } from "pino";
import { fromHex } from "../protocol/bytes";
import { requestIdTopic } from "../chain/codec";
import { batchGasPlan } from "../chain/gas";
import { shortError } from "../chain/retry";
import type { FastJsonRpcProvider } from "../chain/rpc";
import type { ItemOutcome, Submitter } from "../chain/submitter";
import { requestLogger } from "../log";
import type { OracleMetrics } from "../metrics";
import { ORACLE_ABI, ORACLE_TOPICS, RequestState, oracleInterface } from "../protocol/abi";
import { commitmentTuple, requestFromLog, type InferenceRequest } from "../protocol/request";
import { PermanentError, TransientError, isPermanent } from "../errors";
import { InferenceJob, JobContext, requestOf } from "../queue/types";
import type { RunnerPool } from "./runner-pool";
import { DeclinedError, permanentSkip, type ServabilityChecker } from "./servability";
import type { RequestTracker } from "./tracker";

export interface PipelineOptions {
  batchSize: number;
  batchWindowMs: number;
  /** Most gas one batch may use (per-transaction cap and block gas limit): batches are sized to stay under it. */
  maxBatchGas: bigint;
}

export interface PipelineDeps {
  provider: FastJsonRpcProvider;
  oracle: string;
  /** Hands out a registered runner for each batch. */
  runners: Pick<RunnerPool, "acquire">;
  /** Declines, before any work, what this node cannot or must not serve (the model file included). */
  servability: ServabilityChecker;
  submitter: Submitter;
  tracker: RequestTracker;
  metrics: OracleMetrics;
  log: Logger;
}

interface Pending {
  job: InferenceJob;
  /** The job's request; replaced by the canonical one if a reorg moved it (the state check). */
  request: InferenceRequest;
  /** Most gas the job adds to a batch (servability check). */
  gas: bigint;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const REQUEST_COMMITMENT_SELECTOR = oracleInterface.getFunction("requestCommitment")!.selector;
/** Gas of a batch apart from its items. */
const BATCH_BASE_GAS = batchGasPlan([]);
const FINAL_MARKER = /^0x0{63}[0-9a-f]$/i;

export class Pipeline {
  private collecting: Pending[] = [];
  private collectingGas = 0n;
  private timer?: NodeJS.Timeout;
  private readonly inflight = new Set<Promise<void>>();
  private readonly oracle: Contract;

  constructor(private readonly deps: PipelineDeps, private readonly opts: PipelineOptions) {
    this.oracle = new Contract(deps.oracle, ORACLE_ABI, deps.provider);
  }

  /** The queue handler. */
  handle = async (job: InferenceJob, ctx: JobContext): Promise<void> => {
    this.deps.metrics.inFlight.inc();
    try {
      const request = requestOf(job);
      const gas = await this.deps.servability.check(request);
      await new Promise<void>((resolve, reject) => this.enqueue({ job, request, gas, resolve, reject }));
    } catch (err) {
      const log = requestLogger(this.deps.log, job.requestId);
      if (err instanceof DeclinedError) {
        this.deps.metrics.requestsDeclined.inc({ reason: err.declined });
        this.deps.tracker.step(job.requestId, "declined", { step: "declined", detail: `${err.declined}: ${err.message}` });
        log.warn({ reason: err.declined, why: err.message }, "request declined: this node will not serve it");
      } else if (isPermanent(err)) {
        this.deps.metrics.requestsFailed.inc({ reason: err.reason ?? "permanent" });
        // One terminal step: a request a reorg took off the chain is "dropped", not "failed".
        const status = err.reason === "reorged" ? "dropped" : "failed";
        this.deps.tracker.step(job.requestId, status, { step: status, detail: err.message });
        log.warn({ err: err.message }, "request failed permanently");
      } else {
        log.info({ attempt: ctx.attempt, err: shortError(err) }, "request attempt failed; will retry");
      }
      throw err;
    } finally {
      this.deps.metrics.inFlight.dec();
    }
  };

  /**
   * The on-chain re-check of a whole batch, right before it is computed and submitted: one
   * `requestCommitment` call per request, all in one JSON-RPC batch request. While pending, the
   * oracle stores the request's commitment hash, so a match proves the request is pending and is
   * the one we saw. Jobs that match are returned (ready to run); the others take the slow path
   * (state, reorg) one by one, and are settled or rejected here.
   */
  private async recheck(batch: Pending[]): Promise<Pending[]> {
    let answers;
    try {
      answers = await this.deps.provider.rpc.batch<string>(batch.map((p) => ({
        method: "eth_call",
        params: [{ to: this.deps.oracle, data: REQUEST_COMMITMENT_SELECTOR + requestIdTopic(p.request.requestId).slice(2) }, "latest"],
      })));
    } catch (err) {
      this.deps.metrics.rpcErrors.inc();
      const e = new TransientError(`requestCommitment batch failed: ${shortError(err)}`, { cause: err });
      for (const p of batch) p.reject(e);
      return [];
    }
    const ready: Pending[] = [];
    const slow: Promise<void>[] = [];
    batch.forEach((p, i) => {
      const a = answers[i];
      if (a.error) {
        this.deps.metrics.rpcErrors.inc();
        p.reject(new TransientError(`requestCommitment(${p.job.requestId}) failed: ${shortError(a.error)}`, { cause: a.error }));
        return;
      }
      if (p.request.commitmentHash === a.result) { ready.push(p); return; }
      slow.push(this.mismatch(p, a.result!).then((request) => {
        if (!request) { p.resolve(); return; }
        p.request = request;
        ready.push(p);
      }, (err) => p.reject(err)));
    });
    await Promise.all(slow);
    return ready;
  }

  /**
   * A job whose commitment is not the stored one: settled (undefined: nothing to do), dropped by
   * a reorg (permanent), or replaced by a reorg (the request re-read from the canonical event).
   */
  private async mismatch(p: Pending, stored: string): Promise<InferenceRequest | undefined> {
    const { job, request } = p;
    const log = requestLogger(this.deps.log, job.requestId);
    if (await this.commitmentMatches(request, stored)) return request;
    const state = await this.requestState(request.requestId);
    if (state === RequestState.Fulfilled || state === RequestState.Expired) {
      this.deps.tracker.step(job.requestId, "settled-elsewhere", { step: state === RequestState.Fulfilled ? "already-fulfilled" : "expired" });
      this.deps.metrics.requestsFulfilled.inc({ outcome: "already-settled" });
      log.debug({ state }, "request already settled on-chain; nothing to do");
      return undefined;
    }
    if (state === RequestState.None) {
      // The request's transaction is not on the canonical chain: a reorg dropped it (the tracker
      // records it as "dropped" where permanent failures are recorded).
      throw new PermanentError(`request ${job.requestId} does not exist on-chain (dropped by a reorg)`, { reason: "reorged" });
    }
    // Pending, but with another commitment: a reorg replaced the request with this id. Find the
    // canonical event and work on that one.
    const logs = await this.deps.provider.getLogs({
      address: this.deps.oracle, fromBlock: Math.max(0, request.event.blockNumber - 256), toBlock: "latest",
      topics: [ORACLE_TOPICS.InferenceRequested, requestIdTopic(request.requestId)],
    }).catch((err) => { throw new TransientError(`getLogs failed: ${shortError(err)}`, { cause: err }); });
    for (const ev of logs.filter((l) => !l.removed).reverse()) {
      const moved = requestFromLog(ev);
      if (await this.commitmentMatches(moved, stored)) {
        log.warn({ oldBlock: request.event.blockNumber, newBlock: moved.event.blockNumber }, "request replaced by a reorg; using the canonical event");
        return moved;
      }
    }
    throw new TransientError(`request ${job.requestId} is pending with a commitment no event found yet matches (reorg in progress)`);
  }

  /** Compares the request's commitment with the stored one (locally hashed; the contract's pure view if that differs). */
  private async commitmentMatches(request: InferenceRequest, stored: string): Promise<boolean> {
    if (request.commitmentHash === stored) return true;
    if (FINAL_MARKER.test(stored)) return false; // none or a final marker: no commitment to compare
    try {
      return (await this.oracle.commitmentHash(commitmentTuple(request))) === stored;
    } catch (err) {
      throw new TransientError(`commitmentHash failed: ${shortError(err)}`, { cause: err });
    }
  }

  private async requestState(requestId: bigint): Promise<number> {
    try {
      return Number(await this.oracle.requestState(requestId));
    } catch (err) {
      throw new TransientError(`requestState(${requestId}) failed: ${shortError(err)}`, { cause: err });
    }
  }

  private enqueue(p: Pending): void {
    this.collecting.push(p);
    this.collectingGas += p.gas;
    if (this.collecting.length >= this.opts.batchSize || BATCH_BASE_GAS + this.collectingGas >= this.opts.maxBatchGas) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.opts.batchWindowMs);
  }

  /** Sends what has been collected now (also used when draining at shutdown). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batches = splitByGas(this.collecting.splice(0), this.opts.batchSize, this.opts.maxBatchGas);
    this.collectingGas = 0n;
    for (const batch of batches) {
      const run = this.runBatch(batch).finally(() => this.inflight.delete(run));
      this.inflight.add(run);
    }
  }

  /** Sends any partial batch and waits for every batch in flight. */
  async drain(): Promise<void> {
    this.flush();
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    // Two jobs for one request (a re-queue racing the original) must not share a batch.
    const seen = new Set<string>();
    const unique: Pending[] = [];
    for (const p of batch) {
      if (seen.has(p.job.requestId)) { this.enqueueLater(p); continue; }
      seen.add(p.job.requestId);
      unique.push(p);
    }
    const t0 = Date.now();
    const ready = await this.recheck(unique);
    const recheckMs = Date.now() - t0;
    if (!ready.length) return;
    try {
      await this.computeAndSubmit(ready, recheckMs);
    } catch (err) {
      if (isPermanent(err) && ready.length > 1) {
        // One bad job must not fail the others: run each alone, so only it fails.
        await Promise.all(ready.map((p) => this.computeAndSubmit([p]).catch((e) => p.reject(e))));
        return;
      }
      for (const p of ready) p.reject(err);
    }
  }

  private enqueueLater(p: Pending): void {
    setTimeout(() => this.enqueue(p), this.opts.batchWindowMs).unref?.();
  }

  /** Computes, signs, submits and settles one batch; rejects each job it cannot ack. */
  private async computeAndSubmit(batch: Pending[], recheckMs = 0): Promise<void> {
    const { tracker, metrics, submitter } = this.deps;
    const t0 = Date.now();
    const runner = this.deps.runners.acquire();
    const signed = await runner.inferBatch(batch.map((p) => ({
      requestId: p.request.requestId, modelHash: p.request.modelHash, input: fromHex(p.request.input),
    })));
    // The host gives results for these jobs, in order, under a signature it recovered to
    // `signed.signer` (EnclaveHost.inferBatch). What it cannot know is which signer this node
    // registered: a runner that restarted since acquire() signs with a new, unregistered key.
    if (signed.signer.toLowerCase() !== runner.signer.toLowerCase()) {
      throw new TransientError(`batch signed by ${signed.signer}, expected the registered signer ${runner.signer} (the runner restarted)`);
    }
    const inferMs = Date.now() - t0;
    for (const p of batch) tracker.step(p.job.requestId, "computed", { step: "computed", detail: `runner ${runner.index} signer ${runner.signer}` });
    const results = signed.results.map((r, i) => ({ request: batch[i].request, output: r.output, status: r.status }));
    const receipt = await submitter.submitBatch(results, signed.signature, batch.map((p) => Number(p.request.callbackGasLimit)), runner.signer,
      (tx) => { for (const p of batch) tracker.step(p.job.requestId, "submitted", { step: "submitted", tx }); });
    const gasEach = Number(receipt.gasUsed) / batch.length;
    this.deps.log.info({
      tx: receipt.tx, block: receipt.block, size: batch.length, gasEach: Math.round(gasEach), recheckMs, inferMs, ...receipt.timings,
    }, "batch mined");
    await Promise.all(batch.map((p) => this.settle(p, receipt.outcomes.get(p.job.requestId)!, gasEach).catch((err) => p.reject(err))));
  }

  private async settle(p: Pending, outcome: ItemOutcome, gasEach: number): Promise<void> {
    const { tracker, metrics } = this.deps;
    if (outcome.kind === "fulfilled") {
      tracker.step(p.job.requestId, "fulfilled", { step: "confirmed", tx: outcome.tx, block: outcome.block, detail: `gas ~${Math.round(gasEach)}` });
      metrics.requestsFulfilled.inc({ outcome: "fulfilled" });
      metrics.latency.observe((Date.now() - p.job.seenAt) / 1000);
      // One info line per batch ("batch mined"); per request only at debug level.
      if (this.deps.log.isLevelEnabled("debug")) requestLogger(this.deps.log, p.job.requestId).debug({ tx: outcome.tx, block: outcome.block }, "request fulfilled");
      p.resolve();
      return;
    }
    // Skipped or no event: done only if the chain says the request is settled.
    const state = await this.requestState(p.request.requestId);
    if (state === RequestState.Fulfilled || state === RequestState.Expired) {
      tracker.step(p.job.requestId, "settled-elsewhere", { step: "already-settled", tx: outcome.tx, detail: outcome.kind === "skipped" ? `ResultSkipped ${outcome.reason}` : undefined });
      metrics.requestsFulfilled.inc({ outcome: "already-settled" });
      p.resolve();
      return;
    }
    const never = outcome.kind === "skipped" ? permanentSkip(outcome.reason, p.job.requestId, outcome.tx) : undefined;
    if (never) { p.reject(never); return; }
    const why = outcome.kind === "skipped" ? `ResultSkipped with reason ${outcome.reason}` : "no event for it in the receipt";
    p.reject(new TransientError(`request ${p.job.requestId} not fulfilled by ${outcome.tx}: ${why}`));
  }

}

/**
 * Cuts jobs, in order, into batches of at most `size` jobs whose gas plans fit `maxGas` together.
 * (A job whose plan alone exceeds `maxGas` was declined by the servability check; were one here,
 * it would go alone.)
 */
export function splitByGas<T extends { gas: bigint }>(jobs: T[], size: number, maxGas: bigint): T[][] {
  const out: T[][] = [];
  let batch: T[] = [];
  let gas = BATCH_BASE_GAS;
  for (const j of jobs) {
    if (batch.length && (batch.length >= size || gas + j.gas > maxGas)) {
      out.push(batch);
      batch = [];
      gas = BATCH_BASE_GAS;
    }
    batch.push(j);
    gas += j.gas;
  }
  if (batch.length) out.push(batch);
  return out;
}
