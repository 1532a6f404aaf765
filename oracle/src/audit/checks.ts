/**
 * Collects named checks while a verifier runs and turns them into a `VerificationReport`.
 * Verifiers stop at a failure that later checks depend on; `finish` then lists the checks that
 * could not run as skipped, so a report always names every check of its format.
 */
import { EvidenceInputError } from "./errors";
import type { Policy } from "./policy-schema";
import type { CertificateInput, Check, EvidenceFormat, EvidenceValue, ResolvedEvidenceInput, TrustLink, VerificationReport } from "./types";

/** One verification under way: where its steps record checks, facts and the trust diagram. */
export interface VerificationRun<F> {
  at: number;
  checks: CheckList;
  facts: F;
  chain: TrustLink[];
}

export class CheckList {
  private readonly items: Check[] = [];

  /** Records a passed check. */
  pass(name: string, detail: string, evidence?: Record<string, EvidenceValue>): true {
    this.items.push(evidence ? { name, ok: true, detail, evidence } : { name, ok: true, detail });
    return true;
  }

  /** Records a failed check. */
  fail(name: string, detail: string, evidence?: Record<string, EvidenceValue>): false {
    this.items.push(evidence ? { name, ok: false, detail, evidence } : { name, ok: false, detail });
    return false;
  }

  /** Records a check whose outcome is `ok`. */
  record(name: string, ok: boolean, detail: string, evidence?: Record<string, EvidenceValue>): boolean {
    return ok ? this.pass(name, detail, evidence) : this.fail(name, detail, evidence);
  }

  /** Records a check that could not run. */
  skip(name: string, detail: string): void {
    this.items.push({ name, ok: false, skipped: true, detail });
  }

  /** The recorded check with this name, if any. */
  get(name: string): Check | undefined {
    return this.items.find((c) => c.name === name);
  }

  /** Whether a check with this name was recorded and passed. */
  passed(name: string): boolean {
    return this.get(name)?.ok === true;
  }

  /** The outcome of a check for the trust diagram: true, false, or null if absent or skipped. */
  outcome(name: string): boolean | null {
    const check = this.get(name);
    if (!check || check.skipped) return null;
    return check.ok;
  }

  /** Appends checks built elsewhere (e.g. the policy checks). */
  addAll(checks: readonly Check[]): void {
    this.items.push(...checks);
  }

  /**
   * Builds the report. Every name in `expected` that was not recorded is added as skipped,
   * with a detail naming the first failure it depends on.
   */
  finish<F extends object>(args: {
    format: EvidenceFormat;
    at: number;
    facts: F;
    chain: TrustLink[];
    expected?: readonly string[];
  }): VerificationReport<F> {
    const firstFailure = this.items.find((c) => !c.ok && !c.skipped);
    for (const name of args.expected ?? []) {
      if (this.get(name)) continue;
      this.skip(name, `not evaluated: ${firstFailure ? `"${firstFailure.name}" failed first` : "an earlier step stopped"}`);
    }
    const checks = [...this.items];
    const failed = checks.find((c) => !c.ok && !c.skipped) ?? checks.find((c) => !c.ok);
    return {
      format: args.format,
      valid: checks.length > 0 && checks.every((c) => c.ok),
      at: args.at,
      checks,
      ...(failed ? { failedCheck: failed.name } : {}),
      facts: args.facts,
      chain: args.chain,
    };
  }
}

/** Lowercase hex without 0x. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** Unix seconds as an ISO-8601 string (for details and evidence). */
export function isoTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(".000Z", "Z");
}

/** A short form of a long hex value for diagram subtitles. */
export function shortHex(hex: string, keep = 12): string {
  return hex.length <= keep * 2 + 1 ? hex : `${hex.slice(0, keep)}…${hex.slice(-keep / 2)}`;
}

/** The message of an unknown thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The last box of the diagram: the enclave signer the policy expects, if any. */
export function signerLink(checks: CheckList, policy: Policy): TrustLink {
  return policy.enclaveSigner
    ? { role: "signer", title: "Enclave signer", subtitle: policy.enclaveSigner, check: "policy.enclave-signer", ok: checks.outcome("policy.enclave-signer") }
    : { role: "signer", title: "Enclave signer", subtitle: "not checked: no enclaveSigner in the policy", ok: null };
}

/**
 * The `verify` of a format that requires collateral: input without any is refused as an input
 * error (`message`, with `details` saying what to pass), never reported as a failed check.
 */
export function requireCollateral(
  message: string,
  details: string,
  verify: (
    evidence: Uint8Array,
    options: { at: number; collateral: unknown; policy: Policy; trustAnchor?: CertificateInput },
  ) => VerificationReport,
): (input: ResolvedEvidenceInput) => VerificationReport {
  return (input) => {
    if (input.collateral === undefined) throw new EvidenceInputError(message, { details });
    return verify(input.evidence, { at: input.at, collateral: input.collateral, policy: input.policy, trustAnchor: input.trustAnchor });
  };
}
