/**
 * The node's commands for the `oracle` CLI: `start`, `status`, `register-enclave`, `bond`,
 * `request` (request-command.ts) and `keystore` (keystore-command.ts). (The auditor's commands are registered next to these in
 * oracle/src/cli.ts.)
 */
import type { Command } from "commander";
import type { Logger } from "pino";
import { Contract } from "ethers";
import { shortError } from "../chain/retry";
import { ConfigError, ConfigKey, describeConfig, loadConfig, OracleConfig } from "../config";
import { createLogger } from "../log";
import { ENCLAVE_REGISTRY_ABI, ORACLE_ABI, RequestState } from "../protocol/abi";
import { openChain, operatorClient, startNode, startRegisteredRunners } from "../main";
import { registerKeystoreCommand } from "./keystore-command";
import { registerRequestCommand } from "./request-command";
import { bond, readBond, unbond, withdrawBond, type BondStatus } from "./bond";

interface CommonOpts {
  config?: string;
  network?: string;
  deployment?: string;
}

function envHelp(): string {
  const rows = describeConfig().map((r) =>
    `  ${r.env.padEnd(30)} ${r.description}${r.default ? ` (default ${r.default})` : r.required ? " (required)" : ""}${r.secret ? " [secret]" : ""}`);
  return `\nConfiguration (environment variables; the same keys in camelCase in --config JSON):\n${rows.join("\n")}\n`;
}

/** The configuration: the environment (`env`), the --config file, and the command's flags over both. */
function configFrom(opts: CommonOpts, extra: Partial<Record<ConfigKey, unknown>> = {}, keys = true): OracleConfig {
  const overrides: Partial<Record<ConfigKey, unknown>> = { ...extra };
  if (opts.network) overrides.network = opts.network;
  if (opts.deployment) overrides.deploymentFile = opts.deployment;
  for (const k of Object.keys(overrides) as ConfigKey[]) if (overrides[k] === undefined) delete overrides[k];
  return loadConfig({ file: opts.config, overrides, keys });
}

function fail(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`error: ${shortError(err)}\n`);
  process.exit(1);
}

export function registerNodeCommands(program: Command): void {
  registerRequestCommand(program);
  startCommand(program);
  statusCommand(program);
  registerEnclaveCommand(program);
  bondCommand(program);
  registerKeystoreCommand(program);
}

/** `oracle start`: runs the node until SIGINT/SIGTERM. */
function startCommand(program: Command): void {
  program
    .command("start")
    .description("Run the oracle node: watch requests, compute them in attested runners, submit verified results")
    .option("-c, --config <file>", "JSON config file (spec keys); environment variables override it")
    .option("-n, --network <name>", "network name: addresses are read from deployments/<name>.json (ORACLE_NETWORK)")
    .option("-d, --deployment <file>", "deployment file to read instead of deployments/<network>.json (ORACLE_DEPLOYMENT_FILE)")
    .option("-p, --http-port <port>", "HTTP API port, 0 for any free port (ORACLE_HTTP_PORT)")
    .option("-r, --runners <n>", "enclave runner processes (ORACLE_RUNNERS)")
    .option("--confirmations <n>", "blocks to trail the head by (ORACLE_CONFIRMATIONS)")
    .addHelpText("after", `${envHelp()}\nKeys and URLs are taken only from the environment or the config file, never from flags (flags show in ps).\nSIGINT/SIGTERM: graceful shutdown (drains in-flight work); a second signal exits at once.\n`)
    .action(async (opts: CommonOpts & { httpPort?: string; runners?: string; confirmations?: string }) => {
      let config: OracleConfig;
      try {
        config = configFrom(opts, { httpPort: opts.httpPort, runners: opts.runners, confirmations: opts.confirmations });
      } catch (err) {
        fail(err);
      }
      const log = createLogger({ level: config.logLevel });
      try {
        await runUntilSignalled(config, log);
        log.flush();
        process.exit(0);
      } catch (err) {
        log.fatal({ err: shortError(err) }, "oracle node failed");
        log.flush();
        process.stderr.write(`error: ${shortError(err)}\n`);
        setTimeout(() => process.exit(1), 100);
      }
    });
}

/**
 * Runs a node until SIGINT/SIGTERM: the first signal shuts down gracefully, a second one forces
 * exit at once. Resolves when the node has stopped.
 */
