/**
 * BullMQ queue on Redis. Several node processes (on several machines) may share one queue name
 * and prefix: BullMQ hands each job to one worker at a time, and a job whose worker died (lock
 * expired) is moved back to waiting by any live worker ("stalled" check).
 */
import { Job, Queue, UnrecoverableError, Worker } from "bullmq";
import IORedis, { Redis } from "ioredis";
import type { Logger } from "pino";
import { within } from "../chain/retry";
import { isPermanent } from "../errors";
import { InferenceJob, JobHandler, JobStateName, QueueOptions, WorkQueue, jobId } from "./types";

export interface BullQueueOptions extends QueueOptions {
  redisUrl: string;
  name: string;
  prefix: string;
  /** A worker that has not renewed a job's lock for this long is presumed dead (default 10 s). */
  lockDurationMs?: number;
  /** How often workers look for jobs of dead workers (default 5 s). */
  stalledIntervalMs?: number;
}

/** ioredis connection as BullMQ requires it (blocking commands: no per-request retry limit). */
export function createRedis(url: string): Redis {
  return new IORedis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
}

export class BullQueue implements WorkQueue {
  readonly kind = "bullmq" as const;
  private readonly connection: Redis;
  private readonly queue: Queue<InferenceJob>;
  private worker?: Worker<InferenceJob>;
  private closing?: Promise<void>;
  private readonly adding = new Map<string, Promise<boolean>>();
  /** The Redis connection's last error since it was last ready ("" when none): warned once, and the start-up message. */
  private lastError = "";

  constructor(private readonly opts: BullQueueOptions, private readonly log?: Logger) {
    this.connection = createRedis(opts.redisUrl);
    // One warning per distinct error, not one per reconnect attempt.
    this.connection.on("error", (err) => {
      if (err.message !== this.lastError) this.log?.warn({ err: err.message }, "redis connection error");
      this.lastError = err.message;
    });
    this.connection.on("ready", () => { this.lastError = ""; });
    this.queue = new Queue<InferenceJob>(opts.name, {
      connection: this.connection,
      prefix: opts.prefix,
      defaultJobOptions: {
        attempts: opts.attempts,
        backoff: { type: "exponential", delay: opts.backoffMs },
        // Completed jobs are kept a day so a re-seen request dedupes against them; the on-chain
        // state check covers anything older.
        removeOnComplete: { age: 24 * 3600, count: 1_000_000 },
        removeOnFail: { age: 7 * 24 * 3600 },
      },
    });
    this.queue.on("error", (err) => this.log?.warn({ err: err.message }, "queue error"));
  }

  /** Resolves once Redis answers; rejects with the connection's last error after `timeoutMs`. */
  async waitReady(timeoutMs: number): Promise<void> {
    await within(this.connection.ping(), timeoutMs, () => this.lastError || `no answer within ${timeoutMs / 1000} s`);
  }

  async add(data: InferenceJob): Promise<{ id: string; added: boolean }> {
    const id = jobId(data.chainId, data.oracle, data.requestId);
    // Concurrent adds of one id in this process: the second waits for the first and reports a duplicate.
    const pending = this.adding.get(id);
    if (pending) {
      await pending.catch(() => undefined);
      return { id, added: false };
    }
    const p = (async () => {
      if (await this.queue.getJob(id)) return false;
      // BullMQ itself ignores an add whose job id exists, so two nodes racing here still make one job.
      await this.queue.add("infer", data, { jobId: id });
      return true;
    })();
    this.adding.set(id, p);
    try {
      return { id, added: await p };
    } finally {
      this.adding.delete(id);
    }
  }

  async state(id: string): Promise<{ state: JobStateName; failedReason?: string; attempts?: number }> {
    const job = await this.queue.getJob(id);
    if (!job) return { state: "unknown" as const };
    const state = await job.getState();
    const known = ["waiting", "delayed", "active", "completed", "failed"] as const;
    const name: JobStateName = (known as readonly string[]).includes(state) ? (state as (typeof known)[number])
      : state === "prioritized" || state === "waiting-children" ? "waiting" : "unknown";
    return { state: name, failedReason: job.failedReason, attempts: job.attemptsMade };
  }

  async retry(id: string): Promise<void> {
    const job = await this.queue.getJob(id);
    if (job && (await job.isFailed())) await job.retry("failed", { resetAttemptsMade: true });
  }

  process(handler: JobHandler, concurrency: number): void {
    if (this.worker) throw new Error("already processing");
    this.worker = new Worker<InferenceJob>(
      this.opts.name,
      async (job: Job<InferenceJob>) => {
        try {
          await handler(job.data, { id: job.id!, attempt: job.attemptsMade + 1 });
        } catch (err) {
          if (isPermanent(err)) throw new UnrecoverableError(`permanent: ${err.message}`);
          throw err;
        }
      },
      {
        connection: this.connection,
        prefix: this.opts.prefix,
        concurrency,
        lockDuration: this.opts.lockDurationMs ?? 10_000,
        stalledInterval: this.opts.stalledIntervalMs ?? 5_000,
        // Crashes are expected (and tested): a job may be orphaned many times, never failed for it.
        maxStalledCount: 1_000,
        autorun: true,
      },
    );
    this.worker.on("error", (err) => this.log?.warn({ err: err.message }, "worker error"));
    this.worker.on("failed", (job, err) =>
      this.log?.debug({ jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, "job attempt failed"));
  }

  async stopProcessing(): Promise<void> {
    // Worker.close waits for active jobs and is itself idempotent.
    if (this.worker) await this.worker.close();
  }

  async counts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts("waiting", "delayed", "active", "completed", "failed", "prioritized");
  }

  async ping(): Promise<boolean> {
    try {
      return (await Promise.race([
        this.connection.ping(),
        new Promise<string>((_, rej) => setTimeout(() => rej(new Error("timeout")), 1000).unref()),
      ])) === "PONG";
    } catch {
      return false;
    }
  }

  /** Redis connection for other state (the watcher checkpoint); closed with the queue. */
  get redis(): Redis {
    return this.connection;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const steps: [string, () => Promise<unknown>][] = [
        ["worker", () => this.stopProcessing()],
        ["queue", () => this.queue.close()],
        // quit() waits for a connection that may never come: a never-connected client is just dropped.
        ["redis", async () => (this.connection.status === "ready" ? this.connection.quit() : this.connection.disconnect())],
      ];
      for (const [name, step] of steps) {
        try {
          await step();
        } catch (err) {
          this.log?.warn({ step: name, err: (err as Error).message }, "queue close step failed");
        }
      }
    })();
    return this.closing;
  }
}
