/**
 * `oracle audit ...`: the auditor's commands.
 *
 *   oracle audit verify-evidence --format <dev|nitro|dcap|sev-snp> --file F [--collateral C]
 *                                [--at unix-seconds] [--policy P] [--trust-anchor A]
 *                                [--json] [--html out.html]
 *
 * Exit codes: 0 the evidence is valid, 1 it is invalid (the output names the failed check),
 * 2 bad usage (the message says what to fix). Commander's own usage errors (a missing or
 * unknown option, a format not in the list) exit 1 by default; the `audit` commands install an
 * exit callback that turns every usage error into 2.
 */
import { readFileSync, writeFileSync } from "fs";
import { Command, Option, type CommanderError } from "commander";
import { errorMessage } from "../checks";
import { EXIT, processIo, readEvidenceArgs, unixSeconds, usage, type CliIo } from "./args";
import { AuditError } from "../errors";
import { renderHtmlReport } from "../html-report";
import { loadPolicyFile, type Policy } from "../policy-schema";
import { verifyEvidence } from "../evidence/registry";
import { formatReportText } from "../text-report";
import { EVIDENCE_FORMATS, type EvidenceFormat } from "../types";
import { registerResultAuditCommands } from "./verify-result";

interface VerifyEvidenceOptions {
  format: EvidenceFormat;
  file: string;
  collateral?: string;
  at?: number;
  policy?: string;
  trustAnchor?: string;
  json?: boolean;
  html?: string;
}

/** Commander's own errors (bad options, help after an error) are usage errors: 2. Ours keep their code. */
function exitCodeFor(error: CommanderError): number {
  if (error.exitCode === 0) return 0;
  return error.code.startsWith("commander.") ? EXIT.USAGE : error.exitCode;
}

/** Adds the `audit` command and its sub-commands to `program`. */
export function registerAuditCommands(program: Command, io: CliIo = processIo): Command {
  const audit = program
    .command("audit")
    .description("Auditor's tools: verify attestation evidence against pinned vendor roots and a policy (verify-evidence), countersign it for the registry (attest), and check one on-chain result end to end (verify-result)")
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride((error: CommanderError) => io.exit(exitCodeFor(error)));
  // Sub-commands created below inherit the output and exit settings.
  audit
    .command("verify-evidence")
    .description("verify TEE attestation evidence (chain of trust, signature, measurement policy) and say which check fails")
    .addOption(new Option("--format <format>", "evidence format").choices(EVIDENCE_FORMATS).makeOptionMandatory())
    .requiredOption("--file <path>", "the evidence: Nitro document (CBOR), DCAP quote, SEV-SNP report (binary), or dev report")
    .option(
      "--collateral <path>",
      'dcap: collateral JSON (dcap-qvl layout); sev-snp: JSON {"vcek": "vcek.der", "askArk": "ask_ark.pem"} (paths relative to it) or a PEM bundle of VCEK, ASK, ARK',
    )
    .option("--at <unix-seconds>", "verify as of this time (default: now)", unixSeconds)
    .option("--policy <path>", "policy JSON: expected measurements, allowed TCB statuses, debugAllowed, maxAgeSeconds, enclaveSigner (see docs/audit.md)")
    .option(
      "--trust-anchor <file-or-hex>",
      "root to pin instead of the built-in vendor root: a PEM/DER certificate file (a test CA, a root the project does not embed); for dev, the platform root public key 0x04||x||y",
    )
    .option("--json", "print the report as JSON instead of words")
    .option("--html <out.html>", "also write a self-contained HTML report to this file")
    .action(function (this: Command, options: VerifyEvidenceOptions) {
      runVerifyEvidence(this, options, io);
    });
  registerResultAuditCommands(audit, io);
  return audit;
}

/** `--trust-anchor`: inline 0x-hex (a raw public key), else a file holding a PEM or DER certificate. */
function readTrustAnchor(command: Command, value: string | undefined): string | Buffer | undefined {
  if (value === undefined) return undefined;
  if (/^0x[0-9a-fA-F]+$/.test(value)) return value;
  let bytes: Buffer;
  try {
    bytes = readFileSync(value);
  } catch (error) {
    return usage(command, `cannot read --trust-anchor ${value}: ${errorMessage(error)} (give a PEM/DER file, or 0x-hex for dev)`);
  }
  return bytes.includes("-----BEGIN") ? bytes.toString("utf8") : bytes;
}

function runVerifyEvidence(command: Command, options: VerifyEvidenceOptions, io: CliIo): void {
  const { evidence, collateral } = readEvidenceArgs(command, options);
  let policy: Policy | undefined;
  if (options.policy !== undefined) {
    try {
      policy = loadPolicyFile(options.policy);
    } catch (error) {
      return usage(command, errorMessage(error));
    }
  }
  const trustAnchor = readTrustAnchor(command, options.trustAnchor);
  let report;
  try {
    report = verifyEvidence({ format: options.format, evidence, collateral, at: options.at, policy, trustAnchor });
  } catch (error) {
    if (error instanceof AuditError) return usage(command, error.message);
    throw error;
  }
  io.out(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReportText(report)}\n`);
  if (options.html !== undefined) {
    try {
      writeFileSync(options.html, renderHtmlReport(report));
    } catch (error) {
      return usage(command, `cannot write --html ${options.html}: ${errorMessage(error)}`);
    }
    io.err(`HTML report written to ${options.html}\n`);
  }
  io.setExitCode(report.valid ? EXIT.VALID : EXIT.INVALID);
}
