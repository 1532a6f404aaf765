/**
 * What a start has started, to stop again: on a failed start, and on the node's `close()`. Each
 * part registers its stop where it is started (main.ts), and the order follows from those
 * registrations, so no stop can be registered and then left out of a separate list:
 *
 *   1. the stops that end the intake and drain the work in flight (`drains`: the watcher, then the
 *      queue's processing), the last started first;
 *   2. everything else, the last started first: the HTTP API (it answers /readyz and /metrics
 *      while the node drains), …, the provider (started first, so stopped last).
 *
 * Every stop runs even if an earlier one throws.
 */
import type { Logger } from "pino";
import { shortError } from "./chain/retry";

export interface StopOptions {
  /** Ends the intake or drains work in flight: stopped before everything else. */
  drains?: boolean;
  /** Most milliseconds to wait for this stop before going on (it keeps running meanwhile). */
  timeoutMs?: number;
}

interface Step extends StopOptions {
  name: string;
  stop: () => unknown;
}

export class Started {
  private readonly steps: Step[] = [];

  constructor(private readonly log: Logger) {}

  /** Registers how to stop a part that has just started. */
  add(name: string, stop: () => unknown, opts: StopOptions = {}): void {
    this.steps.push({ name, stop, ...opts });
  }

  /** Runs every registered stop, in the order above; one that fails is logged as `failed` and the next still runs. */
  async stopAll(failed: string): Promise<void> {
    const lastFirst = [...this.steps].reverse();
    for (const step of [...lastFirst.filter((s) => s.drains), ...lastFirst.filter((s) => !s.drains)]) {
      try {
        await bounded(Promise.resolve().then(step.stop), step.timeoutMs);
      } catch (err) {
        this.log.warn({ step: step.name, err: shortError(err) }, failed);
      }
    }
  }
}

/** `p`, or nothing once `ms` have passed (undefined: no bound). */
async function bounded(p: Promise<unknown>, ms: number | undefined): Promise<unknown> {
  if (ms === undefined) return p;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise((resolve) => { timer = setTimeout(resolve, ms); })]);
  } finally {
    clearTimeout(timer);
  }
}
