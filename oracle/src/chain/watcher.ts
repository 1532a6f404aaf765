/**
 * The watcher: reads InferenceRequested (and the settling events) by block range with
 * eth_getLogs, `confirmations` blocks behind the head, re-checks each request's `requestState`
 * on-chain and queues the pending ones. It keeps a checkpoint (see checkpoint.ts), notices reorgs
 * by the hash of the last scanned block and re-scans, and reconciles: a request that is still
 * pending on-chain but whose job the queue no longer has (Redis flushed, job failed after too many
 * transient errors) is queued again. The queue's job id makes every re-scan and re-queue harmless.
 */
import { Contract } from "ethers";
import type { Logger } from "pino";
import { ORACLE_ABI, ORACLE_TOPICS, RequestState } from "../protocol/abi";
import type { Checkpoint, CheckpointStore } from "./checkpoint";
import { requestEventOf, requestIdTopic, type RawLog } from "./codec";
import type { FastJsonRpcProvider } from "./rpc";
import { shortError, sleep, withRetry } from "./retry";
import type { OracleMetrics } from "../metrics";
import { requestFromLog, type InferenceRequest } from "../protocol/request";
import { WorkQueue, jobId, jobOf } from "../queue/types";

export interface WatcherOptions {
  confirmations: number;
  pollIntervalMs: number;
  /** First block to scan when there is no checkpoint. */
  startBlock: number;
  maxBlockRange: number;
  reconcileIntervalMs: number;
  /** Blocks re-scanned below the last scanned block when a reorg is noticed (default 64). */
  reorgRewind?: number;
}

/**
 * The record of requests the watcher keeps up to date (the node's `RequestTracker`): the chain
 * layer names what it needs of it and does not import the node.
 */
export interface RequestLog {
  get(requestId: string): { status: string } | undefined;
  isSettled(requestId: string): boolean;
  step(
    requestId: string,
    status: "seen" | "queued" | "fulfilled" | "settled-elsewhere" | "failed",
    step: { step: string; block?: number; tx?: string; detail?: string },
    init?: { modelId?: string; blockNumber?: number },
  ): void;
  /** Requests seen and not settled, with the time of their last step. */
  pending(): { requestId: string; blockNumber: number; trail: { at: string }[] }[];
  /** Lowest block holding an unsettled request, or undefined when all are settled. */
  lowestPendingBlock(): number | undefined;
}

export interface WatcherDeps {
  provider: FastJsonRpcProvider;
  chainId: number;
  oracle: string;
  queue: WorkQueue;
  checkpoints: CheckpointStore;
  tracker: RequestLog;
  metrics: OracleMetrics;
  log: Logger;
}

const TOPIC_REQUESTED = ORACLE_TOPICS.InferenceRequested;
const TOPIC_FULFILLED = ORACLE_TOPICS.InferenceFulfilled;
const TOPIC_EXPIRED = ORACLE_TOPICS.InferenceExpired;
const hex = (n: number) => "0x" + n.toString(16);

export class Watcher {
  private cp?: Checkpoint;
  private running = false;
  private loop?: Promise<void>;
  private lastReconcile = 0;
  /** Blocks up to here are a backfill (scanned before, by an earlier run): their requests are re-checked on-chain before queuing. */
  private backfillUntil = -1;
  private readonly oracleContract: Contract;
  /** Last head seen and when, for readiness. */
  lastHead = -1;
  lastPollAt = 0;

  constructor(private readonly deps: WatcherDeps, private readonly opts: WatcherOptions) {
    this.oracleContract = new Contract(deps.oracle, ORACLE_ABI, deps.provider);
  }

  get scannedBlock(): number {
    return this.cp?.scannedBlock ?? this.opts.startBlock - 1;
  }

  /** Loads the checkpoint and starts polling. Resolves once the loop is running. */
  async start(): Promise<void> {
    if (this.running) return;
    const loaded = await this.deps.checkpoints.load();
    const from = loaded ? Math.max(loaded.settledBlock + 1, this.opts.startBlock) : this.opts.startBlock;
    // Re-scan from the settled watermark: requests between it and the old scanned block are
    // re-checked on-chain and re-queued if pending (their jobs may be gone with Redis).
    this.cp = { scannedBlock: from - 1, scannedHash: "", settledBlock: from - 1 };
    this.backfillUntil = loaded?.scannedBlock ?? -1;
    this.deps.log.info({ from, checkpoint: loaded }, "watcher starting");
    this.running = true;
    this.loop = this.run();
  }

