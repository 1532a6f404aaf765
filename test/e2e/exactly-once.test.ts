/**
 * Exactly once, end to end: a real Hardhat node, the real contracts, real Redis (a unique key
 * prefix per test), the oracle node as a child process with its real runner process. Each test
 * counts InferenceFulfilled events per request id on the chain and prints what it counted, and
 * reads every signature the node released (its signature journal, mined or not) to show that no
 * enclave key ever signed two different results for one request.
 */
import path from "node:path";
import { expect } from "chai";
import { Contract } from "ethers";
import { ORACLE_ABI } from "../../oracle/src/protocol/abi";
import { encodeTensor } from "../../oracle/src/protocol/eip712";
import { devAccount } from "../../oracle/src/dev/devchain";
import {
  Env, LoadGenerator, NodeProcess, auditSignatureJournal, deletePrefix, metricValue, rpc, setupEnv, startFaultyProxy, startNodeProcess, summarize, tally, waitAllFulfilled,
} from "./lib";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Every signature the node released, mined or not, from its journal: each recovers to its key,
 * every mined result is among them, and no key signed two different results for one request.
 */
async function expectNoEquivocation(env: Env): Promise<void> {
  const a = await auditSignatureJournal(env);
  expect(a.results, "results in the signature journal").to.be.at.least(a.mined);
  expect(a.unverifiable, "journaled signatures that do not recover to their key").to.equal(0);
  expect(a.minedNotJournaled, "mined results missing from the journal").to.equal(0);
  expect(a.conflicts, "one key, one request, two different results").to.deep.equal([]);
}

function expectExactlyOnce(t: Awaited<ReturnType<typeof tally>>, expected: number): void {
  expect(t.requested, "requests on chain").to.equal(expected);
  const never = t.requestIds.filter((id) => !t.fulfilledPerRequest.has(id.toString()));
  expect(never.slice(0, 10).map(String), "requests never fulfilled").to.deep.equal([]);
  const twice = [...t.fulfilledPerRequest].filter(([, n]) => n !== 1);
  expect(twice, "requests fulfilled more than once").to.deep.equal([]);
}

