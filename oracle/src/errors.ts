/**
 * The root of the node's errors. Every failure the node raises on purpose is an
 * {@link OracleError}, and says in its type whether trying the same thing again may succeed:
 *
 *   transient  an RPC hiccup, a runner restarting, a reorg in progress: the queue retries the
 *              job with backoff, until its attempts are used up;
 *   permanent  a declined request, a request gone from the chain, a bad configuration: it fails
 *              the same way until someone changes something; the queue fails the job at once
 *              with its reason.
 *
 * An error that is not an OracleError (a library's, a bug) counts as transient: retrying an
 * unknown failure is the safe default, and the queue's attempts bound it.
 *
 * Not in this tree, on purpose: the errors of the runner's measured code (models/errors.ts,
 * enclave/sealing.ts, the runner's own): importing this file there would change the runner's
 * measurement. The host turns what the runner reports into an EnclaveError (enclave/errors.ts).
 */

export interface OracleErrorOptions {
  /** True when the same operation may succeed if tried again unchanged. */
  transient: boolean;
  /** Short machine reason, e.g. "reorged": a metric label and the request trail's word. */
  reason?: string;
  /** Longer explanation, appended to the message after ": ". */
  details?: string;
  /** What the operator should do, appended to the message; `shortError` never cuts it. */
  advice?: string;
  cause?: unknown;
}

/** Options of an error whose class already says whether it is transient. */
export type ErrorOptions = Omit<OracleErrorOptions, "transient">;

/** Base class: a short message, optional details and advice, a cause, and `transient`. */
export class OracleError extends Error {
  override name = "OracleError";
  readonly transient: boolean;
  readonly reason?: string;
  readonly details?: string;
  readonly advice?: string;

  constructor(message: string, options: OracleErrorOptions) {
    super(message + (options.details ? `: ${options.details}` : "") + (options.advice ?? ""), { cause: options.cause });
    this.transient = options.transient;
    this.reason = options.reason;
    this.details = options.details;
    this.advice = options.advice;
  }
}

/** A failure that may pass if the same thing is tried again (the job is retried). */
export class TransientError extends OracleError {
  override name = "TransientError";
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { ...options, transient: true });
  }
}

/** A failure retrying cannot fix (the job fails at once); `reason` defaults to "permanent". */
export class PermanentError extends OracleError {
  override name = "PermanentError";
  declare readonly reason: string;
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { ...options, reason: options.reason ?? "permanent", transient: false });
  }
}

/** True for an OracleError that says it is permanent; anything else is retried. */
export function isPermanent(err: unknown): err is OracleError {
  return err instanceof OracleError && !err.transient;
}
