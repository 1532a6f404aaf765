/**
 * Errors the audit module throws. Bad evidence never throws: it is a failed check in the report.
 * These are for input the caller must fix (an unknown format, a malformed policy, missing
 * collateral), so the CLI can map them to exit code 2 with a message that says what to fix:
 * permanent OracleErrors (errors.ts).
 */
import { PermanentError } from "../errors";

export interface AuditErrorOptions {
  /** Longer explanation: what to change. */
  details?: string;
  cause?: unknown;
}

/** Base class: a short message, optional details and a cause. */
export class AuditError extends PermanentError {
  override name = "AuditError";
}

/** The evidence input is unusable as given (missing or malformed collateral, wrong type). */
export class EvidenceInputError extends AuditError {
  constructor(message: string, options?: AuditErrorOptions) {
    super(message, options);
    this.name = "EvidenceInputError";
  }
}

/** No verifier is registered for the requested format. */
export class UnsupportedFormatError extends AuditError {
  constructor(readonly format: string, known: readonly string[]) {
    super(`no verifier is registered for evidence format "${format}"`, {
      details: `registered formats: ${known.join(", ") || "none"}`,
    });
    this.name = "UnsupportedFormatError";
  }
}

/** A policy file or object does not match the policy schema. */
export class PolicyError extends AuditError {
  constructor(message: string, options?: AuditErrorOptions) {
    super(message, options);
    this.name = "PolicyError";
  }
}
