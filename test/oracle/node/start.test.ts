/**
 * An operator's first day: what `oracle start` does when the RPC is on another chain or dead,
 * when Redis is down, when start fails half-way, and what a graceful stop leaves on-chain. One
 * real Hardhat node for the file; the node runs in process (startNode) or as `bin/oracle start`.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { expect } from "chai";
import { Contract, Wallet } from "ethers";
import { loadConfig, type OracleConfig } from "../../../oracle/src/config";
import { createLogger } from "../../../oracle/src/log";
import { startNode } from "../../../oracle/src/main";
import { devAccount, freePort } from "../../../oracle/src/dev/devchain";
import { ENCLAVE_REGISTRY_ABI } from "../../../oracle/src/protocol/abi";
import { DEFAULT_MIN_BOND, DEFAULT_ORACLE_CONFIG } from "../../../scripts/lib/deploy-contracts";
import { REDIS_URL, setupEnv, type Env } from "../../e2e/lib";
import { REPO_ROOT } from "../../../oracle/src/paths";


describe("node start-up and shutdown (real Hardhat node)", function () {
  this.timeout(120_000);
  let env: Env;
  let registry: Contract;
  const log = createLogger({ level: "silent" });

  before(async () => {
    env = await setupEnv("start");
    registry = new Contract(env.deployed.deployment.contracts.EnclaveRegistry, ENCLAVE_REGISTRY_ABI, env.provider);
  });
  after(async () => env?.cleanup());

  const config = (over: Record<string, unknown> = {}): OracleConfig => loadConfig({
    env: {},
    overrides: {
      rpcUrl: env.chain.url, privateKeys: [devAccount(1).privateKey], deploymentFile: path.join(env.dir, "deployment.json"),
      dataDir: env.dir, httpPort: 0, confirmations: 1, pollIntervalMs: 200, startupTimeoutMs: 1500, logLevel: "silent", ...over,
    },
  });

  /** Signers of EnclaveRegistered events so far, and which of them are still active. */
  async function signers(): Promise<{ all: string[]; active: string[] }> {
    const events = await registry.queryFilter(registry.filters.EnclaveRegistered(), 0, "latest");
    const all = events.map((e) => (e as unknown as { args: { signer: string } }).args.signer);
    const active = [];
    for (const s of all) if (await registry.activeEnclave(s).then(() => true, () => false)) active.push(s);
    return { all, active };
  }

  /** `bin/oracle <command>` with `extra` env; resolves with its exit code, output and how long it ran. */
  function oracle(command: string[], extra: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
    const t0 = Date.now();
    return new Promise((resolve) => {
      execFile(process.execPath, [path.join(REPO_ROOT, "bin", "oracle"), ...command], {
        cwd: REPO_ROOT, timeout: 60_000,
        env: {
          PATH: process.env.PATH ?? "", RPC_URL: env.chain.url, ORACLE_PRIVATE_KEY: devAccount(1).privateKey,
          ORACLE_DEPLOYMENT_FILE: path.join(env.dir, "deployment.json"), ORACLE_DATA_DIR: env.dir, ORACLE_HTTP_PORT: "0",
          ORACLE_STARTUP_TIMEOUT_MS: "2000", LOG_LEVEL: "silent", ...extra,
        },
      }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr, ms: Date.now() - t0 }));
    });
  }

  /** `bin/oracle start` with `extra` env. */
  const oracleStart = (extra: Record<string, string>) => oracle(["start"], extra);

  it("an RPC on another chain: start exits non-zero at once with one line naming the URL and both chain ids", async () => {
    const other = path.join(env.dir, "deployment-chain-5.json");
    fs.writeFileSync(other, JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(env.dir, "deployment.json"), "utf8")), chainId: 5 }));
    const before = await signers();
    const r = await oracleStart({ ORACLE_DEPLOYMENT_FILE: other });
    expect(r.code).to.not.equal(0);
    const lines = r.stderr.trim().split("\n");
    expect(lines, r.stderr).to.have.length(1);
    expect(lines[0]).to.include(`RPC_URL ${env.chain.url} serves chain id 31337, but ${other} is for chain id 5`);
    expect((await signers()).all, "enclaves registered").to.deep.equal(before.all);
  });

  it("a dead RPC URL: start fails within the start-up timeout with one clear line", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const t0 = Date.now();
    const err = await startNode(config({ rpcUrl: dead }), { log }).then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(new RegExp(`^RPC_URL ${dead} does not answer eth_chainId \\(.*ECONNREFUSED.*\\): start the chain's node or fix RPC_URL$`));
    expect(Date.now() - t0).to.be.below(5000);
  });

  it("Redis unreachable: a bounded wait, one line, non-zero exit, and no enclave registered on-chain", async () => {
    const before = await signers();
    const r = await oracleStart({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    expect(r.code).to.not.equal(0);
    const lines = r.stderr.trim().split("\n");
    expect(lines, r.stderr).to.have.length(1);
    expect(lines[0]).to.match(/^error: REDIS_URL redis:\/\/127\.0\.0\.1:\d+ does not answer within 2 s \(.*ECONNREFUSED.*\): start Redis or fix REDIS_URL/);
    expect(r.ms).to.be.below(15_000);
    expect((await signers()).all, "enclaves registered").to.deep.equal(before.all);
  });

  it("an unfunded ORACLE_PRIVATE_KEY: start fails with one line that keeps its whole advice (fund it, or set ORACLE_PRIVATE_KEY to a funded key)", async () => {
    const unfunded = Wallet.createRandom();
    // Told to bond (ORACLE_BOND_WEI), its first transaction is what it cannot pay for.
    const r = await oracleStart({ ORACLE_PRIVATE_KEY: unfunded.privateKey, ORACLE_BOND_WEI: DEFAULT_MIN_BOND.toString() });
    expect(r.code).to.not.equal(0);
    const lines = r.stderr.trim().split("\n");
    expect(lines, r.stderr).to.have.length(1);
    expect(lines[0]).to.include(`(the sending account ${unfunded.address} cannot pay for gas: fund it, or set ORACLE_PRIVATE_KEY to a funded key)`);
  });

  it("a start that fails after registering its runner (HTTP port taken) leaves no live signer behind", async () => {
    const blocker = http.createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, "127.0.0.1", () => r()));
    try {
      const before = await signers();
      const err = await startNode(config({ httpPort: port }), { log }).then(() => undefined, (e: Error) => e);
      expect(err?.message).to.include("EADDRINUSE");
      const after = await signers();
      expect(after.all.length, "the runner was registered before the failure").to.be.greaterThan(before.all.length);
      expect(after.active, "signers still active after the failed start").to.deep.equal(before.active);
    } finally {
      blocker.close();
    }
  });

  it("a graceful stop retires the node's signers on-chain (retireSigner by the operator); the callback gas ceiling is the oracle's own maximum and batches keep under ORACLE_MAX_TX_GAS", async () => {
    const node = await startNode(config({ redisUrl: REDIS_URL, queuePrefix: `${env.prefix}-stop`, maxCallbackGas: 5_000_000, maxTxGas: 3_000_000 }), { log });
    expect(node.limits.maxCallbackGas, "ORACLE_MAX_CALLBACK_GAS=5M is capped at the oracle's maximum").to.equal(DEFAULT_ORACLE_CONFIG.maxCallbackGasLimit);
    expect(node.limits.maxBatchGas, "batches are sized under ORACLE_MAX_TX_GAS").to.equal(3_000_000n);
    const mine = node.runners.signers();
    expect(mine).to.have.length(1);
    expect((await signers()).active).to.include(mine[0]);
    await node.close("test");
    expect((await signers()).active).to.not.include(mine[0]);
    const rec = await registry.getEnclave(mine[0]);
    expect(Number(rec.status), "EnclaveStatus.Retired").to.equal(2);
    expect(rec.operator).to.equal(new Wallet(devAccount(1).privateKey).address);
  });

  it("`oracle register-enclave` starts the runners, registers each signer and prints it with its operator and measurement; the signers stay registered", async () => {
    const before = await signers();
    const r = await oracle(["register-enclave", "--runners", "2"], {});
    expect(r.code, r.stderr).to.equal(0);
    const rows = (JSON.parse(r.stdout) as { registered: { runner: number; signer: string; operator: string; measurement: string }[] }).registered;
    expect(rows.map((row) => row.runner)).to.deep.equal([0, 1]);
    for (const row of rows) {
      expect(row).to.include({ operator: devAccount(1).address, measurement: env.deployed.deployment.measurement });
    }
    const after = await signers();
    expect(after.all.slice(before.all.length)).to.have.members(rows.map((row) => row.signer));
    expect(after.active, "register-enclave does not retire what it registered").to.include.members(rows.map((row) => row.signer));
  });

  it("`oracle keystore create --import` encrypts the operator key (mode 600, never overwritten); the node's commands then run from the keystore, and a wrong password stops them with one line", async () => {
    const dir = fs.mkdtempSync(path.join(env.dir, "keys-"));
    const store = path.join(dir, "operator.json");
    const pw = path.join(dir, "password");
    fs.writeFileSync(pw, "a long passphrase\n", { mode: 0o600 });
    const noPassword = await oracle(["keystore", "create", store, "--import", "--scrypt-n", "1024"], {});
    expect(noPassword.code).to.equal(2);
    expect(noPassword.stderr).to.match(/^error: ORACLE_KEYSTORE needs its password: set ORACLE_KEYSTORE_PASSWORD_FILE/);
    const made = await oracle(["keystore", "create", store, "--import", "--scrypt-n", "1024"], { ORACLE_KEYSTORE_PASSWORD_FILE: pw });
    expect(made.code, made.stderr).to.equal(0);
    expect(JSON.parse(made.stdout)).to.deep.equal({ keystore: store, address: devAccount(1).address });
    expect(fs.statSync(store).mode & 0o777, "keystore file mode").to.equal(0o600);
    expect(fs.readFileSync(store, "utf8")).to.not.include(devAccount(1).privateKey.slice(2));
    const again = await oracle(["keystore", "create", store, "--scrypt-n", "1024"], { ORACLE_KEYSTORE_PASSWORD_FILE: pw });
    expect(again.code).to.equal(2);
    expect(again.stderr).to.include(`${store} exists: choose another path (a keystore is never overwritten)`);

    const fromKeystore = { ORACLE_PRIVATE_KEY: "", ORACLE_KEYSTORE: store, ORACLE_KEYSTORE_PASSWORD_FILE: pw };
    const bondShown = await oracle(["bond"], fromKeystore);
    expect(bondShown.code, bondShown.stderr).to.equal(0);
    expect(JSON.parse(bondShown.stdout).operator, "the operator is the keystore's key").to.equal(devAccount(1).address);
    const wrongPw = path.join(dir, "wrong");
    fs.writeFileSync(wrongPw, "not it", { mode: 0o600 });
    const refused = await oracleStart({ ...fromKeystore, ORACLE_KEYSTORE_PASSWORD_FILE: wrongPw });
    expect(refused.code).to.equal(2);
    expect(refused.stderr.trim().split("\n")).to.deep.equal(["invalid configuration:", `  - ORACLE_KEYSTORE ${store} cannot be decrypted: the password is wrong`]);
  });

  it("`oracle status` with no node answering reads the chain: head, the enclaves registered and whether each is active, a request's state", async () => {
    const r = await oracle(["status", "--url", `http://127.0.0.1:${await freePort()}`, "--json", "--request", "1"], { ORACLE_PRIVATE_KEY: "" });
    expect(r.code, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as { source: string; chainId: number; head: number; enclaves: { signer: string; active: boolean }[]; request: unknown };
    expect(out).to.include({ source: "chain", chainId: 31337 });
    expect(out.head).to.be.greaterThan(0);
    const { all, active } = await signers();
    expect(out.enclaves.map((e) => e.signer)).to.deep.equal(all);
    expect(out.enclaves.filter((e) => e.active).map((e) => e.signer)).to.deep.equal(active);
    expect(out.request).to.deep.equal({ requestId: "1", onChainState: "None" });
  });
});
