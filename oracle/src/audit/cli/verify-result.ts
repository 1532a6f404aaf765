/**
 * `oracle audit verify-result` (the report in words and HTML is drawn by result/render.ts); and
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
import { errorMessage } from "../checks";
import { EXIT, processIo, usage, type CliIo } from "./args";
import { AuditError } from "../errors";
import { modelView, type ModelView } from "../../models/view";
import { findByHash, loadManifest } from "../../models/manifest";
import { REPO_ROOT } from "../../paths";
import type { ResultReport } from "../result/report";
import { formatResultText, renderResultHtml } from "../result/render";
import { verifyResult } from "../result/verify-result";

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
  allowPrivateHosts?: boolean;
}

function requestIdArg(value: string): bigint {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError("give the request id as a positive whole number (ids start at 1)");
  const id = BigInt(value);
  if (id >= 1n << 256n) throw new InvalidArgumentError("a request id is a uint256: at most 2^256-1 (78 digits)");
  return id;
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
    report = await verifyResult({
      provider, deployment, requestId: options.request, sourceDir: options.source, modelsDir: options.models, modelPrivateHosts: options.allowPrivateHosts,
    });
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
  io.setExitCode(report.valid ? EXIT.VALID : EXIT.INVALID);
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
    .option("--allow-private-hosts", "fetch the model's registry URI even from a loopback or private address (a local chain's model server); refused by default: anyone can publish a URI")
    .action(async function (this: Command, options: VerifyResultOptions) {
      await runVerifyResult(this, options, io, deps);
    });
}

/** Adds `attest` and `verify-result` to the `audit` command (called by `registerAuditCommands`). */
export function registerResultAuditCommands(audit: Command, io: CliIo = processIo, deps: ResultAuditDeps = {}): void {
  registerAttestCommand(audit, io);
  registerVerifyResultCommand(audit, io, deps);
}
