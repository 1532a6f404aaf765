/**
 * In-process queue with the semantics of the BullMQ one (dedupe by id, retries with exponential
 * backoff, permanent failures at once). Jobs live as long as the process: the chain, re-read on
 * start, is what makes this safe for the demo.
 */
import type { Logger } from "pino";
import { isPermanent } from "../errors";
import {
  InferenceJob, JobHandler, JobStateName, QueueOptions, WorkQueue, backoffDelay, jobId,
} from "./types";

interface Entry {
  id: string;
  data: InferenceJob;
  state: JobStateName;
  attempts: number;
  failedReason?: string;
  timer?: NodeJS.Timeout;
}

export class MemoryQueue implements WorkQueue {
  readonly kind = "memory" as const;
  private readonly jobs = new Map<string, Entry>();
  private readonly ready: Entry[] = [];
  private handler?: JobHandler;
  private concurrency = 1;
  private active = 0;
  private stopped = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: QueueOptions, private readonly log?: Logger) {}

  async add(data: InferenceJob): Promise<{ id: string; added: boolean }> {
    const id = jobId(data.chainId, data.oracle, data.requestId);
    if (this.closed) throw new Error("queue is closed");
    if (this.jobs.has(id)) return { id, added: false };
    const entry: Entry = { id, data, state: "waiting", attempts: 0 };
    this.jobs.set(id, entry);
    this.ready.push(entry);
    this.pump();
    return { id, added: true };
  }

  async state(id: string) {
    const e = this.jobs.get(id);
    if (!e) return { state: "unknown" as const };
    return { state: e.state, failedReason: e.failedReason, attempts: e.attempts };
  }

  async retry(id: string): Promise<void> {
    const e = this.jobs.get(id);
    if (!e || e.state !== "failed") return;
    e.state = "waiting";
    e.attempts = 0;
    e.failedReason = undefined;
    this.ready.push(e);
    this.pump();
  }

  process(handler: JobHandler, concurrency: number): void {
    this.handler = handler;
    this.concurrency = Math.max(1, concurrency);
    this.stopped = false;
    this.pump();
  }

  async stopProcessing(): Promise<void> {
    this.stopped = true;
    if (this.active === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  async counts(): Promise<Record<string, number>> {
    const out: Record<string, number> = { waiting: 0, delayed: 0, active: 0, completed: 0, failed: 0 };
    for (const e of this.jobs.values()) out[e.state] = (out[e.state] ?? 0) + 1;
    return out;
  }

  async ping(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.stopProcessing();
    this.closed = true;
    for (const e of this.jobs.values()) if (e.timer) clearTimeout(e.timer);
  }

  private pump(): void {
    while (this.handler && !this.stopped && this.active < this.concurrency && this.ready.length) {
      const entry = this.ready.shift()!;
      void this.run(entry);
    }
  }

  private async run(entry: Entry): Promise<void> {
    this.active++;
    entry.state = "active";
    entry.attempts++;
    try {
      await this.handler!(entry.data, { id: entry.id, attempt: entry.attempts });
      entry.state = "completed";
    } catch (err) {
      const msg = (err as Error)?.message ?? String(err);
      if (isPermanent(err) || entry.attempts >= this.opts.attempts) {
        entry.state = "failed";
        entry.failedReason = isPermanent(err) ? `permanent: ${msg}` : `attempts exhausted: ${msg}`;
        this.log?.warn({ jobId: entry.id, reason: entry.failedReason }, "job failed");
      } else {
        entry.state = "delayed";
        const delay = backoffDelay(this.opts.backoffMs, entry.attempts);
        this.log?.debug({ jobId: entry.id, attempt: entry.attempts, delay, err: msg }, "job retry scheduled");
        entry.timer = setTimeout(() => {
          entry.timer = undefined;
          if (this.closed) return;
          entry.state = "waiting";
          this.ready.push(entry);
          this.pump();
        }, delay);
        entry.timer.unref?.();
      }
    } finally {
      this.active--;
      if (this.active === 0 && this.stopped) this.idleWaiters.splice(0).forEach((r) => r());
      this.pump();
    }
  }
}
