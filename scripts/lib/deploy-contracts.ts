/**
 * Deploys ModelRegistry, EnclaveRegistry (with the operators' bonds), InferenceOracle and the
 * EquivocationSlasher from the Hardhat artifacts with a plain ethers signer. Used by the contract
 * tests, `npm run gas`, `scripts/deploy.ts`, the node's integration tests and the demo; it needs
 * `npx hardhat compile` to have run, nothing else from Hardhat, so it works against any JSON-RPC
 * provider.
 */
import * as fs from "fs";
import * as path from "path";
import { Contract, ContractFactory, Signer, getAddress } from "ethers";
import { type ModelSpec, modelSpecTuple } from "../../oracle/src/protocol/model-spec";

export { type ModelSpec, modelSpecTuple };

/** Where `hardhat compile` writes artifacts (repo root / artifacts). */
export const ARTIFACTS_DIR = path.resolve(__dirname, "../../artifacts");

export interface OracleConfig {
  /** Lowest non-zero callback gas limit. */
  minCallbackGasLimit: number;
  /** Highest callback gas limit. */
  maxCallbackGasLimit: number;
  /** Longest time from request to deadline, in seconds. */
  maxDeadlineDelay: number;
  /** Highest redundancy k. */
  maxRedundancy: number;
  /** Gas prepaid per result on top of the callback's limit (a submission's cost apart from its callback). */
  resultGasOverhead: number;
}

export interface DeployOptions {
  /** Owner of EnclaveRegistry and InferenceOracle. Default: the deployer. */
  owner?: string;
  /** EnclaveRegistry's maximum report age at registration, seconds. Default 3600. */
  maxReportAge?: number;
  /** InferenceOracle's bounds on request options. Default {@link DEFAULT_ORACLE_CONFIG}. */
  oracleConfig?: Partial<OracleConfig>;
  /** Directory holding the artifacts. Default {@link ARTIFACTS_DIR}. */
  artifactsDir?: string;
  /** EnclaveRegistry's minimum operator bond, wei. Default {@link DEFAULT_MIN_BOND}. */
  minBond?: bigint;
  /** EnclaveRegistry's unbonding delay, seconds. Default {@link DEFAULT_UNBONDING_DELAY}. */
  unbondingDelay?: number;
  /**
   * Operators the deployer bonds `minBond` for (`bondFor`), so that their signers are active at
   * once: the demo's and the tests' accounts. A real operator bonds itself (`oracle bond`).
   */
  bondOperators?: string[];
}

export const DEFAULT_ORACLE_CONFIG: OracleConfig = {
  minCallbackGasLimit: 10_000,
  maxCallbackGasLimit: 2_000_000,
  maxDeadlineDelay: 7 * 24 * 3600,
  maxRedundancy: 8,
  // A redundancy-1 `fulfil` costs ≈ 75k gas and a k > 1 vote up to ≈ 130k apart from the callback
  // (docs/gas.md); the prepayment is a cap, and what is not used goes back to the requester.
  resultGasOverhead: 150_000,
};

export const DEFAULT_MAX_REPORT_AGE = 3600;
/** Minimum operator bond of a new deployment: 1 ether (the owner may set 0.01–10,000 ether). */
export const DEFAULT_MIN_BOND = 10n ** 18n;
/** Unbonding delay of a new deployment: 7 days (the owner may set 1–90 days). */
export const DEFAULT_UNBONDING_DELAY = 7 * 24 * 3600;

export interface DeployedContracts {
  modelRegistry: Contract;
  enclaveRegistry: Contract;
  oracle: Contract;
  slasher: Contract;
  addresses: { modelRegistry: string; enclaveRegistry: string; oracle: string; slasher: string };
}

interface Artifact {
  contractName: string;
  abi: unknown[];
  bytecode: string;
}

/** Reads the Hardhat artifact of a contract by name (searching `artifactsDir/contracts`). */
export function loadArtifact(name: string, artifactsDir = ARTIFACTS_DIR): Artifact {
  const found = findArtifact(path.join(artifactsDir, "contracts"), `${name}.json`);
  if (!found) throw new Error(`artifact ${name} not found under ${artifactsDir}: run \`npx hardhat compile\``);
  return JSON.parse(fs.readFileSync(found, "utf8")) as Artifact;
}

