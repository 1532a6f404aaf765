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
import { loadDeployment, type Deployment } from "../../chain/deployment";
import { registerAttestCommand } from "./attest";
import { errorMessage, isoTime } from "../checks";
import { processIo, type CliIo } from "./args";
import { AuditError } from "../errors";
import { describeInput, describeTensor, modelView, type ModelView, type TensorView } from "../../models/view";
import { findByHash, loadManifest } from "../../models/manifest";
import { escapeHtml, renderHtmlReport } from "../html-report";
import { checkStatus, flattenFacts } from "../text-report";
import { REPO_ROOT } from "../../paths";
import type { VerificationReport } from "../types";
import { linkOf, RESULT_LINKS, verifyResult, type ResultReport } from "../result/verify-result";

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
  const id = BigInt(value);
  if (id >= 1n << 256n) throw new InvalidArgumentError("a request id is a uint256: at most 2^256-1 (78 digits)");
  return id;
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
 * verdict (SIMULATION when the development platform attested the signer), the request's input and
 * output as values with the model's names, the chain request → fulfilment → signer → registration
 * → attestation → measurement → model → output → callback, every check with its evidence, and the
 * facts. `model` (from the manifest entry with the request's model hash) names the values; without
 * it they are shown by position.
 */
export function renderResultHtml(report: ResultReport, options: { model?: ModelView; back?: { href: string; text: string } } = {}): string {
  const f = report.facts;
  return renderHtmlReport(report as unknown as VerificationReport, {
    heading: `Result of request ${report.requestId} on ${f.network}`,
    verdictWords: { ok: "VERIFIED", broken: "BROKEN" },
    simulation: report.simulation,
    preamble: renderValues(report, options.model),
    facts: { request: f.request, submissions: f.submissions, measurement: f.measurement, model: f.model, rerun: f.rerun, callback: f.callback },
    factsTitle: "Facts read from the chain and the checkout",
    back: options.back,
    footer: `Attested inference oracle · end-to-end audit of request ${escapeHtml(report.requestId)} on chain ${f.chainId}, oracle <code>${escapeHtml(f.oracle)}</code>. ` +
      "The same report in words: <code>oracle audit verify-result --request " + escapeHtml(report.requestId) + "</code>.",
  });
}

function valuesTable(caption: string, view: TensorView | undefined, hex: unknown): string {
  const raw = typeof hex === "string" ? `<details class="ev"><summary>raw bytes (abi.encode(int256[]))</summary><code class="sub">${escapeHtml(hex)}</code></details>` : "";
  if (!view) return `<div><table><caption>${escapeHtml(caption)}</caption><tbody><tr><td class="muted">not available</td></tr></tbody></table>${raw}</div>`;
  const rows = view.values.map((v) => `<tr${view.top === v.name ? ' class="top"' : ""}><td>${escapeHtml(v.name)}</td><td class="v">${escapeHtml(v.value)}</td></tr>`).join("");
  const top = view.top ? ` — ${escapeHtml(view.top)}` : "";
  return `<div><table><caption>${escapeHtml(caption)}${top}</caption><tbody>${rows}</tbody></table>${raw}</div>`;
}

function renderValues(report: ResultReport, model: ModelView | undefined): string {
  const r = report.facts.request;
  const decimals = model?.decimals ?? (typeof report.facts.model.decimals === "number" ? report.facts.model.decimals : 0);
  const input = typeof r.input !== "string" ? undefined
    : model ? describeInput(r.input, model) : describeTensor(r.input, decimals);
  const output = typeof r.output === "string" && r.status === 0 ? describeTensor(r.output, decimals, { labels: model?.labels }) : undefined;
  const name = model?.name ?? (report.facts.model.name as string | undefined) ?? `model ${r.modelId ?? "?"}`;
  const meta = [
    `model <b>${escapeHtml(name)}</b> (id ${escapeHtml(String(r.modelId ?? "?"))}, ${decimals} decimals)`,
    r.requester ? `requested by <code>${escapeHtml(String(r.requester))}</code> in block ${escapeHtml(String(r.block))}` : "",
    typeof r.deadline === "number" ? `deadline ${isoTime(r.deadline)}` : "",
    r.status !== undefined && r.status !== 0 ? `result status ${escapeHtml(String(r.status))} (no output)` : "",
  ].filter(Boolean).join(" · ");
  return `<section><h2>Request and result</h2><p>${meta}</p><div class="values">${valuesTable("Input", input, r.input)}${valuesTable("Output", output, r.output)}</div></section>`;
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
      writeFileSync(options.html, renderResultHtml(report, { model: modelOf(report, options) }));
    } catch (error) {
      return usage(command, `cannot write --html ${options.html}: ${errorMessage(error)}`);
    }
    io.err(`HTML report written to ${options.html}\n`);
  }
  io.setExitCode(report.valid ? EXIT_VALID : EXIT_BROKEN);
}

/** The names of the request's model, from the manifest the re-run used (none if it cannot be read). */
function modelOf(report: ResultReport, options: VerifyResultOptions): ModelView | undefined {
  const dir = options.models ?? path.join(options.source ?? REPO_ROOT, "models");
  try {
    const entry = findByHash(loadManifest(dir), String(report.facts.request.modelHash ?? ""));
    return entry ? modelView(entry) : undefined;
  } catch {
    return undefined;
  }
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
