/**
 * Errors of the enclave host: OracleErrors (errors.ts) with a stable `code`. `transient` tells the
 * node's queue whether a retry may succeed (a crashed or timed-out runner is replaced, so the same
 * job can run again) or not (an oversize input or a refused model fails the same way every time).
 * The runner itself (measured code) cannot import this file: it answers with a code (ipc.ts), and
 * the host raises the error of that code.
 */
import { OracleError } from "../errors";

export class EnclaveError extends OracleError {
  override name = "EnclaveError";
  readonly code: string;

  constructor(code: string, shortMessage: string, options: { transient: boolean; details?: string; cause?: unknown }) {
    super(shortMessage, options);
    this.code = code;
  }
}

/** The input is larger than `limits.maxInputBytes`; refused before it reaches the runner. */
export class InputTooLargeError extends EnclaveError {
  override name = "InputTooLargeError";
  constructor(readonly size: number, readonly limit: number) {
    super("INPUT_TOO_LARGE", `input of ${size} bytes exceeds the limit of ${limit} bytes`, { transient: false });
  }
}

/** A job or batch that is malformed (no jobs, too many, a bad hash); refused before the runner. */
export class InvalidJobError extends EnclaveError {
  override name = "InvalidJobError";
  constructor(details: string) {
    super("INVALID_JOB", "invalid inference job", { transient: false, details });
  }
}

/** The runner refused the model: unknown hash, or the file's sha256 differs from the hash asked for. */
export class ModelRejectedError extends EnclaveError {
  override name = "ModelRejectedError";
  constructor(details: string) {
    super("MODEL_REJECTED", "the runner refused the model", { transient: false, details });
  }
}

/** The runner refused the input (not a canonical encoding of the model's input length). */
export class InputRejectedError extends EnclaveError {
  override name = "InputRejectedError";
  constructor(details: string) {
    super("INPUT_REJECTED", "the runner refused the input", { transient: false, details });
  }
}

/** The job ran past `limits.timeoutMs`; the runner was killed and a fresh one takes its place. */
export class RunnerTimeoutError extends EnclaveError {
  override name = "RunnerTimeoutError";
  constructor(readonly timeoutMs: number) {
    super("RUNNER_TIMEOUT", `the runner did not answer within ${timeoutMs} ms; it was killed and is being replaced`, { transient: true });
  }
}

/** The runner process died while the job was in flight; a fresh runner takes its place. */
export class RunnerCrashedError extends EnclaveError {
  override name = "RunnerCrashedError";
  constructor(details: string) {
    super("RUNNER_CRASHED", "the runner process died during the job; it is being replaced", { transient: true, details });
  }
}

/** No runner is available (still starting, or restarts keep failing). */
export class RunnerUnavailableError extends EnclaveError {
  override name = "RunnerUnavailableError";
  constructor(details: string) {
    super("RUNNER_UNAVAILABLE", "no runner is available", { transient: true, details });
  }
}

/** The runner failed the job for a reason of its own (an internal error). */
export class RunnerFailedError extends EnclaveError {
  override name = "RunnerFailedError";
  constructor(code: string, details: string) {
    super(code, "the runner failed the job", { transient: true, details });
  }
}

/** Starting or attesting a runner failed (bad sealed key, platform refused, runner did not start). */
export class RunnerStartError extends EnclaveError {
  override name = "RunnerStartError";
  constructor(details: string, cause?: unknown) {
    super("RUNNER_START_FAILED", "the runner could not be started and attested", { transient: false, details, cause });
  }
}

/** The runner's answer does not hold together (wrong signer, wrong hashes): never submit it. */
export class RunnerMisbehavedError extends EnclaveError {
  override name = "RunnerMisbehavedError";
  constructor(details: string) {
    super("RUNNER_MISBEHAVED", "the runner's answer failed the host's checks", { transient: true, details });
  }
}

/** The host was closed. */
export class HostClosedError extends EnclaveError {
  override name = "HostClosedError";
  constructor() {
    super("HOST_CLOSED", "the enclave host is closed", { transient: true });
  }
}

/**
 * The runner signed a result that contradicts one its key already signed for the same request;
 * the host withheld the signature (see journal.ts). Permanent: the same job would do it again.
 */
export class EquivocationRefusedError extends EnclaveError {
  override name = "EquivocationRefusedError";
  constructor(signer: string, requestIds: string[]) {
    super("EQUIVOCATION_REFUSED", `signer ${signer} already signed a different result for request ${requestIds.join(", ")}; the new signature was withheld`, {
      transient: false,
      details: "the signature journal holds a result for the same request id, model and input with another output or status: releasing this one would be proof of equivocation",
    });
  }
}

/**
 * The model made the runner crash, time out or fail: it is declined from now on (permanent), so
 * it cannot take the runner down again nor delay other requests.
 */
export class ModelQuarantinedError extends EnclaveError {
  constructor(readonly modelHash: string, reason: string) {
    super("MODEL_QUARANTINED", `model ${modelHash} is declined: ${reason}`, { transient: false });
    this.name = "ModelQuarantinedError";
  }
}

/**
 * A batch mixes a model under suspicion (its batch crashed or timed out the runner) with other
 * models: permanent for the batch, so the node runs each job alone and only the culprit fails.
 */
export class SuspectModelBatchError extends EnclaveError {
  constructor(readonly modelHash: string) {
    super("SUSPECT_MODEL_BATCH", `model ${modelHash} made a batch fail; run its jobs alone`, { transient: false });
    this.name = "SuspectModelBatchError";
  }
}
