/**
 * Attacks on the node's work loop, with a real Hardhat node, the real contracts, Redis (BullMQ,
 * a unique prefix) and the node in process with its real runner:
 * - fee-0 copies of a served model (same sha256) that the chain would skip for good: the node
 *   declines them before computing, sends no transaction for them, says why, and keeps serving;
 * - twelve 2M-gas callbacks mined in one block: batches sized under the per-transaction gas cap,
 *   no failed attempt, and an unrelated request still served.
 */
import { expect } from "chai";
import { Contract, NonceManager, hexlify, randomBytes } from "ethers";
import path from "node:path";
import { loadConfig } from "../../../oracle/src/config";
import { createLogger } from "../../../oracle/src/log";
import { startNode, type OracleNode } from "../../../oracle/src/main";
import { DEFAULT_MODELS_DIR, loadManifest } from "../../../oracle/src/models/manifest";
import { devAccount } from "../../../oracle/src/dev/devchain";
import { MODEL_REGISTRY_ABI, ORACLE_ABI, oracleInterface } from "../../../oracle/src/protocol/abi";
import { encodeTensor } from "../../../oracle/src/protocol/eip712";
import { optionsTuple, requestInLogs } from "../../../oracle/src/protocol/request";
import { EIP7825_TX_GAS_CAP } from "../../../oracle/src/chain/gas";
import { REDIS_URL, metricValue, rpc, setupEnv, tally, type Env } from "../../e2e/lib";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const penguins = loadManifest(DEFAULT_MODELS_DIR).models.find((m) => m.name === "penguins-species-int")!;
const FULFIL_BATCH = oracleInterface.getFunction("fulfilBatch")!.selector;

