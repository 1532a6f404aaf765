/**
 * Untrusted models: which ones are suspected or quarantined after failing the runner. A call that
 * crashes the runner, times out or fails inside onnxruntime puts each of its models under
 * suspicion (the error stays transient); a suspect model runs only in calls of its own, so a mixed
 * batch never fails twice for one culprit; a model that fails a call of its own twice in a row is
 * quarantined: declined at once from then on (ModelQuarantinedError, permanent). A call that
 * succeeds clears its models.
 */
import {
  EnclaveError,
  ModelQuarantinedError,
  RunnerCrashedError,
  RunnerFailedError,
  RunnerTimeoutError,
  SuspectModelBatchError,
} from "./errors";
import type { WireJob } from "./ipc";

/** Failed calls of its own in a row after which a model is quarantined. */
const QUARANTINE_STRIKES = 2;

interface QuarantineLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export class ModelQuarantine {
  /** Models declined after they failed a call of their own: hash → why. */
  readonly #quarantined = new Map<string, string>();
  /**
   * Suspect models (their call failed: run alone until a call of their own succeeds), each with
   * its failed calls of its own in a row (0 when only a mixed call failed).
   */
  readonly #suspects = new Map<string, number>();

  constructor(private readonly log: QuarantineLogger) {}

  /** Quarantined models: hash → reason. */
  get quarantined(): ReadonlyMap<string, string> {
    return this.#quarantined;
  }

  /** Throws ModelQuarantinedError for a quarantined model. */
  refuseQuarantined(modelHash: string): void {
    const reason = this.#quarantined.get(modelHash);
    if (reason !== undefined) throw new ModelQuarantinedError(modelHash, reason);
  }

  /** Refuses a batch that mixes a suspect model with other models. */
  refuseMixedSuspects(jobs: WireJob[]): void {
    if (this.#suspects.size === 0) return;
    const models = new Set(jobs.map((j) => j.modelHash));
    if (models.size < 2) return;
    for (const m of models) if (this.#suspects.has(m)) throw new SuspectModelBatchError(m);
  }

  /** A call succeeded: its models are no longer suspect. */
  cleared(jobs: WireJob[]): void {
    if (this.#suspects.size === 0) return;
    for (const j of jobs) this.#suspects.delete(j.modelHash);
  }

  /** Quarantines or suspects the models of a call that failed in a way a model can cause; returns the error to throw. */
  blame(jobs: WireJob[], err: unknown): unknown {
    const modelFault = err instanceof RunnerTimeoutError || err instanceof RunnerCrashedError || (err instanceof RunnerFailedError && err.code === "INFERENCE_FAILED");
    if (!modelFault) return err;
    const models = [...new Set(jobs.map((j) => j.modelHash))];
    for (const m of models) if (!this.#suspects.has(m)) this.#suspects.set(m, 0);
    if (models.length > 1) {
      this.log.warn({ models, err: (err as Error).message }, "a batch of several models failed the runner; each is run alone until the culprit is found");
      return err;
    }
    const strikes = this.#suspects.get(models[0])! + 1;
    this.#suspects.set(models[0], strikes);
    if (strikes < QUARANTINE_STRIKES) {
      this.log.warn({ modelHash: models[0], strikes, err: (err as Error).message }, "a model's call failed the runner; one more and it is quarantined");
      return err;
    }
    const reason = `${(err as EnclaveError).code}: ${(err as Error).message}${(err as EnclaveError).details ? ` (${(err as EnclaveError).details!.slice(0, 300)})` : ""}`;
    this.#quarantined.set(models[0], reason);
    this.#suspects.delete(models[0]);
    this.log.error({ modelHash: models[0], reason }, "model quarantined: it crashed, stalled or failed the runner on its own");
    return new ModelQuarantinedError(models[0], reason);
  }
}
