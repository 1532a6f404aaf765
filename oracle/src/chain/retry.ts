/** Retrying RPC calls: transient network and node errors are retried with exponential backoff. */
import type { Logger } from "pino";

export interface RetryOptions {
  /** Attempts in all (default 6). */
  attempts?: number;
  /** First delay in ms, doubled each time (default 100), capped at `maxDelayMs` (default 5000). */
  baseMs?: number;
  maxDelayMs?: number;
  /** What is being done, for the log line. */
  what: string;
  log?: Logger;
  /** Called on each failed attempt (metrics). */
  onError?: (err: unknown) => void;
  /** Stop retrying early when this returns true (e.g. shutting down). */
  aborted?: () => boolean;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const attempts = opts.attempts ?? 6;
  let delay = opts.baseMs ?? 100;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      opts.onError?.(err);
      if (i >= attempts || opts.aborted?.()) throw err;
      opts.log?.debug({ what: opts.what, attempt: i, err: shortError(err) }, "rpc call failed, retrying");
      await sleep(delay);
      delay = Math.min(delay * 2, opts.maxDelayMs ?? 5000);
    }
  }
}

/** One line for a log: ethers errors carry huge payloads we do not want in logs. */
export function shortError(err: unknown): string {
  const e = err as { shortMessage?: string; message?: string; code?: string };
  return (e?.shortMessage ?? e?.message ?? String(err)).slice(0, 300);
}
