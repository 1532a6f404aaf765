/**
 * Retrying RPC calls: transient network and node errors are retried with exponential backoff.
 * And bounding how long a call may take ({@link within}).
 */
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
  /** Retry only errors for which this returns true (default: all). */
  retryIf?: (err: unknown) => boolean;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves with `p`, or rejects with `message` (read when the time is up) after `ms`. */
export function within<T>(p: Promise<T>, ms: number, message: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(typeof message === "string" ? message : message())), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const attempts = opts.attempts ?? 6;
  let delay = opts.baseMs ?? 100;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      opts.onError?.(err);
      if (i >= attempts || opts.aborted?.() || opts.retryIf?.(err) === false) throw err;
      opts.log?.debug({ what: opts.what, attempt: i, err: shortError(err) }, "rpc call failed, retrying");
      await sleep(delay);
      delay = Math.min(delay * 2, opts.maxDelayMs ?? 5000);
    }
  }
}

/** Longest detail {@link shortError} keeps (advice is kept whole on top of it). */
const MAX_DETAIL = 300;

/**
 * One line for a log: ethers errors carry huge payloads we do not want in logs, so the detail is
 * cut at 300 characters; an error's `advice` (what the operator should do: `OracleError.advice`,
 * at the end of its message) is never cut.
 */
export function shortError(err: unknown): string {
  const e = err as { shortMessage?: string; message?: string; advice?: unknown };
  const text = e?.shortMessage ?? e?.message ?? String(err);
  const advice = typeof e?.advice === "string" && text.endsWith(e.advice) ? e.advice : "";
  const detail = text.slice(0, text.length - advice.length);
  return (detail.length > MAX_DETAIL ? `${detail.slice(0, MAX_DETAIL)}…` : detail) + advice;
}
