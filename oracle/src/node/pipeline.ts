/**
 * From a queued job to a verified fulfilment: re-check the request on-chain, collect jobs into a
 * batch (by size or time window), have one registered runner compute and sign the whole batch,
 * check its answer, submit `fulfilBatch`, and ack each job only when the receipt's events say
 * its request is fulfilled (or was already settled).
 *
 * The queue handler's promise is the ack: it resolves when the request is done on-chain, rejects
 * with a transient error to retry, or with a permanent one to fail the job with its reason.
 */
import { AbiCoder, Contract, JsonRpcProvider, Interface, getAddress, getBytes, keccak256, recoverAddress } from "ethers";
import type { Logger } from "pino";
import { COMMITMENT_TUPLE, ORACLE_ABI, RequestState } from "../chain/abi";
import { shortError } from "../chain/retry";
import { commitmentTuple, type ItemOutcome, type Submitter } from "../chain/submitter";
import { requestLogger } from "../log";
import type { OracleMetrics } from "../metrics";
import { batchDigest, oracleDomain, type InferenceResult } from "../protocol/eip712";
import { InferenceJob, JobContext, PermanentJobError, commitmentOf, isPermanent } from "../queue/types";
import type { RegisteredRunnerPool, SignedBatch } from "./runners";
import type { RequestTracker } from "./tracker";

export interface PipelineOptions {
  batchSize: number;
  batchWindowMs: number;
  maxInputBytes: number;
  maxCallbackGas: number;
}

export interface PipelineDeps {
  provider: JsonRpcProvider;
  chainId: number;
  oracle: string;
  runners: RegisteredRunnerPool;
  submitter: Submitter;
  tracker: RequestTracker;
  metrics: OracleMetrics;
  log: Logger;
}

interface Pending {
  job: InferenceJob;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const iface = new Interface(ORACLE_ABI);
const TOPIC_REQUESTED = iface.getEvent("InferenceRequested")!.topicHash;
const coder = AbiCoder.defaultAbiCoder();

export class TransientError extends Error {
  readonly transient = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TransientError";
  }
}

export class Pipeline {
  private collecting: Pending[] = [];
  private timer?: NodeJS.Timeout;
  private readonly inflight = new Set<Promise<void>>();
  private readonly oracle: Contract;
  private readonly domain;

  constructor(private readonly deps: PipelineDeps, private readonly opts: PipelineOptions) {
    this.oracle = new Contract(deps.oracle, ORACLE_ABI, deps.provider);
    this.domain = oracleDomain(deps.chainId, deps.oracle);
  }

  /** The queue handler. */
  handle = async (job: InferenceJob, ctx: JobContext): Promise<void> => {
    const log = requestLogger(this.deps.log, job.requestId);
    this.deps.metrics.inFlight.inc();
    try {
      const current = await this.precheck(job, log);
      if (!current) return;
      await new Promise<void>((resolve, reject) => this.enqueue({ job: current, resolve, reject }));
    } catch (err) {
      if (isPermanent(err)) {
        this.deps.metrics.requestsFailed.inc({ reason: (err as PermanentJobError).reason ?? "permanent" });
        this.deps.tracker.step(job.requestId, "failed", { step: "failed", detail: (err as Error).message });
        log.warn({ err: (err as Error).message }, "request failed permanently");
      } else {
        log.info({ attempt: ctx.attempt, err: shortError(err) }, "request attempt failed; will retry");
      }
      throw err;
    } finally {
      this.deps.metrics.inFlight.dec();
    }
  };

