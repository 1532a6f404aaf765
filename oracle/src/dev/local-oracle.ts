/**
 * A local oracle for a dApp's integration tests (`oracle dev`, or `startLocalOracle()` from a
 * test): a development chain (a `hardhat node` child process, or the dApp's own node by URL),
 * the contracts deployed and the models registered by scripts/deploy.ts, and an oracle node
 * started by the composition root (main.ts). Its enclaves are attested by the development
 * platform, a SIMULATION of TEE hardware: never for production.
 */
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { JsonRpcProvider, NonceManager, Wallet } from "ethers";
import pino, { type Logger } from "pino";
import { deployNetwork } from "../../../scripts/deploy";
import type { Deployment } from "../chain/deployment";
import { loadConfig } from "../config";
import { startNode, type OracleNode } from "../main";
import { REPO_ROOT } from "../paths";
import { devAccount, startDevChain, type DevChain } from "./devchain";

export interface LocalOracleOptions {
  /** A running chain to deploy to (e.g. the dApp's `npx hardhat node`); default: start one. */
  rpcUrl?: string;
  /** Key that deploys and owns the contracts (default: Hardhat development account 0). */
  deployerKey?: string;
  /** Key of the node's operator, which submits results (default: development account 1). */
  operatorKey?: string;
  /** HTTP API port (default 0: any free port). */
  httpPort?: number;
  /** BullMQ on this Redis (default: the in-process queue). */
  redisUrl?: string;
  /** Where the node keeps its files (default: a fresh .oracle-data/dev-<random>/, removed on stop). */
  dataDir?: string;
  /** Blocks the node trails the head by (default 0: a dev chain mines a block per transaction). */
  confirmations?: number;
  /** The node's logger (default: warnings and errors to stderr). */
  log?: Logger;
}

export interface LocalOracle {
  rpcUrl: string;
  chainId: number;
  /** InferenceOracle, ModelRegistry, EnclaveRegistry and the example consumers. */
  contracts: Deployment["contracts"];
  /** Model name → id. */
  models: Record<string, number>;
  deployment: Deployment;
  /** The deployment file the node reads (inside the data dir). */
  deploymentFile: string;
  /** The node's HTTP API. */
  apiUrl: string;
  node: OracleNode;
  /** Stops the node, the chain if it was started here, and removes the data dir. Idempotent. */
  stop(): Promise<void>;
}

/** What `oracle dev --json` prints: the addresses and URLs a dApp's test needs. */
export function describeLocalOracle(o: LocalOracle): Record<string, unknown> {
  return { rpcUrl: o.rpcUrl, chainId: o.chainId, apiUrl: o.apiUrl, deploymentBlock: o.deployment.deploymentBlock, contracts: o.contracts, models: o.models };
}

/** Starts (or attaches to) a chain, deploys, registers the models and runs a node. */
export async function startLocalOracle(opts: LocalOracleOptions = {}): Promise<LocalOracle> {
  const cleanups: [string, () => Promise<unknown>][] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      for (const [name, fn] of cleanups.reverse()) {
        try { await fn(); } catch (err) { process.stderr.write(`oracle dev: stopping ${name}: ${(err as Error).message}\n`); }
      }
    })();
    return stopping;
  };
  try {
    let chain: DevChain | undefined;
    if (!opts.rpcUrl) {
      chain = await startDevChain();
      cleanups.push(["chain", () => chain!.stop()]);
    }
    const rpcUrl = opts.rpcUrl ?? chain!.url;
    const provider = new JsonRpcProvider(rpcUrl, undefined, { pollingInterval: 200 });
    cleanups.push(["provider", async () => provider.destroy()]);
    const dataDir = path.resolve(opts.dataDir ?? path.join(REPO_ROOT, ".oracle-data", `dev-${randomBytes(4).toString("hex")}`));
    fs.mkdirSync(dataDir, { recursive: true });
    if (!opts.dataDir) cleanups.push(["data dir", async () => fs.rmSync(dataDir, { recursive: true, force: true })]);
    const deployer = new NonceManager((opts.deployerKey ? new Wallet(opts.deployerKey) : devAccount(0)).connect(provider));
    const deploymentFile = path.join(dataDir, "deployment.json");
    const { deployment } = await deployNetwork({ network: "localhost", deployer, deploymentFile });

    const config = loadConfig({
      env: {},
      overrides: {
        network: "localhost", deploymentFile, rpcUrl, privateKeys: [opts.operatorKey ?? devAccount(1).privateKey],
        redisUrl: opts.redisUrl, queuePrefix: `oracle-dev-${randomBytes(4).toString("hex")}`, confirmations: opts.confirmations ?? 0,
        pollIntervalMs: 200, batchWindowMs: 100, runners: 1, httpPort: opts.httpPort ?? 0, dataDir,
        modelsDir: path.join(REPO_ROOT, "models"), logLevel: "warn", reconcileIntervalMs: 2000,
        // One developer's machine: a model published at http://127.0.0.1 is theirs.
        modelAllowPrivateHosts: true,
      },
    });
    const log = opts.log ?? pino({ level: "warn" }, pino.destination(2));
    const node = await startNode(config, { log });
    cleanups.push(["node", () => node.close("oracle dev stopped")]);
    return {
      rpcUrl, chainId: deployment.chainId, contracts: deployment.contracts, models: deployment.models, deployment, deploymentFile,
      apiUrl: `http://127.0.0.1:${node.api.port}`, node, stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
