/**
 * The submitter against a real Hardhat node (one chain for the file): fee bumps of a stuck
 * transaction, "already fulfilled" answered with ResultSkipped, a nonce used behind its back, and
 * concurrent batches from one key. Results are signed by an enclave signer registered in the
 * EnclaveRegistry with a report of the deployment's development platform, as a runner would be.
 */
import { expect } from "chai";
import { Contract, Transaction, Wallet, ZeroHash, id, keccak256 } from "ethers";
import type { RawLog } from "../../../oracle/src/chain/codec";
import { Submitter, type ResultSubmission } from "../../../oracle/src/chain/submitter";
import { FastJsonRpcProvider } from "../../../oracle/src/chain/rpc";
import { createLogger } from "../../../oracle/src/log";
import { createMetrics, type OracleMetrics } from "../../../oracle/src/metrics";
import { devAccount } from "../../../oracle/src/dev/devchain";
import type { SignedResult } from "../../../oracle/src/enclave/host";
import { Pipeline } from "../../../oracle/src/node/pipeline";
import { RequestTracker } from "../../../oracle/src/node/tracker";
import { ServabilityChecker } from "../../../oracle/src/node/servability";
import { ENCLAVE_REGISTRY_ABI, ORACLE_ABI, RequestState, oracleInterface } from "../../../oracle/src/protocol/abi";
import { batchDigest, encodeTensor, oracleDomain } from "../../../oracle/src/protocol/eip712";
import { commitmentOf, commitmentTuple, requestInLogs, type RequestCommitment } from "../../../oracle/src/protocol/request";
import { jobOf, type InferenceJob } from "../../../oracle/src/queue/types";
import { LoadGenerator, rpc, setupEnv, type Env } from "../../e2e/lib";

const CHAIN_ID = 31337;
const OUTPUT = encodeTensor([7n, 1n, 2n]); // penguins-species-int: three int scores
const ALREADY_FULFILLED = id("InferenceOracleAlreadyFulfilled(uint256)").slice(0, 10);

interface Request { commitment: RequestCommitment; job: InferenceJob }

