/**
 * End-to-end harness: a real Hardhat node (child process), the real contracts, real Redis with a
 * unique key prefix per test, the oracle node as a child process (`bin/oracle start`, its own
 * process group so SIGKILL takes its runner down with it, as a crashed machine would), a load
 * generator, a fault-injecting JSON-RPC proxy, and the counters the tests assert on.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { randomBytes } from "node:crypto";
import IORedis from "ioredis";
import { JsonRpcProvider, NonceManager, getAddress, keccak256, recoverAddress } from "ethers";
import { readJournalDir } from "../../oracle/src/enclave/journal";
import { oracleInterface } from "../../oracle/src/protocol/abi";
import { batchDigest, oracleDomain, resultDigest } from "../../oracle/src/protocol/eip712";
import { devAccount, freePort, startDevChain, type DevChain } from "../../oracle/src/dev/devchain";
import { deployNetwork, type DeployResult } from "../../scripts/deploy";
import { REPO_ROOT } from "../../oracle/src/paths";
import type { Logger } from "pino";
import { FastJsonRpcProvider } from "../../oracle/src/chain/rpc";
import { Submitter } from "../../oracle/src/chain/submitter";
import { createMetrics } from "../../oracle/src/metrics";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

export interface Env {
  chain: DevChain;
  provider: JsonRpcProvider;
  deployed: DeployResult;
  dir: string;
  prefix: string;
  oracle: string;
  penguinsId: number;
  cleanup(): Promise<void>;
}

/** A fresh chain with the contracts deployed, a private data dir and a Redis prefix. */
export async function setupEnv(name: string): Promise<Env> {
  const chain = await startDevChain();
  const provider = new JsonRpcProvider(chain.url, 31337, { staticNetwork: true, pollingInterval: 100, batchMaxCount: 50 });
  const id = `${name}-${randomBytes(3).toString("hex")}`;
  const dir = path.join(REPO_ROOT, ".oracle-data", "e2e", id);
  fs.mkdirSync(dir, { recursive: true });
  const deployed = await deployNetwork({
    network: "localhost", deployer: new NonceManager(devAccount(0).connect(provider)), deploymentFile: path.join(dir, "deployment.json"),
  });
  const prefix = `oracle-e2e-${id}`;
  return {
    chain, provider, deployed, dir, prefix, oracle: deployed.deployment.contracts.InferenceOracle,
    penguinsId: deployed.deployment.models["penguins-species-int"],
    cleanup: async () => {
      provider.destroy();
      await chain.stop();
      await deletePrefix(prefix);
      if (!process.env.E2E_KEEP) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Deletes this test's Redis keys only (other users of the same Redis keep theirs). */
export async function deletePrefix(prefix: string): Promise<number> {
  const r = new IORedis(REDIS_URL, { maxRetriesPerRequest: 2 });
  try {
    let n = 0;
    let cursor = "0";
    do {
      const [next, keys] = await r.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) n += await r.del(...keys);
    } while (cursor !== "0");
    return n;
  } finally {
    r.disconnect();
  }
}

/** The last lines of a test node's log (the test's data dir is removed afterwards, so say it now). */
function logTail(env: Env, lines = 25): string {
  try {
    return fs.readFileSync(path.join(env.dir, "node.log"), "utf8").trimEnd().split("\n").slice(-lines).map((l) => l.slice(0, 400)).join("\n");
  } catch {
    return "(no log)";
  }
}

export interface NodeProcess {
  child: ChildProcess;
  port: number;
  /** SIGKILL the whole process group (node and runner): a crash. */
  kill(): Promise<void>;
  /** SIGTERM: graceful shutdown; resolves with the exit code. */
  terminate(): Promise<number | null>;
  metrics(): Promise<string>;
}

/** The documented ways to run the node: `bin/oracle start` (what `npx oracle start` runs), `npm run oracle -- start`, `npx oracle start`. */
export type StartCommand = "bin" | "npm run" | "npx";

const START_ARGV: Record<StartCommand, [string, string[]]> = {
  bin: [process.execPath, [path.join(REPO_ROOT, "bin", "oracle"), "start"]],
  "npm run": ["npm", ["run", "--silent", "oracle", "--", "start"]],
  npx: ["npx", ["oracle", "start"]],
};

/** Starts the node (`bin/oracle start` unless `how` says otherwise) as a child process and waits until /readyz says ready. */
export async function startNodeProcess(env: Env, extra: Record<string, string> = {}, rpcUrl = env.chain.url, how: StartCommand = "bin"): Promise<NodeProcess> {
  const port = await freePort();
  const out = fs.openSync(path.join(env.dir, "node.log"), "a");
  const [cmd, args] = START_ARGV[how];
  const child = spawn(cmd, args, {
    cwd: REPO_ROOT, detached: true, stdio: ["ignore", out, out],
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      RPC_URL: rpcUrl,
      ORACLE_PRIVATE_KEY: devAccount(1).privateKey,
      ORACLE_DEPLOYMENT_FILE: path.join(env.dir, "deployment.json"),
      ORACLE_DATA_DIR: env.dir,
      REDIS_URL,
      ORACLE_QUEUE_PREFIX: env.prefix,
      ORACLE_HTTP_PORT: String(port),
      ORACLE_CONFIRMATIONS: "1",
      ORACLE_POLL_INTERVAL_MS: "200",
      ORACLE_BATCH_SIZE: "64",
      ORACLE_BATCH_WINDOW_MS: "100",
      ORACLE_RECONCILE_INTERVAL_MS: "2000",
      ORACLE_LOCK_DURATION_MS: "3000",
      ORACLE_STALLED_INTERVAL_MS: "1000",
      ORACLE_BACKOFF_MS: "200",
      LOG_LEVEL: "info",
      ...extra,
    },
  });
  fs.closeSync(out);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const kill = async () => {
    try { process.kill(-child.pid!, "SIGKILL"); } catch { /* gone */ }
    await exited;
  };
  const node: NodeProcess = {
    child, port, kill,
    terminate: async () => { try { process.kill(child.pid!, "SIGTERM"); } catch { /* gone */ } return exited; },
    metrics: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`node exited with ${child.exitCode}; its log ends:\n${logTail(env)}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200) return node;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      await kill();
      throw new Error(`node not ready within 60 s; its log ends:\n${logTail(env)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface Tally {
  requested: number;
  requestIds: bigint[];
  fulfilledPerRequest: Map<string, number>;
  skipped: number;
  fulfilledTotal: number;
}

/** Counts InferenceRequested, InferenceFulfilled (per request) and ResultSkipped on the chain. */
export async function tally(env: Env): Promise<Tally> {
  const head = await env.provider.getBlockNumber();
  const topics = ["InferenceRequested", "InferenceFulfilled", "ResultSkipped"].map((n) => oracleInterface.getEvent(n)!.topicHash);
  const logs = [];
  for (let from = env.deployed.deployment.deploymentBlock; from <= head; from += 5000) {
    logs.push(...(await env.provider.getLogs({ address: env.oracle, fromBlock: from, toBlock: Math.min(head, from + 4999), topics: [topics] })));
  }
  const t: Tally = { requested: 0, requestIds: [], fulfilledPerRequest: new Map(), skipped: 0, fulfilledTotal: 0 };
  for (const l of logs) {
    const ev = oracleInterface.parseLog(l)!;
    const id = (ev.args.requestId as bigint).toString();
    if (ev.name === "InferenceRequested") { t.requested++; t.requestIds.push(ev.args.requestId); }
    else if (ev.name === "InferenceFulfilled") { t.fulfilledTotal++; t.fulfilledPerRequest.set(id, (t.fulfilledPerRequest.get(id) ?? 0) + 1); }
    else t.skipped++;
  }
  return t;
}

/** Waits until every requested id is fulfilled (or the time is up); returns the last tally. */
export async function waitAllFulfilled(env: Env, expected: number, timeoutMs: number): Promise<Tally> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const t = await tally(env);
    if ((t.requested >= expected && t.fulfilledPerRequest.size >= t.requested) || Date.now() > end) return t;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** What the node's signature journal (<data dir>/signatures) shows, checked against the chain. */
export interface JournalAudit {
  signatures: number;
  results: number;
  signers: number;
  /** Signatures whose digest does not recover to the signer the journal names (must be none). */
  unverifiable: number;
  /** Pairs of results one signer signed for one request (id, model, input) with another output or status (must be none). */
  conflicts: { signer: string; requestId: string; outcomes: string[] }[];
  /** Results the chain accepted (InferenceFulfilled, or a ResultSubmitted vote) missing from the journal (must be none: it holds every signature). */
  minedNotJournaled: number;
  mined: number;
}

/**
 * Reads every signature the node's enclave hosts released (mined or not), recovers each, and
 * looks for one key that signed two different results for one request: the evidence the
 * EquivocationSlasher would slash for.
 */
export async function auditSignatureJournal(env: Env): Promise<JournalAudit> {
  const entries = readJournalDir(path.join(env.dir, "signatures"));
  const domain = oracleDomain(31337, env.oracle);
  const outcomes = new Map<string, Set<string>>();
  const journaled = new Set<string>();
  let unverifiable = 0;
  let results = 0;
  for (const e of entries) {
    const rs = e.results.map((r) => ({ ...r, requestId: BigInt(r.requestId) }));
    const digest = e.mode === "single" ? resultDigest(domain, rs[0]) : batchDigest(domain, rs);
    if (recoverAddress(digest, e.signature) !== getAddress(e.signer)) unverifiable++;
    for (const r of e.results) {
      results++;
      const key = `${getAddress(e.signer)}|${r.requestId}|${r.modelHash.toLowerCase()}|${r.inputHash.toLowerCase()}`;
      if (!outcomes.has(key)) outcomes.set(key, new Set());
      outcomes.get(key)!.add(`${r.outputHash.toLowerCase()}:${r.status}`);
      journaled.add(`${getAddress(e.signer)}|${r.requestId}|${r.outputHash.toLowerCase()}`);
    }
  }
  const conflicts = [...outcomes].filter(([, o]) => o.size > 1)
    .map(([k, o]) => ({ signer: k.split("|")[0], requestId: k.split("|")[1], outcomes: [...o] }));
  // Every accepted result: a redundancy-1 fulfilment (InferenceFulfilled), or a vote (ResultSubmitted;
  // its completing vote is also in InferenceFulfilled, counted once).
  const submitted = await env.provider.getLogs({
    address: env.oracle, fromBlock: env.deployed.deployment.deploymentBlock,
    topics: [["InferenceFulfilled", "ResultSubmitted"].map((n) => oracleInterface.getEvent(n)!.topicHash)],
  });
  const accepted = new Set(submitted.map((l) => {
    const ev = oracleInterface.parseLog(l)!;
    const outputHash = ev.name === "ResultSubmitted" ? (ev.args.outputHash as string) : keccak256(ev.args.output as string);
    return `${getAddress(ev.args.signer)}|${ev.args.requestId}|${outputHash.toLowerCase()}`;
  }));
  const minedNotJournaled = [...accepted].filter((k) => !journaled.has(k)).length;
  const audit = {
    signatures: entries.length, results, signers: new Set(entries.map((e) => e.signer)).size, unverifiable, conflicts, minedNotJournaled, mined: accepted.size,
  };
  console.log(`      signature journal: ${audit.signatures} signatures over ${audit.results} results by ${audit.signers} enclave keys (${audit.mined} results mined); conflicting pairs: ${conflicts.length}`);
  return audit;
}

export function summarize(label: string, t: Tally): string {
  const counts = [...t.fulfilledPerRequest.values()];
  const once = counts.filter((c) => c === 1).length;
  const more = counts.filter((c) => c > 1).length;
  const line = `${label}: requested ${t.requested}, fulfilled ${t.fulfilledPerRequest.size} (exactly once: ${once}, more than once: ${more}, never: ${t.requested - t.fulfilledPerRequest.size}), InferenceFulfilled events ${t.fulfilledTotal}, ResultSkipped ${t.skipped}`;
  console.log(`      ${line}`);
  return line;
}

/** What a test's JSON-RPC proxy does with each request body, besides forwarding it. */
export interface RpcProxyHooks {
  /** True: fail this request instead (an HTTP 503, a JSON-RPC error, a dropped connection, in turn). */
  fail?(body: string): boolean;
  /** Rewrites the node's answer to `body`. */
  answer?(body: string, text: string): string;
}

/** A JSON-RPC proxy on 127.0.0.1 in front of `target`, for injecting faults. */
export async function startRpcProxy(target: string, hooks: RpcProxyHooks): Promise<{ url: string; close(): Promise<void> }> {
  let turn = 0;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString();
    if (hooks.fail?.(body)) {
      const kind = turn++ % 3;
      if (kind === 0) { res.writeHead(503).end("upstream unavailable"); return; }
      if (kind === 1) {
        const parsed = JSON.parse(body);
        const err = (p: { id: unknown }) => ({ jsonrpc: "2.0", id: p.id, error: { code: -32603, message: "injected fault" } });
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(Array.isArray(parsed) ? parsed.map(err) : err(parsed)));
        return;
      }
      req.socket.destroy();
      return;
    }
    try {
      const up = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body });
      const text = await up.text();
      res.writeHead(up.status, { "content-type": "application/json" }).end(hooks.answer ? hooks.answer(body, text) : text);
    } catch {
      res.writeHead(502).end("bad gateway");
    }
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}

/** A JSON-RPC proxy that fails a share of calls ({@link startRpcProxy}) and can duplicate every log in eth_getLogs answers. */
export async function startFaultyProxy(target: string, opts: { failRate?: number; duplicateLogs?: boolean }): Promise<{ url: string; stats: { calls: number; failed: number; duplicated: number }; close(): Promise<void> }> {
  const stats = { calls: 0, failed: 0, duplicated: 0 };
  const duplicate = (text: string) => {
    const parsed = JSON.parse(text);
    const dup = (r: { result?: unknown }) => {
      if (Array.isArray(r.result) && r.result.length) { stats.duplicated += r.result.length; r.result = r.result.flatMap((x: unknown) => [x, x]); }
      return r;
    };
    return JSON.stringify(Array.isArray(parsed) ? parsed.map(dup) : dup(parsed));
  };
  const proxy = await startRpcProxy(target, {
    fail: () => {
      stats.calls++;
      const fail = Math.random() < (opts.failRate ?? 0);
      if (fail) stats.failed++;
      return fail;
    },
    answer: (body, text) => (opts.duplicateLogs && body.includes("eth_getLogs") ? duplicate(text) : text),
  });
  return { ...proxy, stats };
}

export { LoadGenerator, metricValue, rpc } from "../../oracle/src/dev/devchain";

/**
 * A deployed development chain for tests that send operator transactions themselves: `env`, a
 * provider, and a Submitter for development account `i` (its first key is the operator).
 * `close()` stops the chain and removes the test's data.
 */
export async function operatorChain(name: string, log: Logger) {
  const env = await setupEnv(name);
  const provider = new FastJsonRpcProvider(env.chain.url, 31337, { staticNetwork: true });
  const submitterFor = (i: number) => new Submitter(
    { provider, oracle: env.oracle, chainId: 31337, keys: [devAccount(i).privateKey], metrics: createMetrics({ defaultMetrics: false }), log },
    { gasHeadroomPercent: 25, txTimeoutMs: 5_000, feeBumpPercent: 25 },
  );
  const registry = env.deployed.deployment.contracts.EnclaveRegistry;
  return { env, provider, registry, submitterFor, close: async () => { provider.destroy(); await env.cleanup(); } };
}

export type OperatorChain = Awaited<ReturnType<typeof operatorChain>>;

/** {@link operatorChain} for the tests of one describe block: started before them and closed after (its fields are there once they run). */
export function useOperatorChain(name: string, log: Logger): OperatorChain {
  const chain = {} as OperatorChain;
  before(async () => { Object.assign(chain, await operatorChain(name, log)); });
  after(async () => { await chain.close?.(); });
  return chain;
}