function findArtifact(dir: string, file: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const hit = findArtifact(p, file);
      if (hit) return hit;
    } else if (entry.name === file) {
      return p;
    }
  }
  return undefined;
}

/** Deploys one contract by artifact name and waits until it is mined. */
export async function deployContract(
  deployer: Signer,
  name: string,
  args: unknown[] = [],
  artifactsDir = ARTIFACTS_DIR,
): Promise<Contract> {
  const artifact = loadArtifact(name, artifactsDir);
  const factory = new ContractFactory(artifact.abi as never, artifact.bytecode, deployer);
  const contract = await factory.deploy(...args);
  await contract.waitForDeployment();
  return contract as Contract;
}

/** An ethers Contract for a deployed address, from its artifact's ABI. */
export function attachContract(name: string, address: string, runner: Signer, artifactsDir = ARTIFACTS_DIR): Contract {
  return new Contract(getAddress(address), loadArtifact(name, artifactsDir).abi as never, runner);
}

/** Deploys the core contracts, wired together (the slasher allowed to slash), and bonds `bondOperators`. */
export async function deployContracts(deployer: Signer, options: DeployOptions = {}): Promise<DeployedContracts> {
  const owner = options.owner ?? (await deployer.getAddress());
  const dir = options.artifactsDir ?? ARTIFACTS_DIR;
  const config = { ...DEFAULT_ORACLE_CONFIG, ...options.oracleConfig };
  const minBond = options.minBond ?? DEFAULT_MIN_BOND;
  const modelRegistry = await deployContract(deployer, "ModelRegistry", [], dir);
  const enclaveRegistry = await deployContract(
    deployer, "EnclaveRegistry",
    [owner, options.maxReportAge ?? DEFAULT_MAX_REPORT_AGE, minBond, options.unbondingDelay ?? DEFAULT_UNBONDING_DELAY], dir,
  );
  const oracle = await deployContract(
    deployer,
    "InferenceOracle",
    [
      owner,
      await modelRegistry.getAddress(),
      await enclaveRegistry.getAddress(),
      [config.minCallbackGasLimit, config.maxCallbackGasLimit, config.maxDeadlineDelay, config.maxRedundancy, config.resultGasOverhead],
    ],
    dir,
  );
  const slasher = await deployContract(deployer, "EquivocationSlasher", [await oracle.getAddress(), await enclaveRegistry.getAddress()], dir);
  if (getAddress(owner) === getAddress(await deployer.getAddress())) {
    await (await enclaveRegistry.setSlasher(await slasher.getAddress())).wait();
  }
  for (const operator of options.bondOperators ?? []) {
    await (await enclaveRegistry.bondFor(operator, { value: minBond })).wait();
  }
  return {
    modelRegistry,
    enclaveRegistry,
    oracle,
    slasher,
    addresses: {
      modelRegistry: await modelRegistry.getAddress(),
      enclaveRegistry: await enclaveRegistry.getAddress(),
      oracle: await oracle.getAddress(),
      slasher: await slasher.getAddress(),
    },
  };
}

/** Registers a model from `modelRegistry`'s signer (its publisher) for `measurements`; returns its id. */
export async function registerModel(modelRegistry: Contract, spec: ModelSpec, measurements: string[]): Promise<bigint> {
  const receipt = await (await modelRegistry.registerModel(modelSpecTuple(spec), measurements)).wait();
  const registered = (receipt?.logs ?? [])
    .map((l: { topics: readonly string[]; data: string }) => modelRegistry.interface.parseLog(l))
    .find((e: { name: string } | null) => e?.name === "ModelRegistered");
  if (!registered) throw new Error("no ModelRegistered event in the receipt");
  return registered.args.modelId as bigint;
}

/** The EnclaveRegistry owner's set-up: trust a vendor root (its P-256 public key) and allow runner measurements. */
export async function trustRoot(enclaveRegistry: Contract, root: { x: string; y: string }, measurements: string[]): Promise<void> {
  await (await enclaveRegistry.addRoot(root.x, root.y)).wait();
  for (const m of measurements) await (await enclaveRegistry.setMeasurementAllowed(m, true)).wait();
}