  /**
   * Limits, request state and reorg check. Returns the job to run (its data re-read from the
   * canonical chain if its block was reorganised) or undefined when there is nothing to do.
   */
  private async precheck(job: InferenceJob, log: Logger): Promise<InferenceJob | undefined> {
    const inputBytes = (job.input.length - 2) / 2;
    if (inputBytes > this.opts.maxInputBytes) {
      throw new PermanentJobError(`input of ${inputBytes} bytes exceeds ORACLE_MAX_INPUT_BYTES=${this.opts.maxInputBytes}`, "input-too-large");
    }
    if (job.callbackGasLimit > this.opts.maxCallbackGas) {
      throw new PermanentJobError(`callback gas limit ${job.callbackGasLimit} exceeds ORACLE_MAX_CALLBACK_GAS=${this.opts.maxCallbackGas}`, "callback-gas-too-high");
    }
    // One call in the common case: while pending, the oracle stores the request's commitment hash,
    // so a match proves the request is pending and is the one we saw. Otherwise ask its state.
    const stored = await this.storedCommitment(job.requestId);
    if (await this.commitmentMatches(job, stored)) return job;
    const state = await this.requestState(job.requestId);
    if (state === RequestState.Fulfilled || state === RequestState.Expired) {
      this.deps.tracker.step(job.requestId, "settled-elsewhere", { step: state === RequestState.Fulfilled ? "already-fulfilled" : "expired" });
      this.deps.metrics.requestsFulfilled.inc({ outcome: "already-settled" });
      log.debug({ state }, "request already settled on-chain; nothing to do");
      return undefined;
    }
    if (state === RequestState.None) {
      // The request's transaction is not on the canonical chain: a reorg dropped it.
      this.deps.tracker.step(job.requestId, "dropped", { step: "dropped", detail: "request not on chain (reorg)" });
      throw new PermanentJobError(`request ${job.requestId} does not exist on-chain (dropped by a reorg)`, "reorged");
    }
    // Pending, but with another commitment: a reorg replaced the request with this id. Find the
    // canonical event and work on that one.
    const topicId = "0x" + BigInt(job.requestId).toString(16).padStart(64, "0");
    const logs = await this.deps.provider.getLogs({
      address: this.deps.oracle, fromBlock: Math.max(0, job.blockNumber - 256), toBlock: "latest", topics: [TOPIC_REQUESTED, topicId],
    }).catch((err) => { throw new TransientError(`getLogs failed: ${shortError(err)}`, { cause: err }); });
    for (const ev of logs.filter((l) => !l.removed).reverse()) {
      const parsed = iface.parseLog(ev)!;
      const moved: InferenceJob = {
        ...job, modelId: (parsed.args.modelId as bigint).toString(), modelHash: parsed.args.modelHash, input: parsed.args.input,
        callbackGasLimit: Number(parsed.args.callbackGasLimit), deadline: (parsed.args.deadline as bigint).toString(),
        fee: (parsed.args.fee as bigint).toString(), redundancy: Number(parsed.args.redundancy), requester: parsed.args.requester,
        blockNumber: ev.blockNumber, blockHash: ev.blockHash, txHash: ev.transactionHash,
      };
      if (await this.commitmentMatches(moved, stored)) {
        log.warn({ oldBlock: job.blockNumber, newBlock: ev.blockNumber }, "request replaced by a reorg; using the canonical event");
        return moved;
      }
    }
    throw new TransientError(`request ${job.requestId} is pending with a commitment no event found yet matches (reorg in progress)`);
  }

  private async storedCommitment(requestId: string): Promise<string> {
    try {
      return await this.oracle.requestCommitment(BigInt(requestId));
    } catch (err) {
      throw new TransientError(`requestCommitment(${requestId}) failed: ${shortError(err)}`, { cause: err });
    }
  }

  /** Compares the job's commitment with the stored one (locally hashed; the contract's pure view if that differs). */
  private async commitmentMatches(job: InferenceJob, stored: string): Promise<boolean> {
    const c = commitmentOf(job);
    if (keccak256(coder.encode([COMMITMENT_TUPLE], [commitmentTuple(c)])) === stored) return true;
    if (/^0x0{63}[0-9a-f]$/i.test(stored)) return false; // none or a final marker: no commitment to compare
    try {
      return (await this.oracle.commitmentHash(commitmentTuple(c))) === stored;
    } catch (err) {
      throw new TransientError(`commitmentHash failed: ${shortError(err)}`, { cause: err });
    }
  }

  private async requestState(requestId: string): Promise<number> {
    try {
      return Number(await this.oracle.requestState(BigInt(requestId)));
    } catch (err) {
      throw new TransientError(`requestState(${requestId}) failed: ${shortError(err)}`, { cause: err });
    }
  }