  /** Stops intake; waits for the current poll to finish. Idempotent. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.pollOnce();
        if (Date.now() - this.lastReconcile >= this.opts.reconcileIntervalMs) {
          this.lastReconcile = Date.now();
          await this.reconcile();
        }
      } catch (err) {
        this.deps.metrics.rpcErrors.inc();
        this.deps.log.warn({ err: shortError(err) }, "watcher poll failed; will retry");
      }
      if (this.running) await sleep(this.opts.pollIntervalMs);
    }
  }

  private rpc<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(fn, {
      what, log: this.deps.log, attempts: 5, baseMs: 100,
      onError: () => this.deps.metrics.rpcErrors.inc(), aborted: () => !this.running,
    });
  }

  /** Scans every confirmed block not yet scanned. Returns the number of blocks scanned. */
  async pollOnce(): Promise<number> {
    if (!this.cp) throw new Error("watcher not started");
    const head = await this.rpc("eth_blockNumber", async () => Number(await this.deps.provider.rpc.call<string>("eth_blockNumber")));
    this.lastHead = head;
    this.lastPollAt = Date.now();
    await this.checkReorg(head);
    const target = head - this.opts.confirmations;
    let scanned = 0;
    while (this.cp.scannedBlock < target && (this.running || scanned === 0)) {
      const from = this.cp.scannedBlock + 1;
      const to = Math.min(target, from + this.opts.maxBlockRange - 1);
      const logs = await this.getLogs(from, to, [[TOPIC_REQUESTED, TOPIC_FULFILLED, TOPIC_EXPIRED]]);
      await this.handleLogs(logs);
      const block = await this.blockAt(to);
      if (!block?.hash) throw new Error(`block ${to} not found (reorg in progress?)`);
      this.cp.scannedBlock = to;
      this.cp.scannedHash = block.hash;
      scanned += to - from + 1;
      await this.saveCheckpoint();
      this.deps.metrics.watcherBlock.set(to);
    }
    return scanned;
  }

  private async checkReorg(head: number): Promise<void> {
    const cp = this.cp!;
    if (!cp.scannedHash) return;
    const block = cp.scannedBlock <= head
      ? await this.blockAt(cp.scannedBlock) : null;
    if (block?.hash === cp.scannedHash) return;
    const rewindTo = Math.max(this.opts.startBlock - 1, Math.min(cp.scannedBlock, head) - (this.opts.reorgRewind ?? 64));
    this.deps.log.warn({ scannedBlock: cp.scannedBlock, head, rewindTo }, "reorg: last scanned block changed; re-scanning");
    cp.scannedBlock = rewindTo;
    cp.scannedHash = "";
    cp.settledBlock = Math.min(cp.settledBlock, rewindTo);
  }

  /** Raw `eth_getLogs` of the oracle (decoded by codec.ts, not by ethers' formatters). */
  private getLogs(from: number, to: number, topics: (string | string[])[]): Promise<RawLog[]> {
    return this.rpc("eth_getLogs", () => this.deps.provider.rpc.call<RawLog[]>("eth_getLogs", [
      { address: this.deps.oracle, fromBlock: hex(from), toBlock: hex(to), topics },
    ]));
  }

  private blockAt(n: number): Promise<{ hash: string } | null> {
    return this.rpc("eth_getBlockByNumber", () => this.deps.provider.rpc.call<{ hash: string } | null>("eth_getBlockByNumber", [hex(n), false]));
  }

  private async handleLogs(logs: RawLog[]): Promise<void> {
    // One entry per request id: an RPC may return a log twice (overlapping ranges, buggy nodes).
    const requested = new Map<string, InferenceRequest>();
    const seenAt = Date.now();
    for (const log of logs) {
      if (log.removed) continue;
      const ref = requestEventOf(log);
      if (!ref) continue;
      const requestId = ref.requestId.toString();
      const blockNumber = Number(log.blockNumber);
      if (ref.name === "InferenceRequested") {
        this.deps.metrics.requestsSeen.inc();
        if (requested.has(requestId)) continue;
        requested.set(requestId, requestFromLog(log));
      } else if (ref.name === "InferenceFulfilled" || ref.name === "InferenceExpired") {
        const rec = this.deps.tracker.get(requestId);
        if (rec && !this.deps.tracker.isSettled(requestId)) {
          const mine = rec.status === "submitted";
          this.deps.tracker.step(requestId, ref.name === "InferenceExpired" ? "settled-elsewhere" : mine ? "fulfilled" : "settled-elsewhere",
            { step: ref.name === "InferenceExpired" ? "expired" : "fulfilled-on-chain", block: blockNumber, tx: log.transactionHash });
        }
      }
    }
    // Re-check every request on-chain before queuing it: a duplicate event, a request fulfilled by
    // another node, or one expired meanwhile costs one eth_call and no job.
    const requests = [...requested.values()];
    for (let i = 0; i < requests.length; i += 200) {
      await Promise.all(requests.slice(i, i + 200).map((request) => this.consider(request, seenAt)));
    }
  }

