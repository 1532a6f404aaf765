/**
 * Done-when of the packages: pack them, create a dApp project in a temporary folder with no
 * .npmrc, install the tarballs, compile the docs' consumer against the contracts package, run the
 * project's own tests against the mock and against the local oracle, and read the result through
 * the client. Install figures are printed here; scripts/bench-packages.ts measures and saves them.
 */
import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import { builtinModules } from "node:module";
import hre from "hardhat";
import { createDappProject, docsConsumer, type DappProject } from "../../scripts/lib/dapp-project";
import { startLocalOracle, type LocalOracle } from "../../oracle/src/dev/local-oracle";
import { devAccount } from "../../oracle/src/dev/devchain";
import { REPO_ROOT } from "../../oracle/src/paths";

/** What the client may load at run time: its peer, its two hashing dependencies, Node built-ins, its own files. */
const CLIENT_ALLOWED = new Set(["ethers", "hash-wasm", "js-sha3", ...builtinModules]);

function requiresIn(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...requiresIn(p));
    else if (e.name.endsWith(".js")) for (const m of fs.readFileSync(p, "utf8").matchAll(/require\("([^"]+)"\)/g)) out.push(m[1]);
  }
  return out;
}

describe("the packages, from a dApp's own project (npm pack, install, compile, test)", function () {
  this.timeout(600_000);
  let project: DappProject;
  let local: LocalOracle;

  before(async () => {
    await hre.run("compile", { quiet: true });
    project = createDappProject(docsConsumer());
    local = await startLocalOracle();
  });

  after(async () => {
    await local?.stop();
    project?.remove();
  });

  it("installs contracts + client + ethers from the tarballs, with no .npmrc, in under 50 MB", () => {
    const { install, compilerInstall } = project;
    console.log(`      ${install.command}: ${(install.ms / 1000).toFixed(1)} s, node_modules ${(install.nodeModulesBytes / 1e6).toFixed(1)} MB, ${install.packages} packages`);
    console.log(`      + ${compilerInstall.command}: ${(compilerInstall.ms / 1000).toFixed(1)} s, node_modules ${(compilerInstall.nodeModulesBytes / 1e6).toFixed(1)} MB`);
    expect(fs.existsSync(path.join(project.dir, ".npmrc"))).to.equal(false);
    expect(install.nodeModulesBytes).to.be.below(50e6);
    const lock = JSON.parse(fs.readFileSync(path.join(project.dir, "package-lock.json"), "utf8"));
    const names = Object.keys(lock.packages);
    expect(names.filter((n) => /onnxruntime|hardhat|express|bullmq|ioredis/.test(n))).to.deep.equal([]);
    expect(names.filter((n) => lock.packages[n].hasInstallScript)).to.deep.equal([]);
  });

  it("loads no hardhat, onnxruntime, express or other node-side module from the installed client", () => {
    const dist = path.join(project.dir, "node_modules", "@attested-inference-oracle", "client", "dist");
    const external = requiresIn(dist).filter((m) => !m.startsWith("."));
    expect(external.filter((m) => !CLIENT_ALLOWED.has(m))).to.deep.equal([]);
    expect(external).to.include("ethers");
  });

  it("compiles the consumer that opens docs/contracts.md, and the package's mock, with the project's own solc", async () => {
    const out = await project.run("node", ["compile.js"]);
    expect(out).to.match(/build\/FlowerClassifier\.json/);
    expect(out).to.match(/build\/MockInferenceOracle\.json/);
  });

  it("passes the project's unit test against MockInferenceOracle, reading the answer through the client", async () => {
    const out = await project.run("node", ["--test", "test/mock.test.js"], { RPC_URL: local.rpcUrl, PRIVATE_KEY: devAccount(5).privateKey });
    expect(out).to.match(/# pass 1\b/);
    expect(out).to.match(/# fail 0\b/);
  });

  it("passes the project's integration test against the local oracle (startLocalOracle): result read, decoded and checked by the client", async () => {
    const out = await project.run("node", ["--test", "test/local-oracle.test.js"], {
      RPC_URL: local.rpcUrl, PRIVATE_KEY: devAccount(6).privateKey, ORACLE: local.contracts.InferenceOracle,
      MODEL_ID: String(local.models["iris-classifier"]), API_URL: local.apiUrl, FROM_BLOCK: String(local.deployment.deploymentBlock),
    });
    expect(out).to.match(/# pass 1\b/);
    expect(out).to.match(/# fail 0\b/);
  });

  it("types: a TypeScript file of the project compiles against the client's declarations", async () => {
    fs.writeFileSync(path.join(project.dir, "typed.ts"), [
      `import { connectOracle, waitForResult, decodeOutput, OracleContractError, type FinalRequest, type Quote } from "@attested-inference-oracle/client";`,
      `import { JsonRpcProvider } from "ethers";`,
      `export async function read(id: bigint): Promise<string | undefined> {`,
      `  const client = await connectOracle(new JsonRpcProvider("http://127.0.0.1:8545"), { oracle: "0x${"11".repeat(20)}" });`,
      `  const r: FinalRequest = await waitForResult(client, id, { timeoutMs: 1000, mode: "poll" });`,
      `  const q: Quote | undefined = undefined; void q; void OracleContractError;`,
      `  return r.output ? decodeOutput(r.output, { decimals: 6 }).top?.label : undefined;`,
      `}`,
    ].join("\n"));
    const tsc = path.join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
    await project.run(process.execPath, [tsc, "--noEmit", "--strict", "--target", "es2022", "--module", "commonjs", "--moduleResolution", "node", "typed.ts"]);
  });
});
