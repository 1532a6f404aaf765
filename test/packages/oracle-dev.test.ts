import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import hre from "hardhat";
import { JsonRpcProvider } from "ethers";
import { rpc, startDevChain, type DevChain } from "../../oracle/src/dev/devchain";
import { REPO_ROOT } from "../../oracle/src/paths";

interface Started { child: ChildProcess; info: Record<string, any>; exited: Promise<number | null>; stderr: () => string }

/** Starts `bin/oracle dev --json …` and waits for its JSON line. */
async function startCli(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, "bin", "oracle"), "dev", "--json", ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr!.on("data", (b) => { err += b.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const info = await new Promise<Record<string, any>>((resolve, reject) => {
    child.stdout!.on("data", (b) => {
      out += b.toString();
      if (out.includes("\n")) resolve(JSON.parse(out.slice(0, out.indexOf("\n"))));
    });
    void exited.then((code) => reject(new Error(`oracle dev exited (${code}): ${err.slice(-2000)}`)));
  });
  return { child, info, exited, stderr: () => err };
}

async function answers(url: string): Promise<boolean> {
  try { await rpc(url, "eth_chainId", []); return true; } catch { return false; }
}

describe("oracle dev (a local oracle for a dApp's integration tests)", function () {
  this.timeout(240_000);
  before(async () => { await hre.run("compile", { quiet: true }); });

  it("attaches to a running chain (--rpc-url), prints the addresses as JSON, and on SIGTERM stops cleanly, leaving the chain up", async () => {
    const chain: DevChain = await startDevChain();
    try {
      const dev = await startCli(["--rpc-url", chain.url]);
      expect(dev.info.rpcUrl).to.equal(chain.url);
      expect(dev.info.chainId).to.equal(31337);
      expect(dev.info.models).to.include.keys("iris-classifier", "penguins-species-int");
      const provider = new JsonRpcProvider(chain.url, 31337, { staticNetwork: true });
      for (const name of ["InferenceOracle", "ModelRegistry", "EnclaveRegistry"]) {
        expect(await provider.getCode(dev.info.contracts[name]), name).to.not.equal("0x");
      }
      const ready = await fetch(`${dev.info.apiUrl}/readyz`);
      expect(ready.status).to.equal(200);
      provider.destroy();
      dev.child.kill("SIGTERM");
      expect(await dev.exited).to.equal(0);
      expect(await answers(chain.url)).to.equal(true);
      await fetch(`${dev.info.apiUrl}/healthz`).then(() => expect.fail("the node's API still answers"), () => undefined);
    } finally {
      await chain.stop();
    }
  });

  it("starts its own chain when given no --rpc-url, and Ctrl-C (SIGINT) stops the chain with the node", async () => {
    const dev = await startCli([]);
    expect(await answers(dev.info.rpcUrl)).to.equal(true);
    dev.child.kill("SIGINT");
    expect(await dev.exited).to.equal(0);
    expect(await answers(dev.info.rpcUrl)).to.equal(false);
  });

  it("says what to fix for a bad option, before starting anything", async () => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, "bin", "oracle"), "dev", "--http-port", "abc"], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr!.on("data", (b) => { err += b.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).to.equal(1);
    expect(err).to.match(/--http-port must be a non-negative integer, got abc/);
  });
});