  private async consider(request: InferenceRequest, seenAt: number): Promise<void> {
    const { tracker, log } = this.deps;
    const id = request.requestId.toString();
    const { blockNumber, txHash } = request.event;
    if (tracker.isSettled(id)) return;
    if (!tracker.get(id)) {
      tracker.step(id, "seen", { step: "seen", block: blockNumber, tx: txHash }, { modelId: request.modelId.toString(), blockNumber });
    }
    // A request first seen now, just confirmed, is pending unless settled within its confirmations;
    // the pipeline re-checks it against the stored commitment before any result is submitted.
    // Backfilled requests (seen by an earlier run, jobs possibly lost) are checked here first.
    const state = blockNumber > this.backfillUntil ? RequestState.Pending
      : Number(await this.rpc("requestState", () => this.oracleContract.requestState(request.requestId)));
    if (state === RequestState.Pending) {
      const { added } = await this.deps.queue.add(jobOf(request, { chainId: this.deps.chainId, oracle: this.deps.oracle, seenAt }));
      if (added) {
        this.deps.metrics.requestsQueued.inc();
        tracker.step(id, "queued", { step: "queued" });
        log.debug({ requestId: id, block: blockNumber }, "request queued");
      }
    } else if (state === RequestState.Fulfilled || state === RequestState.Expired) {
      tracker.step(id, "settled-elsewhere", { step: state === RequestState.Fulfilled ? "already-fulfilled" : "expired" });
    }
    // State None for a confirmed event means the chain is reorganising: the next scan decides.
  }

  /**
   * Re-queues pending requests whose job is gone (Redis flushed) or failed for transient reasons,
   * and settles those that are done on-chain.
   */
  async reconcile(): Promise<{ requeued: number; settled: number }> {
    const { tracker, queue, log } = this.deps;
    let requeued = 0;
    let settled = 0;
    const staleBefore = Date.now() - this.opts.reconcileIntervalMs;
    const candidates = tracker.pending().filter((r) => Date.parse(r.trail[r.trail.length - 1].at) < staleBefore);
    for (let i = 0; i < candidates.length; i += 200) {
      await Promise.all(candidates.slice(i, i + 200).map(async (rec) => {
        const id = jobId(this.deps.chainId, this.deps.oracle, rec.requestId);
        const js = await queue.state(id);
        if (js.state === "waiting" || js.state === "active" || js.state === "delayed") return;
        if (js.state === "failed" && js.failedReason?.startsWith("permanent")) {
          tracker.step(rec.requestId, "failed", { step: "failed", detail: js.failedReason });
          return;
        }
        const state = Number(await this.rpc("requestState", () => this.oracleContract.requestState(BigInt(rec.requestId))));
        if (state === RequestState.Fulfilled || state === RequestState.Expired) {
          tracker.step(rec.requestId, "settled-elsewhere", { step: state === RequestState.Fulfilled ? "fulfilled-on-chain" : "expired" });
          settled++;
        } else if (state === RequestState.Pending && (js.state === "unknown" || js.state === "failed")) {
          if (js.state === "failed") await queue.retry(id);
          else await this.requeue(rec.requestId, rec.blockNumber);
          tracker.step(rec.requestId, "queued", { step: "requeued", detail: `job was ${js.state}` });
          requeued++;
        }
      }));
    }
    if (requeued || settled) log.info({ requeued, settled }, "reconciled pending requests with the chain");
    return { requeued, settled };
  }

  /** Reads the request's event again (its block is known) and queues it. */
  private async requeue(requestId: string, blockNumber: number): Promise<void> {
    const logs = await this.getLogs(blockNumber, blockNumber, [TOPIC_REQUESTED, requestIdTopic(requestId)]);
    const log = logs.find((l) => !l.removed);
    if (!log) return; // reorged away: the watcher's re-scan finds it where it now is
    await this.handleLogs([log]);
  }

  private async saveCheckpoint(): Promise<void> {
    const cp = this.cp!;
    const low = this.deps.tracker.lowestPendingBlock();
    cp.settledBlock = Math.max(cp.settledBlock, low === undefined ? cp.scannedBlock : Math.min(low - 1, cp.scannedBlock));
    await this.deps.checkpoints.save({ ...cp });
  }
}
