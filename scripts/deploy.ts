/**
 * Deploys the oracle to a network and writes deployments/<network>.json, the only place the node
 * and the auditor read addresses from.
 *
 *   npx hardhat run scripts/deploy.ts --network localhost
 *   RPC_URL=http://127.0.0.1:8545 DEPLOYER_PRIVATE_KEY=0x… npx ts-node scripts/deploy.ts --network localhost
 *
 * Steps: deploy ModelRegistry, EnclaveRegistry, InferenceOracle, EquivocationSlasher
 * (`deployContracts`); on a development chain (chain id 31337) bond the development accounts 1–9
 * (the demo's and the tests' node operators) with the minimum bond; create or
 * load the development platform for the network (a SIMULATION of TEE hardware; its file holds
 * keys and is kept in .oracle-data/, 0600) and trust its root; allow the measurement of this
 * checkout's runner; register every model of models/manifest.json for that measurement; deploy
 * the example consumers; write the deployment file.
 * On localhost/hardhat without DEPLOYER_PRIVATE_KEY, the first Hardhat development account deploys.
 */
import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../oracle/src/paths";
import { Contract, JsonRpcProvider, NonceManager, Signer, Wallet, getAddress } from "ethers";
import { attachContract, deployContract, deployContracts, registerModel, trustRoot, type ModelSpec } from "./lib/deploy-contracts";
import { specDeterminism, specInputEncoding } from "../oracle/src/models/spec";
import { writeDeployment, type Deployment } from "../oracle/src/chain/deployment";
import { measureRunner } from "../oracle/src/enclave/measure";
import { createDevPlatform, loadDevPlatform, saveDevPlatform, type DevPlatform } from "../oracle/src/enclave/platform";
import { loadManifest } from "../oracle/src/models/manifest";
import { devAccount } from "../oracle/src/dev/devchain";


/** Where a network's development platform (root, platform key, secret) lives: one place for every script. */
export function devPlatformFile(network: string, repoRoot = REPO_ROOT): string {
  return path.join(repoRoot, ".oracle-data", "dev-platform", `${network}.json`);
}

export interface DeployNetworkOptions {
  network: string;
  deployer: Signer;
  /** Fee per request of every model, wei (default 1e12). */
  modelFee?: bigint;
  /** The publisher's (deployer's) share of every model's fee, basis points (default 0). */
  publisherShareBps?: number;
  /** Where the deployment file goes (default deployments/<network>.json). */
  deploymentFile?: string;
  /** Dev platform file (default .oracle-data/dev-platform/<network>.json). */
  platformFile?: string;
  /**
   * Operators the deployer bonds the minimum for. Default: on a development chain (chain id 31337)
   * the development accounts 1–9, whose keys are public; elsewhere none (an operator bonds itself
   * with `oracle bond`).
   */
  bondOperators?: string[];
  /** Progress lines. */
  log?: (line: string) => void;
}

/** Hardhat's and anvil's development chain id: the one where the public development accounts are bonded. */
export const DEV_CHAIN_ID = 31337;

export interface DeployResult {
  deployment: Deployment;
  deploymentFile: string;
  platform: DevPlatform;
  contracts: { oracle: Contract; modelRegistry: Contract; enclaveRegistry: Contract; iris: Contract; lendingPool: Contract };
}

