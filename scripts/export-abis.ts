/**
 * Writes the generated files of the contracts package (contracts/package.json):
 *
 *   contracts/abi/<Name>.json         the ABI of each contract a dApp or a tool talks to, from the
 *                                     Hardhat artifacts (`npx hardhat compile` first)
 *   contracts/deployments/<net>.json  the addresses of every committed deployments/<net>.json
 *                                     (local chains, localhost and hardhat, are not published)
 *   contracts/deployments/index.json  network name → chain id
 *
 *   npm run export-abis
 *
 * Both are committed, so the package and the client build from a checkout without Hardhat;
 * test/packages/contracts-package.test.ts fails when they differ from what this script writes.
 */
import fs from "node:fs";
import path from "node:path";
import { loadArtifact, ARTIFACTS_DIR } from "./lib/deploy-contracts";
import { DeploymentSchema } from "../oracle/src/chain/deployment";
import { REPO_ROOT } from "../oracle/src/paths";


/** Contracts whose ABI the package ships. */
export const PACKAGE_ABIS = [
  "InferenceOracle", "ModelRegistry", "EnclaveRegistry", "OperatorBonds", "EquivocationSlasher",
  "IInferenceOracle", "IModelRegistry", "IEnclaveRegistry", "IOperatorBonds", "IEquivocationSlasher", "IInferenceConsumer", "ITypeAndVersion",
  "InferenceConsumer", "MockInferenceOracle",
] as const;

/** Networks whose deployment files describe a chain of one machine only. */
const LOCAL_NETWORKS = new Set(["localhost", "hardhat"]);

export interface ExportOptions {
  artifactsDir?: string;
  deploymentsDir?: string;
  /** The contracts package folder (default contracts/). */
  packageDir?: string;
}

/** What the package's generated files should hold: relative path → file text. */
export function packageFiles(opts: ExportOptions = {}): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of PACKAGE_ABIS) {
    files.set(`abi/${name}.json`, `${JSON.stringify(loadArtifact(name, opts.artifactsDir ?? ARTIFACTS_DIR).abi, null, 2)}\n`);
  }
  const dir = opts.deploymentsDir ?? path.join(REPO_ROOT, "deployments");
  const index: Record<string, number> = {};
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
    const network = path.basename(file, ".json");
    if (LOCAL_NETWORKS.has(network)) continue;
    const d = DeploymentSchema.parse(JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")));
    const published = { network: d.network, chainId: d.chainId, deploymentBlock: d.deploymentBlock, contracts: d.contracts, models: d.models, modelHashes: d.modelHashes };
    files.set(`deployments/${network}.json`, `${JSON.stringify(published, null, 2)}\n`);
    index[network] = d.chainId;
  }
  files.set("deployments/index.json", `${JSON.stringify(index, null, 2)}\n`);
  return files;
}

/** Writes the generated files and removes stale ones from abi/ and deployments/. Returns the paths written. */
export function exportPackageFiles(opts: ExportOptions = {}): string[] {
  const pkg = opts.packageDir ?? path.join(REPO_ROOT, "contracts");
  const files = packageFiles(opts);
  for (const sub of ["abi", "deployments"]) {
    fs.mkdirSync(path.join(pkg, sub), { recursive: true });
    for (const f of fs.readdirSync(path.join(pkg, sub))) {
      if (!files.has(`${sub}/${f}`)) fs.rmSync(path.join(pkg, sub, f));
    }
  }
  for (const [rel, text] of files) fs.writeFileSync(path.join(pkg, rel), text);
  return [...files.keys()];
}

if (require.main === module) {
  for (const f of exportPackageFiles()) console.log(`contracts/${f}`);
}
