/**
 * `oracle audit verify-result` and the result report in words and in HTML; and
 * `registerResultAuditCommands(audit)`, which adds it and `oracle audit attest` to the `audit`
 * command.
 *
 *   oracle audit verify-result (--network N | --deployment F) --request ID [--source DIR]
 *        [--models DIR] [--rpc URL] [--json] [--html out.html]
 *
 * Exit codes: 0 every link holds, 1 a link is broken (the output names it and its check),
 * 2 bad usage: no deployment file, unknown request id, RPC on another chain or unreachable.
 */
import { existsSync, writeFileSync } from "fs";
import * as path from "path";
import { Command, InvalidArgumentError } from "commander";
import { JsonRpcProvider, Network, type Provider } from "ethers";
import { loadDeployment, type Deployment } from "../chain/deployment";
import { registerAttestCommand } from "./attest-cli";
import { errorMessage, isoTime } from "./checks";
import { processIo, type CliIo } from "./cli";
import { AuditError } from "./errors";
import { renderHtmlReport } from "./html-report";
import { checkStatus, flattenFacts } from "./text-report";
import type { EvidenceFormat, VerificationReport } from "./types";
import { linkOf, RESULT_LINKS, verifyResult, type ResultReport } from "./verify-result";

const EXIT_VALID = 0;
const EXIT_BROKEN = 1;
const EXIT_USAGE = 2;

/** What the commands get from outside; tests pass the in-process chain. */
export interface ResultAuditDeps {
  /** Makes the provider for an RPC URL and the deployment's chain id. Default: a JsonRpcProvider. */
  provider?: (rpcUrl: string, chainId: number) => Provider;
}

interface VerifyResultOptions {
  network?: string;
  deployment?: string;
  request: bigint;
  source?: string;
  models?: string;
  rpc?: string;
  json?: boolean;
  html?: string;
}

function requestIdArg(value: string): bigint {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError("give the request id as a positive whole number (ids start at 1)");
  return BigInt(value);
}

function usage(command: Command, message: string): never {
  command.error(`error: ${message}`, { exitCode: EXIT_USAGE, code: "oracle.usage" });
  throw new Error("unreachable: the exit callback ends the command");
}

/** The chain in one line, a mark per link: ✔ held, ✘ broke, – not reached. */
export function linkLine(report: ResultReport): string {
  return RESULT_LINKS.map((link) => {
    const checks = report.checks.filter((c) => linkOf(c.name) === link);
    if (checks.length === 0) return null;
    const mark = checks.some((c) => !c.ok && !c.skipped) ? "✘" : checks.every((c) => c.ok) ? "✔" : "–";
    return `${link} ${mark}`;
  }).filter(Boolean).join(" → ");
}

/** The report in words: verdict, the broken link, every check, the facts. */
export function formatResultText(report: ResultReport): string {
  const f = report.facts;
  const passed = report.checks.filter((c) => c.ok).length;
  const failed = report.checks.filter((c) => !c.ok && !c.skipped).length;
  const skipped = report.checks.filter((c) => c.skipped).length;
  const width = Math.max(...report.checks.map((c) => c.name.length), 10);
  const lines = [
    `request ${report.requestId} on ${f.network} (chain ${f.chainId}, oracle ${f.oracle}): ` +
      (report.valid ? "VERIFIED, every link holds" : `BROKEN at link "${report.brokenLink ?? "?"}" (first failed check: ${report.failedCheck})`),
    `verified at ${isoTime(report.at)}`,
    `chain: ${linkLine(report)}`,
    "",
    `checks: ${passed} passed, ${failed} failed, ${skipped} not evaluated`,
  ];
  for (const check of report.checks) {
    lines.push(`  ${checkStatus(check)}  ${check.name.padEnd(width)}  ${check.detail}`);
    if (!check.ok && !check.skipped && check.evidence) {
      for (const [k, v] of Object.entries(check.evidence)) lines.push(`        ${" ".repeat(width)}  ${k}: ${v === null ? "(none)" : String(v)}`);
    }
  }
  const facts = flattenFacts({ request: f.request, submissions: f.submissions, measurement: f.measurement, model: f.model, rerun: f.rerun, callback: f.callback });
  if (facts.length > 0) {
    lines.push("", "facts:");
    const factWidth = Math.max(...facts.map(([k]) => k.length));
    for (const [key, value] of facts) lines.push(`  ${key.padEnd(factWidth)}  ${value}`);
  }
  return lines.join("\n");
}

