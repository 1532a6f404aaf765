/**
 * An operator's setups, end to end with full node processes (`bin/oracle start`), a real Hardhat
 * node, the real contracts and Redis: two nodes on one BullMQ queue, one of them SIGKILLed
 * mid-run; and `oracle request`, the documented way to send a test request to a running node.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { devAccount } from "../../oracle/src/node/devchain";
import {
  Env, LoadGenerator, NodeProcess, metricValue, rpc, setupEnv, startNodeProcess, summarize, waitAllFulfilled,
} from "./lib";
import { REPO_ROOT } from "../../scripts/deploy";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const run = promisify(execFile);

describe("e2e: an operator's setups", function () {
  this.timeout(240_000);
  let env: Env | undefined;
  let nodes: NodeProcess[] = [];

  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    nodes = [];
    await env?.cleanup();
    env = undefined;
  });

  it("two nodes of one operator on one BullMQ queue, one SIGKILLed mid-run: every request fulfilled exactly once", async () => {
    env = await setupEnv("twonodes");
    await rpc(env.chain.url, "evm_setAutomine", [false]);
    await rpc(env.chain.url, "evm_setIntervalMining", [300]);
    const a = await startNodeProcess(env, { ORACLE_DATA_DIR: path.join(env.dir, "a") });
    const b = await startNodeProcess(env, { ORACLE_DATA_DIR: path.join(env.dir, "b") });
    nodes.push(a, b);
    const gen = new LoadGenerator(env);
    await gen.send(150);
    // Kill A while the wave is in flight: once it has fulfilled something, before all is done.
    const started = Date.now();
    while (metricValue(await a.metrics(), "oracle_requests_fulfilled_total") === 0 && Date.now() - started < 30_000) await sleep(20);
    const byA = metricValue(await a.metrics(), "oracle_requests_fulfilled_total");
    await a.kill();
    await gen.send(150);
    const t = await waitAllFulfilled(env, 300, 120_000);
    summarize("two nodes, one killed", t);
    const byB = metricValue(await b.metrics(), "oracle_requests_fulfilled_total");
    console.log(`      node A settled ${byA} before its SIGKILL; node B settled ${byB}`);
    expect(t.requested).to.equal(300);
    expect(t.requestIds.filter((id) => !t.fulfilledPerRequest.has(id.toString())).map(String), "never fulfilled").to.deep.equal([]);
    expect([...t.fulfilledPerRequest].filter(([, n]) => n !== 1), "fulfilled more than once").to.deep.equal([]);
    expect(byA, "node A served before it was killed").to.be.greaterThan(0);
    expect(byB, "node B took over").to.be.greaterThan(0);
    expect(await b.terminate(), "B's graceful exit").to.equal(0);
  });

  it("oracle request --model … --input … sends a test request to a running node, prints its id and waits for the result", async () => {
    env = await setupEnv("request");
    await rpc(env.chain.url, "evm_setIntervalMining", [300]);
    nodes.push(await startNodeProcess(env));
    const { stdout } = await run(process.execPath, [path.join(REPO_ROOT, "bin", "oracle"), "request", "--model", "penguins-species-int", "--input", "391,187,181,3750",
      "--deployment", path.join(env.dir, "deployment.json"), "--timeout", "60"], {
      cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? "", RPC_URL: env.chain.url, ORACLE_REQUESTER_KEY: devAccount(15).privateKey },
    });
    const lines = stdout.trim().split("\n");
    expect(lines[0]).to.match(/^request (\d+) sent: model penguins-species-int \(id \d+\), tx 0x[0-9a-f]{64}/);
    expect(lines.at(-1)).to.match(/^request \d+ fulfilled in tx 0x[0-9a-f]{64}: Adelie \d+, Chinstrap \d+, Gentoo \d+$/);
    const bad = await run(process.execPath, [path.join(REPO_ROOT, "bin", "oracle"), "request", "--model", "no-such-model", "--input", "1",
      "--deployment", path.join(env.dir, "deployment.json")], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? "", RPC_URL: env.chain.url, ORACLE_REQUESTER_KEY: devAccount(15).privateKey } })
      .then(() => ({ code: 0, stderr: "" }), (e: { code: number; stderr: string }) => e);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('no model "no-such-model" in the deployment');
  });
});
