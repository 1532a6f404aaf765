/**
 * The result audit's report: the links of the chain from a request to its callback, the facts
 * gathered per link, and the checks a run is expected to name (so the ones it did not reach are
 * listed as skipped).
 */
import { AuditError } from "../errors";
import type { EvidenceValue, VerificationReport } from "../types";

/** The links of the chain, in order; each check name starts with (or maps to) one of them. */
export const RESULT_LINKS = [
  "request", "fulfilment", "signer", "registration", "attestation", "measurement", "model", "output", "callback",
] as const;
export type ResultLink = (typeof RESULT_LINKS)[number];

export interface ResultFacts {
  network: string;
  chainId: number;
  oracle: string;
  request: Record<string, EvidenceValue>;
  submissions: Record<string, Record<string, EvidenceValue>>;
  measurement: Record<string, EvidenceValue>;
  model: Record<string, EvidenceValue>;
  rerun: Record<string, EvidenceValue>;
  callback: Record<string, EvidenceValue>;
}

/** A verification report (same shape as the evidence reports, so the same renderers draw it). */
export interface ResultReport extends Omit<VerificationReport<ResultFacts>, "format"> {
  format: "result";
  requestId: string;
  /** The link the first failed check belongs to, if any. */
  brokenLink?: ResultLink;
  /** A signer of the result was attested by the development platform (a software simulation of TEE hardware). */
  simulation: boolean;
}

/** The request id is unknown on this deployment's oracle. */
export class UnknownRequestError extends AuditError {
  constructor(requestId: bigint, oracle: string, fromBlock: number, count: bigint) {
    super(`unknown request id ${requestId}`, {
      details: `no InferenceRequested event for it on oracle ${oracle} since block ${fromBlock}; ` +
        (count === 0n ? "the oracle has no requests yet" : `the oracle's request ids are 1 to ${count}`),
    });
    this.name = "UnknownRequestError";
  }
}

/** The link a check belongs to: the segment after an optional `submission[i].` prefix. */
export function linkOf(checkName: string): ResultLink | undefined {
  const head = checkName.replace(/^submission\[\d+\]\./, "").split(".")[0];
  return (RESULT_LINKS as readonly string[]).includes(head) ? (head as ResultLink) : undefined;
}

/** The checks of each submission that made the result final (prefixed `submission[i].` when k > 1). */
const SUBMISSION_CHECKS = [
  "fulfilment.calldata", "fulfilment.commitment", "signer.recovered", "fulfilment.output",
  "registration.event", "registration.state", "attestation.verified", "measurement.source",
] as const;
const FINAL_CHECKS = ["model.fetch", "model.file", "output.rerun", "callback.outcome"] as const;

/** Every check a run over `submissions` submissions names, in order. */
export function expectedChecks(submissions: number): string[] {
  const per = submissions <= 1
    ? [...SUBMISSION_CHECKS]
    : Array.from({ length: submissions }, (_, i) => SUBMISSION_CHECKS.map((c) => `submission[${i + 1}].${c}`)).flat();
  return ["request.event", "request.state", "fulfilment.events", ...per, ...FINAL_CHECKS];
}