describe("node submitter (real Hardhat node)", function () {
  this.timeout(40_000);
  let env: Env;
  let load: LoadGenerator;
  let provider: FastJsonRpcProvider;
  let enclave: Wallet;
  /** Every raw transaction the node's provider sent, and every eth_sendRawTransaction error. */
  const raws: string[] = [];
  const sendErrors: string[] = [];
  const log = createLogger({ level: "silent" });
  const oracleDomainOf = () => oracleDomain(CHAIN_ID, env.oracle);

  const newSubmitter = (metrics: OracleMetrics, opts: Partial<ConstructorParameters<typeof Submitter>[1]> = {}, keys = [devAccount(1).privateKey]) =>
    new Submitter({ provider, oracle: env.oracle, chainId: CHAIN_ID, keys, metrics, log },
      { gasHeadroomPercent: 25, txTimeoutMs: 300, feeBumpPercent: 25, pollMs: 25, ...opts });

  /** Registers a fresh enclave signer for `operator` with a report of the deployment's dev platform. */
  async function registerEnclave(operator: { address: string }, send: (to: string, data: string) => Promise<unknown>): Promise<Wallet> {
    const w = new Wallet(Wallet.createRandom().privateKey);
    const ev = env.deployed.platform.signReport({ measurement: env.deployed.deployment.measurement!, runtime: ZeroHash, signer: w.address, operator: operator.address });
    const registry = new Contract(env.deployed.deployment.contracts.EnclaveRegistry, ENCLAVE_REGISTRY_ABI);
    await send(await registry.getAddress(), registry.interface.encodeFunctionData("registerEnclave", [
      ev.report, [ev.reportSignature.r, ev.reportSignature.s], ev.certificate, [ev.certificateSignature.r, ev.certificateSignature.s], ev.rootId,
    ]));
    return w;
  }

  /** Makes `n` requests (mined one per block while automine is on) and reads them back from their events. */
  async function makeRequests(n: number): Promise<Request[]> {
    // One at a time: with automine on, Hardhat refuses a nonce that arrives before the one below it.
    const hashes = await load.send(n, { concurrency: 1 });
    const out: Request[] = [];
    for (const h of hashes) {
      const receipt = await mined(h);
      const request = requestInLogs(receipt.logs, env.oracle)!;
      out.push({ commitment: commitmentOf(request), job: jobOf(request, { chainId: CHAIN_ID, oracle: env.oracle, seenAt: Date.now() }) });
    }
    return out;
  }

  function results(reqs: Request[]): ResultSubmission[] {
    return reqs.map((r) => ({ request: r.commitment, output: OUTPUT, status: 0 }));
  }

  function sign(signer: Wallet, items: ResultSubmission[]): string {
    return signer.signingKey.sign(batchDigest(oracleDomainOf(), items.map((i) => ({
      requestId: i.request.requestId, modelHash: i.request.modelHash, inputHash: i.request.inputHash, outputHash: keccak256(i.output), status: i.status,
    })))).serialized;
  }

  const txSent = async (m: OracleMetrics, kind: string) => (await m.txSent.get()).values.find((v) => v.labels.kind === kind)?.value ?? 0;
  const total = async (c: { get(): Promise<{ values: { value: number; labels: Record<string, string | number | undefined> }[] }> }, label: Record<string, string> = {}) =>
    (await c.get()).values.filter((v) => Object.entries(label).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
  const receiptOf = (h: string) => rpc(env.chain.url, "eth_getTransactionReceipt", [h]) as Promise<{ blockNumber: string; status: string } | null>;
  /** Waits for a transaction's receipt (raw JSON-RPC, no provider polling). */
  const mined = async (h: string) => {
    let r: { blockNumber: string; blockHash: string; transactionHash: string; status: string; logs: RawLog[] } | null = null;
    await until(async () => !!(r = (await rpc(env.chain.url, "eth_getTransactionReceipt", [h])) as typeof r));
    if (r!.status !== "0x1") throw new Error(`transaction ${h} reverted`);
    return { ...r!, blockNumber: Number(r!.blockNumber), hash: r!.transactionHash };
  };
  /** Sends a transaction from `w` with an explicit nonce (as another process would) and waits for it. */
  const sendFrom = async (w: Wallet, to: string, data = "0x", nonce?: number) => {
    const raw = await w.signTransaction({
      to, data, nonce: nonce ?? (await nonceOf(w.address, "pending")), gasLimit: 3_000_000, chainId: CHAIN_ID, type: 2,
      maxFeePerGas: 50n * 10n ** 9n, maxPriorityFeePerGas: 2n * 10n ** 9n,
    });
    return mined((await rpc(env.chain.url, "eth_sendRawTransaction", [raw])) as string);
  };
  const nonceOf = async (address: string, tag = "latest") => Number(await rpc(env.chain.url, "eth_getTransactionCount", [address, tag]));
  const until = async (cond: () => boolean | Promise<boolean>, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error("timed out waiting");
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  before(async () => {
    env = await setupEnv("submitter");
    load = new LoadGenerator(env, [2, 3, 4, 5]);
    provider = new FastJsonRpcProvider(env.chain.url, CHAIN_ID, { staticNetwork: true });
    const call = provider.rpc.call.bind(provider.rpc);
    provider.rpc.call = (async (method: string, params: unknown[] = []) => {
      if (method !== "eth_sendRawTransaction") return call(method, params);
      raws.push(params[0] as string);
      try {
        return await call(method, params);
      } catch (err) {
        sendErrors.push((err as Error).message);
        throw err;
      }
    }) as typeof provider.rpc.call;
    // The node's own path: the operator key registers the runner's signer through the submitter.
    const registrar = newSubmitter(createMetrics({ defaultMetrics: false }), { txTimeoutMs: 10_000 });
    enclave = await registerEnclave(devAccount(1), (to, data) => registrar.sendFromOperator(to, data));
  });

  after(async () => {
    provider?.destroy();
    await env?.cleanup();
  });

  afterEach(async () => {
    await rpc(env.chain.url, "evm_setAutomine", [true]);
    await rpc(env.chain.url, "evm_mine", []); // whatever is left in the mempool
  });

  it("re-sends a stuck transaction with the same nonce and fees raised by feeBumpPercent, and returns the version mined", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const submitter = newSubmitter(metrics);
    const reqs = await makeRequests(2);
    const items = results(reqs);
    const operator = devAccount(1).address;
    const nonce0 = await nonceOf(operator);
    await rpc(env.chain.url, "evm_setAutomine", [false]);
    const first = raws.length;
    const sentHashes: string[] = [];
    const pending = submitter.submitBatch(items, sign(enclave, items), [0, 0], enclave.address, (h) => sentHashes.push(h));
    await until(() => sentHashes.length >= 2); // the first version, then (after txTimeoutMs) the bumped one
    expect(await receiptOf(sentHashes[0])).to.equal(null);
    await rpc(env.chain.url, "evm_mine", []);
    const receipt = await pending;

    const versions = raws.slice(first).map((r) => Transaction.from(r));
    expect(versions.length).to.be.greaterThanOrEqual(2);
    for (let i = 1; i < versions.length; i++) {
      expect(versions[i].nonce, "every re-send reuses the nonce").to.equal(nonce0);
      expect(versions[i].maxFeePerGas).to.equal((versions[i - 1].maxFeePerGas! * 125n) / 100n);
      expect(versions[i].maxPriorityFeePerGas).to.equal((versions[i - 1].maxPriorityFeePerGas! * 125n) / 100n);
      expect(versions[i].data).to.equal(versions[0].data);
    }
    expect(versions[0].nonce).to.equal(nonce0);
    expect(versions.map((v) => v.hash)).to.deep.equal(sentHashes);
    // Exactly one version was mined, and it is the one the submitter returned.
    const mined = [];
    for (const v of versions) if (await receiptOf(v.hash!)) mined.push(v.hash);
    expect(mined).to.deep.equal([receipt.tx]);
    expect(receipt.tx).to.not.equal(versions[0].hash);
    for (const r of reqs) expect(receipt.outcomes.get(r.job.requestId)).to.include({ kind: "fulfilled", tx: receipt.tx });
    expect(await txSent(metrics, "first")).to.equal(1);
    expect(await txSent(metrics, "resend")).to.equal(versions.length - 1);
    expect(await nonceOf(operator)).to.equal(nonce0 + 1);

    // The nonce manager moved on by one: the next batch takes nonce0 + 1 and is mined (automine back on).
    await rpc(env.chain.url, "evm_setAutomine", [true]);
    const more = results(await makeRequests(1));
    const next = await submitter.submitBatch(more, sign(enclave, more), [0], enclave.address);
    expect(Transaction.from(raws[raws.length - 1]).nonce).to.equal(nonce0 + 1);
    expect(next.outcomes.get(more[0].request.requestId.toString())!.kind).to.equal("fulfilled");
    expect(await nonceOf(operator)).to.equal(nonce0 + 2);
  });

  it("reports a request fulfilled by someone else as ResultSkipped(AlreadyFulfilled), not as a failure, and the pipeline acks it as settled elsewhere", async () => {
    // Another operator, with its own registered enclave, serves the same requests.
    const other = devAccount(6);
    const otherEnclave = await registerEnclave(other, (to, data) => sendFrom(other, to, data));
    const fulfilElsewhere = async (reqs: Request[]) => {
      const items = results(reqs);
      await sendFrom(other, env.oracle, oracleInterface.encodeFunctionData("fulfilBatch", [items.map((i) => [commitmentTuple(i.request), i.output, i.status]), sign(otherEnclave, items)]));
    };
    const metrics = createMetrics({ defaultMetrics: false });
    const submitter = newSubmitter(metrics, { txTimeoutMs: 10_000 });

    // Submitter level: one of two requests is already fulfilled when our batch lands.
    const [a, b] = await makeRequests(2);
    await fulfilElsewhere([a]);
    const items = results([a, b]);
    const receipt = await submitter.submitBatch(items, sign(enclave, items), [0, 0], enclave.address);
    expect(receipt.outcomes.get(a.job.requestId)).to.deep.include({ kind: "skipped", reason: ALREADY_FULFILLED, tx: receipt.tx });
    expect(receipt.outcomes.get(b.job.requestId)).to.deep.include({ kind: "fulfilled", tx: receipt.tx });
    const oracle = new Contract(env.oracle, ORACLE_ABI, env.provider);
    expect(Number(await oracle.requestState(a.commitment.requestId))).to.equal(RequestState.Fulfilled);

    // Node level: the other operator wins the race while our runner computes; the job is acked.
    const [c] = await makeRequests(1);
    const tracker = new RequestTracker();
    const runner = {
      index: 0, signer: enclave.address,
      inferBatch: async (jobs: { requestId: bigint }[]) => {
        await fulfilElsewhere([c]);
        const its = results([c]);
        const out: SignedResult[] = its.map((i) => ({
          requestId: i.request.requestId, modelHash: i.request.modelHash, inputHash: i.request.inputHash, status: 0, output: i.output, outputHash: keccak256(i.output),
        }));
        expect(jobs.map((j) => j.requestId)).to.deep.equal([c.commitment.requestId]);
        return { results: out, signature: sign(enclave, its), signer: enclave.address };
      },
    };
    const runners = { acquire: () => runner }; // the pool's lease, without processes: the runner is not what this test is about
    const servability = new ServabilityChecker({
      provider, modelRegistry: env.deployed.deployment.contracts.ModelRegistry, models: { prepare: async () => undefined }, // the model file is not what this test is about,
      measurement: () => env.deployed.deployment.measurement!, gasPrice: () => submitter.gasPrice(), limits: { maxInputBytes: 65536, maxCallbackGas: 2_000_000, maxBatchGas: 16_777_216n },
    });
    const pipeline = new Pipeline({ provider, oracle: env.oracle, runners, servability, submitter, tracker, metrics, log },
      { batchSize: 1, batchWindowMs: 10, maxBatchGas: 16_777_216n });
    const sendsBefore = await txSent(metrics, "first");
    await pipeline.handle(c.job, { id: "c", attempt: 1 }); // resolves: the job is acked
    expect(await txSent(metrics, "first")).to.equal(sendsBefore + 1); // it did submit, and lost the race
    expect(tracker.get(c.job.requestId)!.status).to.equal("settled-elsewhere");
    expect(tracker.get(c.job.requestId)!.trail.map((s) => s.detail ?? "").join(" ")).to.include(`ResultSkipped ${ALREADY_FULFILLED}`);
    expect(await total(metrics.requestsFulfilled, { outcome: "already-settled" })).to.equal(1);
    expect(await total(metrics.requestsFailed)).to.equal(0);
  });

  /**
   * A submitter of the operator key whose nonce manager is primed (it read the count from the
   * chain once and now counts locally), and two requests for it to fulfil.
   */
  async function primedSubmitter() {
    const metrics = createMetrics({ defaultMetrics: false });
    const submitter = newSubmitter(metrics, { txTimeoutMs: 10_000 });
    const primeItems = results(await makeRequests(1));
    const items = results(await makeRequests(2));
    await submitter.submitBatch(primeItems, sign(enclave, primeItems), [0], enclave.address);
    return { metrics, submitter, operator: devAccount(1), items };
  }

  it("resyncs after 'nonce too low' when another process used the sender's next nonce, and succeeds", async () => {
    const { metrics, submitter, operator, items } = await primedSubmitter();
    const n = await nonceOf(operator.address);
    // Another process sends from the same key with nonce n, behind the submitter's back (right
    // away: the resync must read the chain again, not a count cached since the first read).
    await sendFrom(operator, operator.address, "0x", n);
    const errorsBefore = sendErrors.length;
    const rawsBefore = raws.length;
    const receipt = await submitter.submitBatch(items, sign(enclave, items), [0, 0], enclave.address);
    const errors = sendErrors.slice(errorsBefore);
    expect(errors).to.have.length(1);
    expect(errors[0]).to.match(/nonce too low/i);
    expect(raws.slice(rawsBefore).map((r) => Transaction.from(r).nonce)).to.deep.equal([n, n + 1]); // one resync, no spinning
    for (const i of items) expect(receipt.outcomes.get(i.request.requestId.toString())!.kind).to.equal("fulfilled");
    expect(await nonceOf(operator.address)).to.equal(n + 2);
    expect(await txSent(metrics, "first")).to.equal(2);
    expect(await txSent(metrics, "resend")).to.equal(0);
  });

  it("takes the next nonce when another process's pending transaction holds it (a refused replacement), instead of failing the batch", async () => {
    const { metrics, submitter, operator, items } = await primedSubmitter();
    await rpc(env.chain.url, "evm_setAutomine", [false]);
    // Another node sharing the key sent nonce n first: pending, with a fee this one does not outbid.
    const n = await nonceOf(operator.address, "pending");
    const foreign = await operator.signTransaction({
      to: operator.address, nonce: n, gasLimit: 21_000, chainId: CHAIN_ID, type: 2, maxFeePerGas: 50n * 10n ** 9n, maxPriorityFeePerGas: 2n * 10n ** 9n,
    });
    await rpc(env.chain.url, "eth_sendRawTransaction", [foreign]);
    const errorsBefore = sendErrors.length;
    const rawsBefore = raws.length;
    let sent = false;
    const landed = submitter.submitBatch(items, sign(enclave, items), [0, 0], enclave.address, () => { sent = true; });
    await until(() => sent);
    await rpc(env.chain.url, "evm_mine", []);
    const receipt = await landed;
    const errors = sendErrors.slice(errorsBefore);
    expect(errors).to.have.length(1);
    expect(errors[0]).to.match(/replacement/i);
    expect(raws.slice(rawsBefore).map((r) => Transaction.from(r).nonce)).to.deep.equal([n, n + 1]);
    for (const i of items) expect(receipt.outcomes.get(i.request.requestId.toString())!.kind).to.equal("fulfilled");
    expect(await nonceOf(operator.address), "both the other process's transaction and the batch mined").to.equal(n + 2);
    expect(await total(metrics.nonceResyncs)).to.equal(1);
  });

  it("after a batch reverts, estimates the next one, and its headroom never lifts the gas limit over ORACLE_MAX_TX_GAS (maxTxGas)", async () => {
    const capped = newSubmitter(createMetrics({ defaultMetrics: false }), { txTimeoutMs: 10_000, gasHeadroomPercent: 1000, maxTxGas: 500_000 });
    const uncapped = newSubmitter(createMetrics({ defaultMetrics: false }), { txTimeoutMs: 10_000, gasHeadroomPercent: 1000 });
    const gasLimits: bigint[] = [];
    for (const submitter of [capped, uncapped]) {
      // A batch signed by a key no registry knows reverts: the submitter estimates the next ones.
      const bad = results(await makeRequests(1));
      const stranger = new Wallet(Wallet.createRandom().privateKey);
      const err = await submitter.submitBatch(bad, sign(stranger, bad), [0], stranger.address).then(() => undefined, (e: Error) => e);
      expect(err?.name, "a batch signed by an unregistered key").to.equal("SubmitError");
      const items = results(await makeRequests(1));
      const receipt = await submitter.submitBatch(items, sign(enclave, items), [0], enclave.address);
      expect(receipt.outcomes.get(items[0].request.requestId.toString())!.kind).to.equal("fulfilled");
      gasLimits.push(raws.map((r) => Transaction.from(r)).find((t) => t.hash === receipt.tx)!.gasLimit);
    }
    // 1000% headroom on a ~70k estimate is ~770k: over the 500k cap, the capped submitter keeps to its bound.
    expect(gasLimits[1], "uncapped: the estimate plus 1000% headroom").to.be.greaterThan(500_000n);
    expect(gasLimits[0], "capped at maxTxGas").to.be.at.most(500_000n);
  });

  it("gives concurrent batches from one key consecutive nonces with no gap (one nonce manager per key), and all are mined", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const keys = [devAccount(1), devAccount(7)];
    const submitter = newSubmitter(metrics, { txTimeoutMs: 15_000 }, keys.map((k) => k.privateKey));
    const reqs = await makeRequests(16);
    const start = new Map<string, number>();
    for (const k of keys) start.set(k.address, await nonceOf(k.address, "pending"));
    await rpc(env.chain.url, "evm_setAutomine", [false]);
    const first = raws.length;
    const batches = Array.from({ length: 8 }, (_, i) => results(reqs.slice(2 * i, 2 * i + 2)));
    let accepted = 0;
    const all = Promise.all(batches.map((items) => submitter.submitBatch(items, sign(enclave, items), [0, 0], enclave.address, () => accepted++)));
    await until(() => accepted >= batches.length);
    // Every version is in the mempool: one block mines them all only if no nonce is missing.
    await rpc(env.chain.url, "evm_mine", []);
    const receipts = await all;
    const sent = raws.slice(first).map((r) => Transaction.from(r));
    expect(sent).to.have.length(batches.length); // no re-sends, no failed sends
    const blocks = new Set(receipts.map((r) => r.block));
    expect(blocks.size).to.equal(1);
    for (const k of keys) {
      const nonces = sent.filter((t) => t.from === k.address).map((t) => t.nonce).sort((x, y) => x - y);
      expect(nonces.length, `batches from ${k.address}`).to.equal(batches.length / keys.length);
      expect(nonces).to.deep.equal(nonces.map((_, i) => start.get(k.address)! + i));
      expect(await nonceOf(k.address)).to.equal(start.get(k.address)! + nonces.length);
    }
    for (const r of reqs) {
      const rec = receipts.find((x) => x.outcomes.has(r.job.requestId))!;
      expect(rec.outcomes.get(r.job.requestId)!.kind).to.equal("fulfilled");
    }
    expect(await txSent(metrics, "first")).to.equal(batches.length);
  });
});