/** Everything `scripts/deploy.ts` does, as a function (the demo, the bench and the e2e tests call it). */
export async function deployNetwork(opts: DeployNetworkOptions): Promise<DeployResult> {
  const log = opts.log ?? (() => undefined);
  const deployer = opts.deployer;
  const provider = deployer.provider!;
  const chainId = Number((await provider.getNetwork()).chainId);
  const deploymentBlock = await provider.getBlockNumber();
  const deployerAddress = await deployer.getAddress();

  const bondOperators = opts.bondOperators
    ?? (chainId === DEV_CHAIN_ID ? Array.from({ length: 9 }, (_, i) => devAccount(i + 1).address) : []);
  const core = await deployContracts(deployer, { bondOperators });
  log(`contracts: InferenceOracle ${core.addresses.oracle}, ModelRegistry ${core.addresses.modelRegistry}, EnclaveRegistry ${core.addresses.enclaveRegistry}, EquivocationSlasher ${core.addresses.slasher}`);
  if (bondOperators.length) log(`bonded the minimum for ${bondOperators.length} operator(s): ${bondOperators.join(", ")}`);

  const platformFile = opts.platformFile ? path.resolve(REPO_ROOT, opts.platformFile) : devPlatformFile(opts.network);
  let platform: DevPlatform;
  if (fs.existsSync(platformFile)) {
    platform = loadDevPlatform(platformFile);
    log(`dev platform (simulation) loaded from ${path.relative(REPO_ROOT, platformFile)}: root ${platform.rootId}`);
  } else {
    platform = createDevPlatform();
    saveDevPlatform(platform, platformFile);
    log(`dev platform (simulation) created at ${path.relative(REPO_ROOT, platformFile)}: root ${platform.rootId}`);
  }
  const { measurement } = measureRunner({ repoRoot: REPO_ROOT });
  await trustRoot(core.enclaveRegistry, platform.rootPublicKey, [measurement]);
  log(`runner measurement allowed: ${measurement}`);

  const manifest = loadManifest(path.join(REPO_ROOT, "models"));
  const models: Record<string, number> = {};
  const modelHashes: Record<string, string> = {};
  const fee = opts.modelFee ?? 1_000_000_000_000n;
  for (const m of manifest.models) {
    // The on-chain spec is the file's (its metadata); the URI is content-addressed: nodes hold the
    // shipped models already (ORACLE_MODELS_DIR) or resolve it against their mirrors.
    const spec: ModelSpec = {
      modelHash: m.sha256, inputLength: m.input.length, outputLength: m.output.length, decimals: m.decimals, fee, uri: `sha256:${m.sha256.slice(2)}`,
      inputEncoding: specInputEncoding(m), determinism: specDeterminism(m), publisherShareBps: opts.publisherShareBps ?? 0,
    };
    models[m.name] = Number(await registerModel(core.modelRegistry, spec, [measurement]));
    modelHashes[m.name] = m.sha256;
    log(`model ${m.name}: id ${models[m.name]}, sha256 ${m.sha256}`);
  }

  const iris = await deployContract(deployer, "IrisClassifierConsumer", [core.addresses.oracle, models["iris-classifier"]]);
  const risk = manifest.models.find((m) => m.name === "volatility-risk")!;
  const lendingPool = await deployContract(deployer, "RiskScoredLendingPool", [core.addresses.oracle, models["volatility-risk"], risk.decimals, 3000, 8000]);
  log(`consumers: IrisClassifierConsumer ${await iris.getAddress()}, RiskScoredLendingPool ${await lendingPool.getAddress()}`);

  const deploymentFile = path.resolve(REPO_ROOT, opts.deploymentFile ?? path.join("deployments", `${opts.network}.json`));
  const deployment: Deployment = {
    network: opts.network,
    chainId,
    deploymentBlock,
    contracts: {
      InferenceOracle: getAddress(core.addresses.oracle),
      ModelRegistry: getAddress(core.addresses.modelRegistry),
      EnclaveRegistry: getAddress(core.addresses.enclaveRegistry),
      EquivocationSlasher: getAddress(core.addresses.slasher),
      IrisClassifierConsumer: getAddress(await iris.getAddress()),
      RiskScoredLendingPool: getAddress(await lendingPool.getAddress()),
    },
    models,
    modelHashes,
    devPlatform: { rootPublicKey: platform.rootPublicKey, rootId: platform.rootId, stateFile: path.relative(REPO_ROOT, platformFile) },
    measurement,
    deployer: getAddress(deployerAddress),
    deployedAt: new Date().toISOString(),
  };
  writeDeployment(deploymentFile, deployment);
  log(`wrote ${path.relative(REPO_ROOT, deploymentFile)}`);
  return {
    deployment, deploymentFile, platform,
    contracts: { oracle: core.oracle, modelRegistry: core.modelRegistry, enclaveRegistry: core.enclaveRegistry, iris, lendingPool },
  };
}

/** Attaches the deployed contracts of a deployment file to a signer. */
export function attachDeployment(d: Deployment, runner: Signer): Record<string, Contract> {
  const out: Record<string, Contract> = {};
  for (const [name, address] of Object.entries(d.contracts)) out[name] = attachContract(name, address, runner);
  return out;
}

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  // Under `hardhat run`, HARDHAT_NETWORK names the network and hre gives its provider.
  const network = argValue("--network") ?? process.env.HARDHAT_NETWORK ?? process.env.ORACLE_NETWORK ?? "localhost";
  let deployer: Signer;
  if (process.env.HARDHAT_NETWORK && !process.env.RPC_URL) {
    const hre = require("hardhat");
    const [signer] = await hre.ethers.getSigners();
    deployer = signer;
  } else {
    const provider = new JsonRpcProvider(process.env.RPC_URL ?? "http://127.0.0.1:8545", undefined, { pollingInterval: 200 });
    const key = process.env.DEPLOYER_PRIVATE_KEY;
    if (!key && !["localhost", "hardhat"].includes(network)) {
      throw new Error(`DEPLOYER_PRIVATE_KEY is required for network ${network} (a 32-byte hex key)`);
    }
    deployer = new NonceManager((key ? new Wallet(key) : devAccount(0)).connect(provider));
  }
  const res = await deployNetwork({ network, deployer, log: (l) => console.log(l) });
  console.log(JSON.stringify({ deploymentFile: path.relative(REPO_ROOT, res.deploymentFile), ...res.deployment.contracts }, null, 2));
  deployer.provider?.destroy?.();
}

if (require.main === module) {
  main().then(() => process.exit(0), (err) => {
    console.error(`deploy failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