describe("attacks on the node's work loop (real Hardhat node, BullMQ)", function () {
  this.timeout(120_000);
  let env: Env;
  let node: OracleNode | undefined;

  beforeEach(async () => {
    env = await setupEnv("unservable");
    senders.clear();
  });
  afterEach(async () => {
    await node?.close("test");
    node = undefined;
    await env.cleanup();
  });

  const start = async () => {
    node = await startNode(loadConfig({
      env: {},
      overrides: {
        rpcUrl: env.chain.url, privateKeys: [devAccount(1).privateKey], deploymentFile: path.join(env.dir, "deployment.json"),
        dataDir: env.dir, httpPort: 0, confirmations: 1, pollIntervalMs: 100, batchWindowMs: 100, redisUrl: REDIS_URL, queuePrefix: env.prefix,
        jobAttempts: 2, backoffMs: 100, reconcileIntervalMs: 300, logLevel: "silent",
      },
    }), { log: createLogger({ level: "silent" }) });
    return node;
  };

  /** fulfilBatch transactions mined since `from`, with the request ids each carried and its gas limit. */
  async function fulfilBatches(from: number): Promise<{ ids: string[]; gasLimit: bigint; ok: boolean }[]> {
    const out = [];
    const head = await env.provider.getBlockNumber();
    for (let b = from; b <= head; b++) {
      const block = await env.provider.getBlock(b, true);
      for (const tx of block!.prefetchedTransactions) {
        if (tx.to?.toLowerCase() !== env.oracle.toLowerCase() || !tx.data.startsWith(FULFIL_BATCH)) continue;
        const args = oracleInterface.decodeFunctionData("fulfilBatch", tx.data);
        const receipt = await env.provider.getTransactionReceipt(tx.hash);
        out.push({ ids: args.results.map((r: { request: { requestId: bigint } }) => r.request.requestId.toString()), gasLimit: tx.gasLimit, ok: receipt!.status === 1 });
      }
    }
    return out;
  }

  const senders = new Map<number, NonceManager>();
  const sender = (i: number) => {
    if (!senders.has(i)) senders.set(i, new NonceManager(devAccount(i).connect(env.provider)));
    return senders.get(i)!;
  };

  /** v2 request options: a fee bound far above any fee here, and a gas price bound twice the chain's. */
  async function options(callbackGasLimit: number, maxGasPrice?: bigint): Promise<unknown[]> {
    maxGasPrice ??= ((await env.provider.getFeeData()).maxFeePerGas ?? 10n ** 9n) * 2n;
    return optionsTuple({ callbackGasLimit, deadline: BigInt(Math.floor(Date.now() / 1000) + 3600), redundancy: 1, maxFee: 10n ** 18n, maxGasPrice });
  }

  async function request(from: number, modelId: number | bigint, input: bigint[], callbackGasLimit = 0, maxGasPrice?: bigint): Promise<string> {
    const oracle = new Contract(env.oracle, ORACLE_ABI, sender(from));
    const opts = await options(callbackGasLimit, maxGasPrice);
    const tx = await oracle.requestInference(modelId, encodeTensor(input), opts, { value: await oracle.quote(modelId, opts) });
    const r = await tx.wait();
    return requestInLogs(r.logs, env.oracle)!.requestId.toString();
  }

  it("an attacker's fee-0 copies of a served model (runner's measurement excluded; 5 outputs declared): zero fulfilBatch for them, declined with reasons, other requests flow", async () => {
    const attacker = sender(12);
    const models = new Contract(env.deployed.deployment.contracts.ModelRegistry, MODEL_REGISTRY_ABI, attacker);
    // v2 ModelSpec: encoding 0 (abi int256[]), determinism 1 (bit-exact), no publisher share.
    const spec = (outputLength: number) => [penguins.sha256, penguins.input.length, outputLength, penguins.decimals, 0, "ipfs://copy", 0, 1, 0];
    const idOf = async (tx: Promise<{ wait(): Promise<{ logs: { topics: string[] }[] } | null> }>) =>
      BigInt((await (await tx).wait())!.logs[0].topics[1]);
    const excluded = await idOf(models.registerModel(spec(penguins.output.length), [hexlify(randomBytes(32))]));
    const fiveOutputs = await idOf(models.registerModel(spec(5), [env.deployed.deployment.measurement!]));
    await start();
    const sentAtStart = metricValue(await node!.metrics.registry.metrics(), "oracle_tx_sent_total"); // the runner's registration
    const t0 = await env.provider.getBlockNumber();
    const a = await request(13, excluded, [391n, 187n, 181n, 3750n]);
    const b = await request(13, fiveOutputs, [475n, 150n, 222n, 5200n]);
    const honest = [await request(14, env.penguinsId, [391n, 187n, 181n, 3750n]), await request(14, env.penguinsId, [475n, 150n, 222n, 5200n])];
    const until = Date.now() + 30_000;
    while ((await tally(env)).fulfilledPerRequest.size < 2 && Date.now() < until) await sleep(200);
    await sleep(3000); // several reconcile rounds: nothing may be retried or re-queued
    const t = await tally(env);
    expect(honest.every((id) => t.fulfilledPerRequest.get(id) === 1), "honest requests fulfilled once").to.equal(true);
    const batches = await fulfilBatches(t0);
    expect(batches.filter((x) => x.ids.includes(a) || x.ids.includes(b)), "fulfilBatch transactions carrying the attacker's requests").to.deep.equal([]);
    expect(t.skipped, "ResultSkipped events").to.equal(0);
    const api = `http://127.0.0.1:${node!.api.port}`;
    const trail = async (id: string) => (await (await fetch(`${api}/v1/requests/${id}`)).json()) as { status: string; trail: { step: string; detail?: string }[] };
    const ta = await trail(a);
    const tb = await trail(b);
    expect(ta.status).to.equal("declined");
    expect(ta.trail.find((s) => s.step === "declined")?.detail).to.match(/^measurement-not-allowed: model \d+ does not allow this node's runner measurement/);
    expect(tb.status).to.equal("declined");
    expect(tb.trail.find((s) => s.step === "declined")?.detail).to.match(/^model-spec-mismatch: .*outputLength: registry 5, file 3/);
    expect(ta.trail.filter((s) => s.step === "requeued"), "re-queued").to.deep.equal([]);
    const metrics = await (await fetch(`${api}/metrics`)).text();
    expect(metrics).to.include('oracle_requests_declined_total{reason="measurement-not-allowed"} 1');
    expect(metrics).to.include('oracle_requests_declined_total{reason="model-spec-mismatch"} 1');
    expect(metricValue(metrics, "oracle_tx_sent_total") - sentAtStart, "transactions sent (one batch per honest request at most)").to.be.at.most(2);
  });

  it("twelve requests with callbackGasLimit 2M in one block and an unrelated one: all served in batches under the 2^24 gas cap, no failed attempt", async () => {
    await start();
    const sentAtStart = metricValue(await node!.metrics.registry.metrics(), "oracle_tx_sent_total"); // the runner's registration
    const t0 = await env.provider.getBlockNumber();
    await rpc(env.chain.url, "evm_setAutomine", [false]);
    const opts = await options(2_000_000);
    const fee = await new Contract(env.oracle, ORACLE_ABI, env.provider).quote(env.penguinsId, opts);
    const sends = [];
    for (let i = 0; i < 12; i++) {
      sends.push(sender(2 + (i % 6)).sendTransaction({
        to: env.oracle, value: fee, gasLimit: 300_000,
        data: oracleInterface.encodeFunctionData("requestInference", [env.penguinsId, encodeTensor([BigInt(380 + i), 150n, 200n, 4000n]), opts]),
      }));
    }
    await Promise.all(sends);
    await rpc(env.chain.url, "hardhat_mine", ["0x1"]);
    await rpc(env.chain.url, "evm_setAutomine", [true]);
    await rpc(env.chain.url, "evm_setIntervalMining", [200]);
    const unrelated = await request(9, env.penguinsId, [391n, 187n, 181n, 3750n]);
    const until = Date.now() + 40_000;
    let t = await tally(env);
    while (t.fulfilledPerRequest.size < 13 && Date.now() < until) { await sleep(300); t = await tally(env); }
    expect(t.requested).to.equal(13);
    expect(t.fulfilledPerRequest.get(unrelated), "the unrelated request").to.equal(1);
    expect([...t.fulfilledPerRequest.values()].filter((n) => n === 1).length, "requests fulfilled exactly once").to.equal(13);
    const batches = await fulfilBatches(t0);
    expect(batches.every((x) => x.ok), "every fulfilBatch succeeded").to.equal(true);
    expect(batches.every((x) => x.gasLimit <= BigInt(EIP7825_TX_GAS_CAP)), `gas limits ${batches.map((x) => x.gasLimit)}`).to.equal(true);
    const metrics = await (await fetch(`http://127.0.0.1:${node!.api.port}/metrics`)).text();
    expect(metricValue(metrics, "oracle_tx_sent_total") - sentAtStart, "transactions sent = batches mined (no failed attempt)").to.equal(batches.length);
    expect(metricValue(metrics, "oracle_requests_declined_total")).to.equal(0);
    console.log(`      13 requests in ${batches.length} batches of ${batches.map((x) => x.ids.length).join(", ")}; gas limits ${batches.map((x) => x.gasLimit).join(", ")}`);
  });

  it("a request whose maxGasPrice is below the chain's gas price (its prepayment cannot cover its cost) is declined with no transaction; others flow", async () => {
    await start();
    const sentAtStart = metricValue(await node!.metrics.registry.metrics(), "oracle_tx_sent_total"); // the runner's registration
    await rpc(env.chain.url, "evm_setIntervalMining", [200]); // blocks keep coming: the last request gets its confirmation
    const cheap = await request(13, env.penguinsId, [391n, 187n, 181n, 3750n], 0, 1n); // 1 wei/gas
    const fair = await request(14, env.penguinsId, [475n, 150n, 222n, 5200n]);
    const until = Date.now() + 30_000;
    while (!(await tally(env)).fulfilledPerRequest.has(fair) && Date.now() < until) await sleep(200);
    await sleep(1500); // reconcile rounds: the declined request stays declined
    const t = await tally(env);
    expect(t.fulfilledPerRequest.get(fair)).to.equal(1);
    expect(t.fulfilledPerRequest.has(cheap)).to.equal(false);
    expect(t.skipped).to.equal(0);
    const api = `http://127.0.0.1:${node!.api.port}`;
    const rec = (await (await fetch(`${api}/v1/requests/${cheap}`)).json()) as { status: string; trail: { step: string; detail?: string }[] };
    expect(rec.status).to.equal("declined");
    expect(rec.trail.find((s) => s.step === "declined")?.detail).to.match(/^gas-price-above-max: the request reimburses gas at most at 1 wei\/gas/);
    const metrics = await (await fetch(`${api}/metrics`)).text();
    expect(metrics).to.include('oracle_requests_declined_total{reason="gas-price-above-max"} 1');
    expect(metricValue(metrics, "oracle_tx_sent_total") - sentAtStart, "one batch, for the fair request").to.equal(1);
  });
});
