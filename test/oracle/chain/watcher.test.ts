/**
 * The watcher against a real Hardhat node (one chain for the file), read through a small JSON-RPC
 * proxy that counts `eth_getLogs` calls (and their ranges) and can fail the next ones: requests
 * wait for their confirmations, a restarted watcher backfills from its checkpoint, long backfills
 * are split into bounded ranges, and failing `eth_getLogs` calls are retried without losing a request.
 */
import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import { FileCheckpointStore, type Checkpoint } from "../../../oracle/src/chain/checkpoint";
import type { RawLog } from "../../../oracle/src/chain/codec";
import { FastJsonRpcProvider } from "../../../oracle/src/chain/rpc";
import { Watcher, type WatcherOptions } from "../../../oracle/src/chain/watcher";
import { createLogger } from "../../../oracle/src/log";
import { createMetrics, type OracleMetrics } from "../../../oracle/src/metrics";
import { RequestTracker } from "../../../oracle/src/node/tracker";
import { requestInLogs } from "../../../oracle/src/protocol/request";
import { MemoryQueue } from "../../../oracle/src/queue";
import { LoadGenerator, rpc, setupEnv, startRpcProxy, type Env } from "../../e2e/lib";

const CHAIN_ID = 31337;

interface GetLogsCall { from: number; to: number; failed: boolean }

/** A JSON-RPC proxy that records every eth_getLogs range and fails the next `failGetLogs` of them (HTTP 503, JSON-RPC error, dropped connection, in turn). */
async function startCountingProxy(target: string) {
  const state = { getLogs: [] as GetLogsCall[], failGetLogs: 0 };
  const proxy = await startRpcProxy(target, {
    fail: (body) => {
      const parsed = JSON.parse(body) as { method: string; params: { fromBlock: string; toBlock: string }[] } | unknown[];
      if (Array.isArray(parsed) || parsed.method !== "eth_getLogs") return false;
      const failed = state.failGetLogs > 0;
      if (failed) state.failGetLogs--;
      state.getLogs.push({ from: Number(parsed.params[0].fromBlock), to: Number(parsed.params[0].toBlock), failed });
      return failed;
    },
  });
  return { ...proxy, state };
}

/** A queue that records every `add` (request id, and whether it created a job). */
function recordingQueue() {
  const queue = new MemoryQueue({ attempts: 3, backoffMs: 10 });
  const adds: { id: string; added: boolean; by: string }[] = [];
  let by = "";
  const add = queue.add.bind(queue);
  queue.add = async (job) => {
    const r = await add(job);
    adds.push({ id: job.requestId, added: r.added, by });
    return r;
  };
  return { queue, adds, setBy: (name: string) => { by = name; } };
}

