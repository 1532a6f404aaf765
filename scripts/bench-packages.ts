/**
 * What depending on the oracle costs a dApp: packs the contracts and client packages, creates a
 * fresh project in a temporary folder (no .npmrc), installs the tarballs with ethers, then solc,
 * and reports each step's time and node_modules size: once with the npm cache (--prefer-offline,
 * as on a developer's machine) and once with an empty cache (every package from the registry).
 * Prints ONE JSON object on stdout and writes it to bench/packages.json.
 *   npm run bench:packages
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createDappProject, docsConsumer } from "./lib/dapp-project";

const mb = (b: number) => Math.round((b / 1e6) * 10) / 10;

function measure(cache?: string): Record<string, unknown> {
  const project = createDappProject(docsConsumer(), { cache });
  try {
    return {
      tarballBytes: { contracts: fs.statSync(project.tarballs.contracts).size, client: fs.statSync(project.tarballs.client).size },
      contractsClientEthers: { command: project.install.command, seconds: project.install.ms / 1000, nodeModulesMB: mb(project.install.nodeModulesBytes), packages: project.install.packages },
      plusSolc: { command: project.compilerInstall.command, seconds: project.compilerInstall.ms / 1000, nodeModulesMB: mb(project.compilerInstall.nodeModulesBytes), packages: project.compilerInstall.packages },
    };
  } finally {
    project.remove();
  }
}

function main(): void {
  const emptyCache = fs.mkdtempSync(path.join(os.tmpdir(), "npm-cache-"));
  try {
    const result = {
      date: new Date().toISOString(), node: process.version, goal: "contracts + client + ethers under 60 s and 50 MB",
      withNpmCache: measure(), emptyNpmCache: measure(emptyCache),
    };
    const text = JSON.stringify(result, null, 2);
    console.log(text);
    fs.writeFileSync(path.resolve(__dirname, "..", "bench", "packages.json"), `${text}\n`);
  } finally {
    fs.rmSync(emptyCache, { recursive: true, force: true });
  }
}

main();