async function runUntilSignalled(config: OracleConfig, log: Logger): Promise<void> {
  const node = await startNode(config, { log });
  await new Promise<void>((resolve) => {
    let signalled = 0;
    const onSignal = (sig: NodeJS.Signals | "parent exited") => {
      signalled++;
      if (signalled > 1) {
        log.warn({ signal: sig }, "second signal: exiting now");
        log.flush?.();
        process.exit(130);
      }
      clearInterval(orphanWatch);
      void node.close(sig).then(resolve, resolve);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const orphanWatch = watchNpmParent(() => onSignal("parent exited"));
  });
}

/**
 * `npm run …` and `npx …` start the node through a shell (`sh -c`) that does not pass npm's
 * SIGTERM on: the shell dies and the node would live on as an orphan. Under npm, the node
 * therefore stops (gracefully, as on SIGTERM) when its parent is gone. Outside npm nothing is
 * watched: `nohup oracle start &` must outlive its shell.
 */
function watchNpmParent(onGone: () => void): NodeJS.Timeout | undefined {
  if (!process.env.npm_command) return undefined;
  const parent = process.ppid;
  const timer = setInterval(() => { if (process.ppid !== parent) onGone(); }, 250);
  timer.unref();
  return timer;
}

/** `oracle status`: a running node's health and runners, or the chain's view when the node does not answer. */
function statusCommand(program: Command): void {
  program
    .command("status")
    .description("Show a running node's health, readiness, runners and (with --request) one request; falls back to the chain")
    .option("-u, --url <url>", "base URL of the node's HTTP API", "http://127.0.0.1:8080")
    .option("--request <id>", "show the status and trail of this request id")
    .option("-c, --config <file>", "JSON config file, for the chain fallback")
    .option("-n, --network <name>", "network of the deployment file, for the chain fallback")
    .option("-d, --deployment <file>", "deployment file, for the chain fallback")
    .option("--json", "print JSON only")
    .addHelpText("after", "\nWith the node unreachable, reads the deployment file and the chain (RPC_URL) instead:\nhead block, registered enclave signers, and the request's on-chain state.\n")
    .action(async (opts: CommonOpts & { url: string; request?: string; json?: boolean }) => {
      try {
        const out = await statusFromNode(opts.url, opts.request).catch(async (err) => {
          if (!opts.json) process.stderr.write(`node at ${opts.url} not reachable (${shortError(err)}); reading the chain\n`);
          return statusFromChain(opts, opts.request);
        });
        process.stdout.write(JSON.stringify(out, null, 2) + "\n");
      } catch (err) {
        fail(err);
      }
    });
}

/** `oracle register-enclave`: starts the runners, registers their signers, prints what the registry holds. */
function registerEnclaveCommand(program: Command): void {
  program
    .command("register-enclave")
    .description("Start the configured runners, have each attested, and register its signer in the EnclaveRegistry (operator = first ORACLE_PRIVATE_KEY)")
    .option("-c, --config <file>", "JSON config file (spec keys); environment variables override it")
    .option("-n, --network <name>", "network name (deployments/<name>.json)")
    .option("-d, --deployment <file>", "deployment file to read instead of deployments/<network>.json")
    .option("-r, --runners <n>", "how many runners to start and register (ORACLE_RUNNERS)")
    .addHelpText("after", `\nA runner's key lives only inside its process: a signer registered here serves only while that\nprocess lives. \`oracle start\` registers its own runners; use this command to check that\nregistration works (platform root trusted, measurement allowed) before going live.\n${envHelp()}`)
    .action(async (opts: CommonOpts & { runners?: string }) => {
      let config: OracleConfig;
      try {
        config = configFrom(opts, { runners: opts.runners });
      } catch (err) {
        fail(err);
      }
      const log = createLogger({ level: config.logLevel });
      let registered: Awaited<ReturnType<typeof startRegisteredRunners>> | undefined;
      try {
        registered = await startRegisteredRunners(config, log);
        const { client, runners } = registered;
        const registry = new Contract(client.deployment.contracts.EnclaveRegistry, ENCLAVE_REGISTRY_ABI, client.provider);
        const rows = [];
        for (const [index, host] of runners.hosts.entries()) {
          const [operator, measurement] = await registry.activeEnclave(host.signer);
          rows.push({ runner: index, signer: host.signer, operator, measurement });
        }
        process.stdout.write(JSON.stringify({ registered: rows }, null, 2) + "\n");
      } catch (err) {
        await registered?.close();
        fail(err);
      }
      await registered?.close();
      process.exit(0);
    });
}

/** `oracle bond`: shows, adds to, unbonds or withdraws the operator's bond. */
function bondCommand(program: Command): void {
  program
    .command("bond")
    .argument("[wei]", "wei to add to the operator's bond (a first bond or a top-up)")
    .description("Show the operator's bond in the EnclaveRegistry (operator = first ORACLE_PRIVATE_KEY); with <wei>, bond that much more")
    .option("-c, --config <file>", "JSON config file (spec keys); environment variables override it")
    .option("-n, --network <name>", "network name (deployments/<name>.json)")
    .option("-d, --deployment <file>", "deployment file to read instead of deployments/<network>.json")
    .option("--unbond <wei>", "start unbonding this much: it stops counting toward the minimum at once and can be withdrawn after the delay")
    .option("--withdraw", "withdraw what has finished unbonding")
    .addHelpText("after", "\nAn operator below the registry's minimum bond has no active enclave signers. Unbonding wei stays\nslashable until it is withdrawn. `oracle start` bonds ORACLE_BOND_WEI by itself when short.\n")
    .action(async (wei: string | undefined, opts: CommonOpts & { unbond?: string; withdraw?: boolean }) => {
      try {
        const amount = (v: string | undefined, what: string) => {
          if (v === undefined) return undefined;
          if (!/^[0-9]+$/.test(v) || BigInt(v) === 0n) throw new Error(`${what} must be a positive integer of wei, got "${v}"`);
          return BigInt(v);
        };
        const add = amount(wei, "the amount to bond");
        const out = amount(opts.unbond, "--unbond");
        const config = configFrom(opts);
        const client = operatorClient(config, createLogger({ level: config.logLevel }));
        const { provider, submitter } = client;
        const registry = client.deployment.contracts.EnclaveRegistry;
        const txs: string[] = [];
        if (add !== undefined) txs.push((await bond(submitter, registry, add)).hash);
        if (out !== undefined) txs.push((await unbond(submitter, registry, out)).hash);
        if (opts.withdraw) txs.push((await withdrawBond(submitter, registry)).hash);
        const status = await readBond(provider, registry, submitter.operator);
        process.stdout.write(JSON.stringify({ ...bondJson(status), txs }, null, 2) + "\n");
        client.close();
      } catch (err) {
        fail(err);
      }
      process.exit(0);
    });
}

function bondJson(s: BondStatus) {
  return {
    operator: s.operator, bonded: s.bonded.toString(), unbonding: s.unbonding.toString(),
    withdrawableAt: s.withdrawableAt ? new Date(s.withdrawableAt * 1000).toISOString() : null, minBond: s.minBond.toString(), isBonded: s.isBonded,
  };
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  const body = await res.json();
  return body;
}

async function statusFromNode(base: string, requestId?: string): Promise<unknown> {
  const u = base.replace(/\/$/, "");
  const [health, ready, attestation] = await Promise.all([getJson(`${u}/healthz`), getJson(`${u}/readyz`), getJson(`${u}/v1/attestation`)]);
  const runners = (attestation as { runners?: { index: number; signer?: string; measurement?: string; registered?: boolean }[] }).runners
    ?.map((r) => ({ index: r.index, signer: r.signer, measurement: r.measurement, registered: r.registered }));
  return { source: "node", health, ready, runners, ...(requestId ? { request: await getJson(`${u}/v1/requests/${requestId}`) } : {}) };
}

async function statusFromChain(opts: CommonOpts, requestId?: string): Promise<unknown> {
  // Reading needs no key: none is asked for or decrypted.
  const config = configFrom(opts, {}, false);
  const { deployment: d, provider } = openChain(config);
  try {
    const registry = new Contract(d.contracts.EnclaveRegistry, ENCLAVE_REGISTRY_ABI, provider);
    const oracle = new Contract(d.contracts.InferenceOracle, ORACLE_ABI, provider);
    const head = await provider.getBlockNumber();
    const events = await registry.queryFilter(registry.filters.EnclaveRegistered(), d.deploymentBlock, head);
    const signers = [];
    for (const e of events) {
      const signer = (e as unknown as { args: { signer: string } }).args.signer;
      const active = await registry.activeEnclave(signer).then(() => true, () => false);
      signers.push({ signer, active, block: e.blockNumber });
    }
    const out: Record<string, unknown> = { source: "chain", network: d.network, chainId: d.chainId, head, oracle: d.contracts.InferenceOracle, enclaves: signers };
    if (requestId) out.request = { requestId, onChainState: RequestState[Number(await oracle.requestState(BigInt(requestId)))] };
    return out;
  } finally {
    provider.destroy();
  }
}