  private enqueue(p: Pending): void {
    this.collecting.push(p);
    if (this.collecting.length >= this.opts.batchSize) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.opts.batchWindowMs);
  }

  /** Sends what has been collected now (also used when draining at shutdown). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.collecting.length) {
      const batch = this.collecting.splice(0, this.opts.batchSize);
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
    try {
      await this.computeAndSubmit(unique);
    } catch (err) {
      if (isPermanent(err) && unique.length > 1) {
        // One bad job must not fail the others: run each alone, so only it fails.
        await Promise.all(unique.map((p) => this.computeAndSubmit([p]).catch((e) => p.reject(e))));
        return;
      }
      for (const p of unique) p.reject(err);
    }
  }

  private enqueueLater(p: Pending): void {
    setTimeout(() => this.enqueue(p), this.opts.batchWindowMs).unref?.();
  }

  /** Computes, signs, submits and settles one batch; rejects each job it cannot ack. */
  private async computeAndSubmit(batch: Pending[]): Promise<void> {
    const { tracker, metrics, submitter } = this.deps;
    const runner = this.deps.runners.acquire();
    const signed = await runner.inferBatch(batch.map((p) => ({
      requestId: BigInt(p.job.requestId), modelHash: p.job.modelHash, input: getBytes(p.job.input),
    })));
    this.checkBatch(batch, signed, runner.signer);
    for (const p of batch) tracker.step(p.job.requestId, "computed", { step: "computed", detail: `runner ${runner.index} signer ${runner.signer}` });
    const results = signed.results.map((r, i) => ({ request: commitmentOf(batch[i].job), output: r.output, status: r.status }));
    const receipt = await submitter.submitBatch(results, signed.signature, batch.map((p) => p.job.callbackGasLimit), runner.signer,
      (tx) => { for (const p of batch) tracker.step(p.job.requestId, "submitted", { step: "submitted", tx }); });
    const gasEach = Number(receipt.gasUsed) / batch.length;
    for (const p of batch) {
      const outcome = receipt.outcomes.get(p.job.requestId)!;
      await this.settle(p, outcome, gasEach).catch((err) => p.reject(err));
    }
  }

  private async settle(p: Pending, outcome: ItemOutcome, gasEach: number): Promise<void> {
    const { tracker, metrics } = this.deps;
    const log = requestLogger(this.deps.log, p.job.requestId);
    if (outcome.kind === "fulfilled") {
      tracker.step(p.job.requestId, "fulfilled", { step: "confirmed", tx: outcome.tx, block: outcome.block, detail: `gas ~${Math.round(gasEach)}` });
      metrics.requestsFulfilled.inc({ outcome: "fulfilled" });
      metrics.latency.observe((Date.now() - p.job.seenAt) / 1000);
      log.info({ tx: outcome.tx, block: outcome.block }, "request fulfilled");
      p.resolve();
      return;
    }
    // Skipped or no event: done only if the chain says the request is settled.
    const state = await this.requestState(p.job.requestId);
    if (state === RequestState.Fulfilled || state === RequestState.Expired) {
      tracker.step(p.job.requestId, "settled-elsewhere", { step: "already-settled", tx: outcome.tx, detail: outcome.kind === "skipped" ? `ResultSkipped ${outcome.reason}` : undefined });
      metrics.requestsFulfilled.inc({ outcome: "already-settled" });
      p.resolve();
      return;
    }
    const why = outcome.kind === "skipped" ? `ResultSkipped with reason ${outcome.reason}` : "no event for it in the receipt";
    p.reject(new TransientError(`request ${p.job.requestId} not fulfilled by ${outcome.tx}: ${why}`));
  }

  /** The runner's answer must be for these jobs and signed by the registered signer. */
  private checkBatch(batch: Pending[], signed: SignedBatch, signer: string): void {
    if (signed.results.length !== batch.length) throw new TransientError(`runner returned ${signed.results.length} results for ${batch.length} jobs`);
    const results: InferenceResult[] = signed.results.map((r, i) => {
      const job = batch[i].job;
      if (r.requestId.toString() !== job.requestId || r.modelHash.toLowerCase() !== job.modelHash.toLowerCase()
        || r.inputHash !== keccak256(job.input)) {
        throw new TransientError(`runner result ${i} does not match request ${job.requestId}`);
      }
      return { requestId: r.requestId, modelHash: r.modelHash, inputHash: r.inputHash, outputHash: r.outputHash, status: r.status };
    });
    const recovered = recoverAddress(batchDigest(this.domain, results), signed.signature);
    if (getAddress(recovered) !== getAddress(signer)) {
      throw new TransientError(`batch signed by ${recovered}, expected the registered signer ${signer}`);
    }
  }
}