describe("e2e: every request fulfilled exactly once", function () {
  this.timeout(240_000);
  let env: Env | undefined;
  let nodes: NodeProcess[] = [];

  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    nodes = [];
    await env?.cleanup();
    env = undefined;
  });

  const start = async (extra?: Record<string, string>, rpcUrl?: string) => {
    const n = await startNodeProcess(env!, extra, rpcUrl);
    nodes.push(n);
    return n;
  };

  it("1,000 requests while the node is SIGKILLed five times at random moments and restarted", async () => {
    env = await setupEnv("crash");
    await rpc(env.chain.url, "evm_setAutomine", [false]);
    await rpc(env.chain.url, "evm_setIntervalMining", [300]);
    let node = await start();
    const gen = new LoadGenerator(env);
    // Five waves of 200, each kill landing while its wave is in flight. Odd waves: as soon as the
    // wave's last request is mined (its result needs at least one more block), plus a random
    // 0-100 ms, so the node is watching, queuing or computing. Even waves: as soon as the node's
    // own trail says the fulfilment was submitted and it sits unmined in the mempool, the moment a
    // restart is most likely to send a result twice.
    const oracle = new Contract(env.oracle, ORACLE_ABI, env.provider);
    const stateNames = ["not yet mined", "pending", "fulfilled", "expired"];
    let midWork = 0;
    for (let k = 1; k <= 5; k++) {
      await gen.send(200);
      let moment: string;
      if (k % 2 === 1) {
        const started = Date.now();
        while (Number(await oracle.requestState(200 * k)) === 0 && Date.now() - started < 10_000) await sleep(5);
        const jitter = Math.floor(Math.random() * 100);
        await sleep(jitter);
        moment = `${jitter} ms after wave ${k}'s last request was mined`;
      } else {
        // The node's own trail (GET /v1/requests/:id) says when the wave's last result was sent.
        const started = Date.now();
        while (Date.now() - started < 10_000) {
          const res = await fetch(`http://127.0.0.1:${node.port}/v1/requests/${200 * k}`).catch(() => undefined);
          const body = res?.ok ? JSON.stringify(await res.json()) : "";
          if (body.includes('"submitted"')) break;
          await sleep(5);
        }
        moment = `with its fulfilment of wave ${k} unmined in the mempool (${Date.now() - started} ms after sending)`;
      }
      const last = Number(await oracle.requestState(200 * k));
      await node.kill();
      if (last !== 2) midWork++;
      console.log(`      SIGKILL ${k}, ${moment}; wave's last request: ${stateNames[last]}; restarting`);
      node = await start();
    }
    // On a quiet machine all five land in flight; a heavily loaded one can stretch a wave's
    // timing so that one kill finds it settled. Four still shows what the test is about.
    expect(midWork, "kills that hit a node with requests in flight").to.be.at.least(4);
    const t = await waitAllFulfilled(env, 1000, 120_000);
    summarize("after 5 crashes", t);
    expectExactlyOnce(t, 1000);
    await expectNoEquivocation(env);
    expect(await node.terminate(), "graceful exit code").to.equal(0);
  });

  it("two nodes of one operator on one BullMQ queue, one SIGKILLed mid-run: every request fulfilled exactly once", async () => {
    env = await setupEnv("twonodes");
    await rpc(env.chain.url, "evm_setAutomine", [false]);
    await rpc(env.chain.url, "evm_setIntervalMining", [300]);
    // Each worker holds at most 8 jobs at once (ORACLE_CONCURRENCY), so neither can take a whole
    // wave for itself: with the default (4 x batch size), the first worker to ask takes all 50.
    const a = await start({ ORACLE_DATA_DIR: path.join(env.dir, "a"), ORACLE_CONCURRENCY: "8" });
    const b = await start({ ORACLE_DATA_DIR: path.join(env.dir, "b"), ORACLE_CONCURRENCY: "8" });
    const gen = new LoadGenerator(env);
    // Kill A while work is in flight, once it has settled something. The two share one sending key
    // and race for every nonce, so on a loaded machine A may still lose a wave: send waves of 50
    // until A has settled one.
    let sent = 0;
    let byA = 0;
    for (let wave = 0; wave < 6 && byA === 0; wave++) {
      await gen.send(50);
      sent += 50;
      const started = Date.now();
      while ((byA = metricValue(await a.metrics(), "oracle_requests_fulfilled_total")) === 0 && Date.now() - started < 15_000) await sleep(20);
    }
    await a.kill();
    await gen.send(300 - sent);
    const t = await waitAllFulfilled(env, 300, 120_000);
    summarize("two nodes, one killed", t);
    const byB = metricValue(await b.metrics(), "oracle_requests_fulfilled_total");
    const resyncs = metricValue(await b.metrics(), "oracle_nonce_resyncs_total");
    console.log(`      node A settled ${byA} of the first ${sent} before its SIGKILL; node B settled ${byB} (B resynced its nonce ${resyncs} times)`);
    expect(t.requested).to.equal(300);
    expect(t.requestIds.filter((id) => !t.fulfilledPerRequest.has(id.toString())).map(String), "never fulfilled").to.deep.equal([]);
    expect([...t.fulfilledPerRequest].filter(([, n]) => n !== 1), "fulfilled more than once").to.deep.equal([]);
    expect(byA, "node A served before it was killed").to.be.greaterThan(0);
    expect(byB, "node B took over").to.be.greaterThan(0);
    expect(await b.terminate(), "B's graceful exit").to.equal(0);
  });

  it("Redis flushed mid-run (this test's keys), and again while the node is down: the node rebuilds its work from the chain", async () => {
    env = await setupEnv("flush");
    await rpc(env.chain.url, "evm_setAutomine", [false]);
    await rpc(env.chain.url, "evm_setIntervalMining", [300]);
    let node = await start();
    const gen = new LoadGenerator(env);
    await gen.send(150);
    await sleep(400);
    const flushed = await deletePrefix(env.prefix);
    const mid = await tally(env);
    console.log(`      flushed ${flushed} Redis keys mid-run (fulfilled so far: ${mid.fulfilledPerRequest.size}/${mid.requested})`);
    await gen.send(150);
    await sleep(500);
    await node.kill();
    await gen.send(100);
    const flushed2 = await deletePrefix(env.prefix);
    console.log(`      killed the node, sent 100 more, flushed ${flushed2} keys; restarting`);
    node = await start();
    const t = await waitAllFulfilled(env, 400, 90_000);
    summarize("after two flushes", t);
    expectExactlyOnce(t, 400);
    await expectNoEquivocation(env);
  });

  it("a reorg that drops a request: no result is ever submitted for it", async () => {
    env = await setupEnv("reorg");
    await rpc(env.chain.url, "evm_setAutomine", [false]);
    await rpc(env.chain.url, "evm_setIntervalMining", [300]);
    const node = await start({ ORACLE_CONFIRMATIONS: "3" });
    const gen = new LoadGenerator(env);
    await gen.send(20);
    await waitAllFulfilled(env, 20, 30_000);
    await rpc(env.chain.url, "evm_setIntervalMining", [0]); // from here blocks come only when the test mines them
    // The request to be dropped: mined, one block on top, then the chain reverts past it.
    const snapshot = await rpc(env.chain.url, "evm_snapshot", []);
    const dropper = new Contract(env.oracle, ORACLE_ABI, devAccount(10).connect(env.provider));
    const opts = { callbackGasLimit: 0, deadline: BigInt(Math.floor(Date.now() / 1000) + 3600), redundancy: 1, maxFee: 10n ** 18n, maxGasPrice: 10n ** 11n };
    const total = await dropper.quote(env.penguinsId, opts);
    const droppedInput = encodeTensor([999n, 499n, 399n, 9999n]);
    const tx = await dropper.requestInference(env.penguinsId, droppedInput, opts, { value: total });
    await rpc(env.chain.url, "hardhat_mine", ["0x2"]);
    const rcpt = await tx.wait();
    await sleep(1000); // the node polls meanwhile: the request has 1 confirmation of the 3 it needs
    await rpc(env.chain.url, "evm_revert", [snapshot]);
    console.log(`      request mined in block ${rcpt!.blockNumber} then reverted away (evm_revert)`);
    // Life goes on: new requests reuse the dropped request's id with other inputs.
    await gen.send(20);
    await rpc(env.chain.url, "evm_setIntervalMining", [300]);
    const t = await waitAllFulfilled(env, 40, 60_000);
    summarize("after the reorg", t);
    expectExactlyOnce(t, 40);
    expect(await env.provider.getTransactionReceipt(tx.hash), "dropped request's tx").to.equal(null);
    const fulfilledLogs = await env.provider.getLogs({ address: env.oracle, fromBlock: 0, topics: [null] });
    const outputsForDropped = fulfilledLogs.filter((l) => l.data.includes(droppedInput.slice(2)));
    expect(outputsForDropped.length, "events carrying the dropped input").to.equal(0);
    expect(t.skipped, "ResultSkipped (a result sent for a request that no longer matched)").to.equal(0);
    const seen = metricValue(await node.metrics(), "oracle_requests_seen_total");
    console.log(`      node saw ${seen} request events (40 canonical; the dropped one never reached its confirmations)`);
    expect(seen).to.equal(40);
    await expectNoEquivocation(env);
  });

  it("duplicate events (an RPC that returns every log twice): one job per request", async () => {
    env = await setupEnv("dups");
    await rpc(env.chain.url, "evm_setAutomine", [false]);
    await rpc(env.chain.url, "evm_setIntervalMining", [300]);
    const proxy = await startFaultyProxy(env.chain.url, { duplicateLogs: true });
    try {
      const node = await start({}, proxy.url);
      const gen = new LoadGenerator(env);
      await gen.send(200);
      const t = await waitAllFulfilled(env, 200, 60_000);
      const m = await node.metrics();
      const seen = metricValue(m, "oracle_requests_seen_total");
      const queued = metricValue(m, "oracle_requests_queued_total");
      summarize("with duplicated logs", t);
      console.log(`      proxy duplicated ${proxy.stats.duplicated} logs; node saw ${seen} request events, queued ${queued} jobs`);
      expectExactlyOnce(t, 200);
      expect(seen).to.equal(400);
      expect(queued).to.equal(200);
      expect(t.skipped).to.equal(0);
      await expectNoEquivocation(env);
    } finally {
      await proxy.close();
    }
  });

  it("an RPC endpoint that fails 10% of calls: all fulfilled, exactly once", async () => {
    env = await setupEnv("faulty");
    await rpc(env.chain.url, "evm_setAutomine", [false]);
    await rpc(env.chain.url, "evm_setIntervalMining", [300]);
    const proxy = await startFaultyProxy(env.chain.url, { failRate: 0.1 });
    try {
      await start({}, proxy.url);
      const gen = new LoadGenerator(env);
      for (let w = 0; w < 3; w++) {
        await gen.send(100);
        await sleep(500);
      }
      const t = await waitAllFulfilled(env, 300, 90_000);
      summarize("through a 10%-faulty RPC", t);
      console.log(`      proxy: ${proxy.stats.calls} calls, ${proxy.stats.failed} failed (${((100 * proxy.stats.failed) / proxy.stats.calls).toFixed(1)}%)`);
      expectExactlyOnce(t, 300);
      expect(proxy.stats.failed).to.be.greaterThan(0);
      await expectNoEquivocation(env);
    } finally {
      await proxy.close();
    }
  });
});