describe("node watcher (real Hardhat node)", function () {
  this.timeout(40_000);
  let env: Env;
  let proxy: Awaited<ReturnType<typeof startCountingProxy>>;
  let provider: FastJsonRpcProvider;
  let load: LoadGenerator;
  const log = createLogger({ level: "silent" });
  const watchers: Watcher[] = [];
  const queues: MemoryQueue[] = [];

  function newWatcher(
    queue: MemoryQueue, opts: Partial<WatcherOptions> & { startBlock: number },
    extra: { checkpoint?: string; tracker?: RequestTracker; metrics?: OracleMetrics } = {},
  ): Watcher {
    const w = new Watcher({
      provider, chainId: CHAIN_ID, oracle: env.oracle, queue,
      checkpoints: new FileCheckpointStore(extra.checkpoint ?? path.join(env.dir, `cp-${watchers.length}.json`)),
      tracker: extra.tracker ?? new RequestTracker(), metrics: extra.metrics ?? createMetrics({ defaultMetrics: false }), log,
    }, { confirmations: 1, pollIntervalMs: 50, maxBlockRange: 2000, reconcileIntervalMs: 3_600_000, ...opts });
    watchers.push(w);
    return w;
  }

  const head = async () => Number(await rpc(env.chain.url, "eth_blockNumber", []));
  const mine = (n: number) => rpc(env.chain.url, "hardhat_mine", ["0x" + n.toString(16)]);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const until = async (cond: () => boolean | Promise<boolean>, ms = 15_000) => {
    const end = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error("timed out waiting");
      await sleep(20);
    }
  };
  const readCheckpoint = (file: string) => JSON.parse(fs.readFileSync(file, "utf8")) as Checkpoint;

  /** Makes `n` requests, one per block (automine), `gap` empty blocks after each; returns id and block of each. */
  async function makeRequests(n: number, gap = 0): Promise<{ id: string; block: number }[]> {
    const out: { id: string; block: number }[] = [];
    for (let i = 0; i < n; i++) {
      const [h] = await load.send(1, { concurrency: 1 });
      const r = (await rpc(env.chain.url, "eth_getTransactionReceipt", [h])) as { blockNumber: string; logs: RawLog[] };
      out.push({ id: requestInLogs(r.logs)!.requestId.toString(), block: Number(r.blockNumber) });
      if (gap) await mine(gap);
    }
    return out;
  }

  /** The eth_getLogs ranges asked since `mark` (successful ones), checked to be contiguous and bounded. */
  function ranges(mark: number, maxRange: number, from: number): GetLogsCall[] {
    const ok = proxy.state.getLogs.slice(mark).filter((c) => !c.failed && c.to - c.from + 1 > 0);
    let next = from;
    for (const c of ok) {
      expect(c.from, "ranges are contiguous: no block skipped, none scanned twice").to.equal(next);
      expect(c.to - c.from + 1).to.be.at.most(maxRange);
      next = c.to + 1;
    }
    return ok;
  }

  before(async () => {
    env = await setupEnv("watcher");
    proxy = await startCountingProxy(env.chain.url);
    provider = new FastJsonRpcProvider(proxy.url, CHAIN_ID, { staticNetwork: true });
    load = new LoadGenerator(env, [2, 3, 4, 5]);
  });

  afterEach(async () => {
    for (const w of watchers.splice(0)) await w.stop();
    for (const q of queues.splice(0)) await q.close();
    proxy.state.failGetLogs = 0;
  });

  after(async () => {
    provider?.destroy();
    await proxy?.close();
    await env?.cleanup();
  });

  it("queues a request only once it has `confirmations` blocks on top of it", async () => {
    const { queue, adds } = recordingQueue();
    queues.push(queue);
    const startBlock = (await head()) + 1;
    const file = path.join(env.dir, "cp-confirmations.json");
    const watcher = newWatcher(queue, { startBlock, confirmations: 3 }, { checkpoint: file });
    await watcher.start();
    await mine(1);
    const [r] = await makeRequests(1);
    await sleep(300); // several polls
    expect(adds).to.deep.equal([]);
    await mine(2); // head = block + 2
    await sleep(300);
    expect(adds, "not with head at block + 2").to.deep.equal([]);
    expect(readCheckpoint(file).scannedBlock).to.equal(r.block - 1);
    await mine(1); // head = block + 3: three blocks on top
    await until(() => adds.length > 0);
    await sleep(200);
    expect(adds.map((a) => [a.id, a.added])).to.deep.equal([[r.id, true]]);
    expect(readCheckpoint(file).scannedBlock).to.equal(r.block);
  });

  it("backfills from its checkpoint after a restart: exactly the missed requests are queued, none twice, and the checkpoint advances", async () => {
    const { queue, adds, setBy } = recordingQueue(); // the queue (Redis) outlives the watcher
    queues.push(queue);
    const startBlock = (await head()) + 1;
    const file = path.join(env.dir, "cp-backfill.json");
    setBy("A");
    const a = newWatcher(queue, { startBlock }, { checkpoint: file });
    await a.start();
    const before = await makeRequests(2);
    await mine(1);
    await until(() => adds.length === 2);
    await a.stop();
    const cpA = readCheckpoint(file);
    expect(cpA.scannedBlock).to.be.at.least(before[1].block);

    const missed = await makeRequests(3, 1); // while no watcher runs
    const target = (await head()) - 1;
    setBy("B");
    const mark = proxy.state.getLogs.length;
    const b = newWatcher(queue, { startBlock }, { checkpoint: file });
    await b.start();
    await until(() => readCheckpoint(file).scannedBlock >= target);
    await sleep(200);

    const created = adds.filter((x) => x.by === "B" && x.added).map((x) => x.id);
    expect(created).to.deep.equal(missed.map((m) => m.id));
    for (const m of missed) expect(adds.filter((x) => x.id === m.id), `request ${m.id}`).to.have.length(1);
    // Requests of the first run may be re-checked (they are pending on-chain) but never make a second job.
    for (const p of before) expect(adds.filter((x) => x.id === p.id && x.added)).to.have.length(1);
    expect((await queue.counts()).waiting).to.equal(before.length + missed.length);
    // The re-scan starts at the settled watermark (nothing between it and the old scanned block is skipped).
    const scanned = ranges(mark, 2000, cpA.settledBlock + 1);
    expect(scanned[scanned.length - 1].to).to.equal(target);
    const cpB = readCheckpoint(file);
    expect(cpB.scannedBlock).to.equal(target);
    expect(cpB.scannedBlock).to.be.greaterThan(cpA.scannedBlock);
    expect(cpB.settledBlock).to.be.at.least(cpA.settledBlock);
  });

  it("splits a backfill longer than maxBlockRange into bounded eth_getLogs ranges and misses nothing", async () => {
    const { queue, adds } = recordingQueue();
    queues.push(queue);
    const startBlock = (await head()) + 1;
    const reqs = await makeRequests(5, 4); // 25 blocks, a request every fifth
    await mine(1);
    const target = (await head()) - 1;
    const maxBlockRange = 4;
    const mark = proxy.state.getLogs.length;
    const watcher = newWatcher(queue, { startBlock, maxBlockRange });
    await watcher.start();
    await until(() => watcher.scannedBlock >= target);
    await sleep(200);
    const scanned = ranges(mark, maxBlockRange, startBlock);
    expect(scanned[scanned.length - 1].to).to.equal(target);
    expect(scanned).to.have.length(Math.ceil((target - startBlock + 1) / maxBlockRange));
    expect(scanned.length).to.be.at.least(6);
    expect(adds.map((x) => [x.id, x.added])).to.deep.equal(reqs.map((r) => [r.id, true]));
  });

  it("retries a failing eth_getLogs and loses nothing, also when the retries of one poll run out", async () => {
    const { queue, adds } = recordingQueue();
    queues.push(queue);
    const metrics = createMetrics({ defaultMetrics: false });
    const startBlock = (await head()) + 1;
    const maxBlockRange = 3;
    const reqs = await makeRequests(3, 2);
    await mine(1);
    let target = (await head()) - 1;
    const mark = proxy.state.getLogs.length;
    proxy.state.failGetLogs = 3; // a 503, a JSON-RPC error, a dropped connection
    const watcher = newWatcher(queue, { startBlock, maxBlockRange }, { metrics });
    await watcher.start();
    await until(() => watcher.scannedBlock >= target);
    expect(proxy.state.getLogs.slice(mark).filter((c) => c.failed)).to.have.length(3);
    expect((await metrics.rpcErrors.get()).values[0].value).to.be.at.least(3);
    expect(adds.map((x) => [x.id, x.added])).to.deep.equal(reqs.map((r) => [r.id, true]));

    // More failures in a row than one poll retries (5 attempts): the poll gives up, the next one resumes where it stopped.
    proxy.state.failGetLogs = 7;
    const more = await makeRequests(2, 2);
    await mine(1);
    target = (await head()) - 1;
    await until(() => watcher.scannedBlock >= target);
    await sleep(200);
    expect(proxy.state.failGetLogs).to.equal(0);
    ranges(mark, maxBlockRange, startBlock);
    expect(adds.map((x) => [x.id, x.added])).to.deep.equal([...reqs, ...more].map((r) => [r.id, true]));
  });
});