/**
 * The report as one self-contained HTML page, drawn by the evidence report's renderer: the
 * chain request → signer → registration → attestation → measurement → model → output, every
 * check with its evidence, and the facts.
 */
export function renderResultHtml(report: ResultReport): string {
  const title = `Result of request ${report.requestId} on ${report.facts.network}` as EvidenceFormat;
  return renderHtmlReport({ ...report, format: title } as VerificationReport);
}

function readDeployment(command: Command, options: VerifyResultOptions): Deployment {
  if (options.network === undefined && options.deployment === undefined) {
    usage(command, "say which deployment to audit: --network N (reads deployments/<N>.json) or --deployment FILE");
  }
  const file = path.resolve(options.deployment ?? path.join("deployments", `${options.network}.json`));
  try {
    return loadDeployment(file);
  } catch (error) {
    return usage(command, errorMessage(error));
  }
}

async function runVerifyResult(command: Command, options: VerifyResultOptions, io: CliIo, deps: ResultAuditDeps): Promise<void> {
  const deployment = readDeployment(command, options);
  for (const [flag, dir] of [["--source", options.source], ["--models", options.models]] as const) {
    if (dir !== undefined && !existsSync(dir)) usage(command, `${flag} ${dir} does not exist: give a checkout (with npm ci run in it) or omit ${flag}`);
  }
  const rpcUrl = options.rpc ?? process.env.RPC_URL ?? "http://127.0.0.1:8545";
  let provider: Provider;
  let own = false;
  if (deps.provider) {
    provider = deps.provider(rpcUrl, deployment.chainId);
  } else {
    const rpc = new JsonRpcProvider(rpcUrl, Network.from(deployment.chainId), { staticNetwork: true });
    provider = rpc;
    own = true;
    try {
      const served = BigInt(await rpc.send("eth_chainId", []));
      if (served !== BigInt(deployment.chainId)) {
        rpc.destroy();
        return usage(command, `${rpcUrl} serves chain ${served}, deployments for ${deployment.network} are on chain ${deployment.chainId}: give the right --rpc`);
      }
    } catch (error) {
      rpc.destroy();
      return usage(command, `cannot reach the chain at ${rpcUrl}: ${errorMessage(error)} (give --rpc URL or set RPC_URL)`);
    }
  }
  let report: ResultReport;
  try {
    report = await verifyResult({ provider, deployment, requestId: options.request, sourceDir: options.source, modelsDir: options.models });
  } catch (error) {
    if (error instanceof AuditError) return usage(command, error.message);
    throw error;
  } finally {
    if (own) (provider as JsonRpcProvider).destroy();
  }
  io.out(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatResultText(report)}\n`);
  if (options.html !== undefined) {
    try {
      writeFileSync(options.html, renderResultHtml(report));
    } catch (error) {
      return usage(command, `cannot write --html ${options.html}: ${errorMessage(error)}`);
    }
    io.err(`HTML report written to ${options.html}\n`);
  }
  io.setExitCode(report.valid ? EXIT_VALID : EXIT_BROKEN);
}

/** Adds `verify-result` under the `audit` command. */
export function registerVerifyResultCommand(audit: Command, io: CliIo = processIo, deps: ResultAuditDeps = {}): Command {
  return audit
    .command("verify-result")
    .description("verify one request's result end to end: chain request, signer, registration, attestation, measurement from source, model file, re-run output, callback")
    .option("--network <name>", "read addresses from deployments/<name>.json")
    .option("--deployment <file>", "deployment file to read instead of deployments/<network>.json")
    .requiredOption("--request <id>", "the request id", requestIdArg)
    .option("--source <dir>", "source tree to measure the runner from (default: this checkout; needs its node_modules)")
    .option("--models <dir>", "models folder with manifest.json and the .onnx files (default: <source>/models)")
    .option("--rpc <url>", "JSON-RPC endpoint (default: RPC_URL or http://127.0.0.1:8545)")
    .option("--json", "print the report as JSON instead of words")
    .option("--html <out.html>", "also write a self-contained HTML report to this file")
    .action(async function (this: Command, options: VerifyResultOptions) {
      await runVerifyResult(this, options, io, deps);
    });
}

/** Adds `attest` and `verify-result` to the `audit` command (called by `registerAuditCommands`). */
export function registerResultAuditCommands(audit: Command, io: CliIo = processIo, deps: ResultAuditDeps = {}): void {
  registerAttestCommand(audit, io);
  registerVerifyResultCommand(audit, io, deps);
}
