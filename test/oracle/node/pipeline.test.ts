/**
 * The pipeline's decisions (oracle/src/node/pipeline.ts), driven through the real BullMQ queue on
 * Redis, with the real servability rules, request tracker and metrics. Faked, because no test here
 * is about them: the chain (a map of stored commitments and states behind the provider calls the
 * pipeline makes), the runner (answers in order, output = the input's bytes reversed, so a result
 * handed to the wrong request shows) and the submitter (records what it was given, answers with
 * the receipt outcomes a test chooses).
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import IORedis from "ioredis";
import { Interface, id as selectorOf, keccak256 } from "ethers";
import { InputRejectedError, RunnerCrashedError } from "../../../oracle/src/enclave/errors";
import { createLogger } from "../../../oracle/src/log";
import { createMetrics, type OracleMetrics } from "../../../oracle/src/metrics";
import { Pipeline, type PipelineDeps } from "../../../oracle/src/node/pipeline";
import { ServabilityChecker } from "../../../oracle/src/node/servability";
import { RequestTracker } from "../../../oracle/src/node/tracker";
import { MODEL_REGISTRY_ABI, RequestState, oracleInterface } from "../../../oracle/src/protocol/abi";
import { commitmentHash, inferenceRequest, type InferenceRequest, type RequestCommitment } from "../../../oracle/src/protocol/request";
import { BullQueue, jobId, jobOf, type JobContext } from "../../../oracle/src/queue";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const CHAIN_ID = 31337;
const ORACLE = "0x00000000000000000000000000000000000000aA";
const SIGNER = "0x00000000000000000000000000000000000051Ab";
const MODEL_HASH = "0x" + "5e".repeat(32);
const MAX_INPUT_BYTES = 64;
const NONE = "0x" + "0".repeat(64);
const FINAL = "0x" + "0".repeat(63) + "2";
const modelRegistryInterface = new Interface(MODEL_REGISTRY_ABI);
const DEADLINE_PASSED = selectorOf("InferenceOracleDeadlinePassed(uint256,uint64)").slice(0, 10);

const reversed = (hex: string) => "0x" + (hex.slice(2).match(/../g) ?? []).reverse().join("");

/** A request as its event states it: each id with its own input and callback gas limit. */
function request(id: bigint, input = "0x" + id.toString(16).padStart(2, "0").repeat(8) + "ff"): InferenceRequest {
  return inferenceRequest({
    requestId: id, modelId: 1n, requester: "0x" + "22".repeat(20), modelHash: MODEL_HASH, input, fee: 0n, gasPrepayment: 0n,
    maxGasPrice: 2n * 10n ** 9n, callbackGasLimit: 50_000n + id, deadline: 2n ** 40n, redundancy: 1n,
  }, { blockNumber: 10, blockHash: "0x" + "bb".repeat(32), txHash: "0x" + id.toString(16).padStart(64, "0") });
}

/** The chain as the pipeline reads it: `requestCommitment` (batched), `requestState`, `commitmentHash`, logs, and the model's registration. */
class FakeChain {
  readonly stored = new Map<bigint, string>();
  readonly states = new Map<bigint, RequestState>();
  logs: object[] = [];
  readonly provider = {
    rpc: {
      batch: async (calls: { params: [{ data: string }] }[]) => calls.map((c) => ({ result: this.stored.get(BigInt("0x" + c.params[0].data.slice(10))) ?? NONE })),
    },
    getLogs: async () => this.logs,
    call: async (tx: { data: string }) => this.answer(tx.data),
  };

  pending(r: InferenceRequest): void {
    this.stored.set(r.requestId, r.commitmentHash);
    this.states.set(r.requestId, RequestState.Pending);
  }

  settle(id: bigint, state: RequestState): void {
    this.stored.set(id, FINAL);
    this.states.set(id, state);
  }

  private answer(data: string): string {
    const call = oracleInterface.parseTransaction({ data }) ?? modelRegistryInterface.parseTransaction({ data })!;
    const result = (values: unknown[]) => (call.fragment.name === "getModel" || call.fragment.name === "isMeasurementAllowed" ? modelRegistryInterface : oracleInterface)
      .encodeFunctionResult(call.fragment, values);
    if (call.name === "requestState") return result([this.states.get(call.args[0]) ?? RequestState.None]);
    if (call.name === "commitmentHash") return result([commitmentHash(call.args[0].toObject() as RequestCommitment)]);
    if (call.name === "isMeasurementAllowed") return result([true]);
    if (call.name === "getModel") return result([[MODEL_HASH, 0n, 8, 3, 0, true, 0, 0, 0, "0x" + "44".repeat(20), "sha256:"]]);
    throw new Error(`the fake chain does not answer ${call.name}`);
  }
}

interface RunnerJob { requestId: bigint; modelHash: string; input: Uint8Array }

/** A runner that answers each job in order; `fail` may throw for a batch, `signer` say who signed it. */
class FakeRunner {
  readonly index = 0;
  readonly signer = SIGNER;
  readonly batches: bigint[][] = [];
  fail?: (ids: bigint[]) => Error | undefined;
  signedBy?: (call: number) => string;

  async inferBatch(jobs: RunnerJob[]) {
    const ids = jobs.map((j) => j.requestId);
    this.batches.push(ids);
    const err = this.fail?.(ids);
    if (err) throw err;
    const results = jobs.map((j) => {
      const output = reversed("0x" + Buffer.from(j.input).toString("hex"));
      return { requestId: j.requestId, modelHash: j.modelHash, inputHash: keccak256(j.input), output, outputHash: keccak256(output), status: 0 };
    });
    return { results, signature: "0x" + "00".repeat(65), signer: this.signedBy?.(this.batches.length) ?? this.signer };
  }
}

interface Sent { tx: string; items: { id: bigint; inputHash: string; output: string }[]; callbackGas: number[]; signer: string }

/** A submitter that records each batch; every result is fulfilled unless `skip` names a ResultSkipped reason for it. */
class FakeSubmitter {
  readonly sent: Sent[] = [];
  skip?: (id: bigint) => string | undefined;
  constructor(private readonly chain: FakeChain) {}

  async submitBatch(results: { request: RequestCommitment; output: string }[], _sig: string, callbackGas: number[], signer: string, onSent?: (tx: string) => void) {
    const tx = "0x" + (this.sent.length + 1).toString(16).padStart(64, "0");
    onSent?.(tx);
    this.sent.push({ tx, items: results.map((r) => ({ id: r.request.requestId, inputHash: r.request.inputHash, output: r.output })), callbackGas, signer });
    const outcomes = new Map(results.map((r) => {
      const reason = this.skip?.(r.request.requestId);
      if (!reason) this.chain.settle(r.request.requestId, RequestState.Fulfilled);
      return [r.request.requestId.toString(), reason ? { kind: "skipped", tx, block: 100, reason } : { kind: "fulfilled", tx, block: 100 }];
    }));
    return { tx, block: 100, gasUsed: 90_000n * BigInt(results.length), outcomes, timings: { estimateMs: 0, minedMs: 0 } };
  }
}

const until = async (cond: () => boolean | Promise<boolean>, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** A counter's value summed over the series that carry `labels`. */
const count = async (c: { get(): Promise<{ values: { value: number; labels: object }[] }> }, labels: Record<string, string> = {}) =>
  (await c.get()).values.filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x)).reduce((a, v) => a + v.value, 0);

describe("pipeline: from a queued job to an acked request (BullMQ on Redis, faked chain and runner)", function () {
  this.timeout(60_000);
  let prefix = "";
  let queue: BullQueue;
  let pipeline: Pipeline;
  let chain: FakeChain;
  let runner: FakeRunner;
  let submitter: FakeSubmitter;
  let tracker: RequestTracker;
  let metrics: OracleMetrics;
  /** The queue attempt of each handler call, by request id. */
  let attempts: Map<string, number[]>;

  /** Starts a pipeline consuming the queue; `batchSize` jobs (or a 2 s window) make a batch. */
  function start(batchSize: number): void {
    const servability = new ServabilityChecker({
      provider: chain.provider as never, modelRegistry: "0x" + "33".repeat(20), models: { prepare: async () => undefined },
      measurement: () => "0x" + "ab".repeat(32), gasPrice: async () => 10n ** 9n,
      limits: { maxInputBytes: MAX_INPUT_BYTES, maxCallbackGas: 2_000_000, maxBatchGas: 16_777_216n },
    });
    const deps: PipelineDeps = {
      provider: chain.provider as unknown as PipelineDeps["provider"], oracle: ORACLE, servability, tracker, metrics,
      runners: { acquire: () => runner } as unknown as PipelineDeps["runners"],
      submitter: submitter as unknown as PipelineDeps["submitter"],
      log: createLogger({ level: "silent" }),
    };
    pipeline = new Pipeline(deps, { batchSize, batchWindowMs: 2000, maxBatchGas: 16_777_216n });
    queue.process(async (job, ctx: JobContext) => {
      attempts.set(job.requestId, [...(attempts.get(job.requestId) ?? []), ctx.attempt]);
      await pipeline.handle(job, ctx);
    }, 8);
  }

  async function add(...requests: InferenceRequest[]): Promise<void> {
    for (const r of requests) await queue.add(jobOf(r, { chainId: CHAIN_ID, oracle: ORACLE, seenAt: Date.now() }));
  }

  const stateOf = (id: bigint) => queue.state(jobId(CHAIN_ID, ORACLE, id));
  const settled = (...ids: bigint[]) => until(async () => {
    for (const id of ids) if (!["completed", "failed"].includes((await stateOf(id)).state)) return false;
    return true;
  });
  const trail = (id: bigint) => tracker.get(id.toString())?.trail.map((s) => s.step) ?? [];

  beforeEach(() => {
    prefix = `test-${randomBytes(6).toString("hex")}`;
    queue = new BullQueue({ attempts: 3, backoffMs: 20, redisUrl: REDIS_URL, name: "pipeline", prefix });
    chain = new FakeChain();
    runner = new FakeRunner();
    submitter = new FakeSubmitter(chain);
    tracker = new RequestTracker();
    metrics = createMetrics({ defaultMetrics: false });
    attempts = new Map();
  });

  afterEach(async () => {
    await queue.close();
    await pipeline?.drain();
    const r = new IORedis(REDIS_URL);
    const keys = await r.keys(`${prefix}:*`);
    if (keys.length) await r.del(...keys);
    await r.quit();
  });

  it("serves a batch: each request gets its own output and callback gas, and its trail says computed, submitted and confirmed in that tx", async () => {
    const reqs = [request(11n), request(12n), request(13n)];
    reqs.forEach((r) => chain.pending(r));
    start(3);
    await add(...reqs);
    await settled(11n, 12n, 13n);

    for (const r of reqs) expect((await stateOf(r.requestId)).state).to.equal("completed");
    expect(submitter.sent, "one batch, one transaction").to.have.length(1);
    const items = submitter.sent.flatMap((s) => s.items.map((it, i) => ({ ...it, callbackGas: s.callbackGas[i] })));
    expect(items.map((it) => it.id).sort()).to.deep.equal([11n, 12n, 13n]);
    for (const it of items) {
      const r = reqs.find((x) => x.requestId === it.id)!;
      expect(it.output, `output of request ${it.id}`).to.equal(reversed(r.input));
      expect(it.inputHash).to.equal(r.inputHash);
      expect(it.callbackGas).to.equal(Number(r.callbackGasLimit));
    }
    expect(submitter.sent.every((s) => s.signer === SIGNER)).to.equal(true);
    const tx = submitter.sent.find((s) => s.items.some((it) => it.id === 12n))!.tx;
    expect(trail(12n)).to.deep.equal(["computed", "submitted", "confirmed"]);
    expect(tracker.get("12")!.trail.filter((s) => s.tx).map((s) => s.tx)).to.deep.equal([tx, tx]);
    expect(tracker.get("12")!.status).to.equal("fulfilled");
    expect(await count(metrics.requestsFulfilled, { outcome: "fulfilled" })).to.equal(3);
  });

  it("declines a request it must not serve, at once and with its reason, while the others of the batch flow", async () => {
    const big = request(21n, "0x" + "07".repeat(MAX_INPUT_BYTES + 1));
    const reqs = [request(20n), big, request(22n)];
    reqs.forEach((r) => chain.pending(r));
    start(2);
    await add(...reqs);
    await settled(20n, 21n, 22n);

    const st = await stateOf(21n);
    expect(st.state).to.equal("failed");
    expect(st.failedReason).to.equal(`permanent: input of ${MAX_INPUT_BYTES + 1} bytes exceeds ORACLE_MAX_INPUT_BYTES=${MAX_INPUT_BYTES}`);
    expect(attempts.get("21")).to.deep.equal([1]);
    expect(tracker.get("21")!.status).to.equal("declined");
    expect(tracker.get("21")!.trail[0].detail).to.match(/^input-too-large: input of 65 bytes/);
    expect(await count(metrics.requestsDeclined, { reason: "input-too-large" })).to.equal(1);
    expect(runner.batches.flat()).to.not.include(21n);
    expect((await stateOf(20n)).state).to.equal("completed");
    expect((await stateOf(22n)).state).to.equal("completed");
    expect(submitter.sent.flatMap((s) => s.items.map((it) => it.id)).sort()).to.deep.equal([20n, 22n]);
  });

  it("retries a batch whose runner crashed, and submits it once the replacement answers", async () => {
    const r = request(31n);
    chain.pending(r);
    runner.fail = () => (runner.batches.length === 1 ? new RunnerCrashedError("exit code 1") : undefined);
    start(1);
    await add(r);
    await settled(31n);

    expect((await stateOf(31n)).state).to.equal("completed");
    expect(attempts.get("31")).to.deep.equal([1, 2]);
    expect(runner.batches).to.have.length(2);
    expect(submitter.sent).to.have.length(1);
    expect(tracker.get("31")!.status).to.equal("fulfilled");
    expect(await count(metrics.requestsFailed)).to.equal(0);
  });

  it("never submits a batch signed by a key the node did not register (a runner restarted since): it retries instead", async () => {
    const r = request(41n);
    chain.pending(r);
    runner.signedBy = (call) => (call === 1 ? "0x" + "99".repeat(20) : SIGNER);
    start(1);
    await add(r);
    await settled(41n);

    expect((await stateOf(41n)).state).to.equal("completed");
    expect(attempts.get("41")).to.deep.equal([1, 2]);
    expect(submitter.sent.map((s) => s.signer)).to.deep.equal([SIGNER]);
  });

  it("fails only the request a permanent runner error is about, with its reason; the rest of its batch is served", async () => {
    const reqs = [request(51n), request(52n), request(53n)];
    reqs.forEach((r) => chain.pending(r));
    runner.fail = (ids) => (ids.includes(52n) ? new InputRejectedError("request 52: not a canonical int256[] of length 3") : undefined);
    start(3);
    await add(...reqs);
    await settled(51n, 52n, 53n);

    const st = await stateOf(52n);
    expect(st.state).to.equal("failed");
    expect(st.failedReason).to.equal("permanent: the runner refused the input: request 52: not a canonical int256[] of length 3");
    expect(attempts.get("52")).to.deep.equal([1]);
    expect(tracker.get("52")!.status).to.equal("failed");
    expect(await count(metrics.requestsFailed, { reason: "permanent" })).to.equal(1);
    expect((await stateOf(51n)).state).to.equal("completed");
    expect((await stateOf(53n)).state).to.equal("completed");
    expect(submitter.sent.flatMap((s) => s.items.map((it) => it.id)).sort()).to.deep.equal([51n, 53n]);
  });

  it("acks, without computing or sending anything, a request another node has fulfilled", async () => {
    const r = request(61n);
    chain.settle(61n, RequestState.Fulfilled);
    start(1);
    await add(r);
    await settled(61n);

    expect((await stateOf(61n)).state).to.equal("completed");
    expect(runner.batches).to.deep.equal([]);
    expect(submitter.sent).to.deep.equal([]);
    expect(tracker.get("61")!.status).to.equal("settled-elsewhere");
    expect(trail(61n)).to.deep.equal(["already-fulfilled"]);
    expect(await count(metrics.requestsFulfilled, { outcome: "already-settled" })).to.equal(1);
  });

  it("fails as 'reorged' a request no longer on the chain, and serves the canonical event of one a reorg replaced", async () => {
    const dropped = request(71n);
    const seen = request(72n, "0x0102");
    const canonical = request(72n, "0x0a0b0c");
    chain.pending(canonical);
    const ev = oracleInterface.encodeEventLog(oracleInterface.getEvent("InferenceRequested")!, [
      72n, canonical.modelId, canonical.requester, canonical.modelHash, canonical.input, canonical.fee, canonical.gasPrepayment,
      canonical.maxGasPrice, canonical.callbackGasLimit, canonical.deadline, canonical.redundancy,
    ]);
    chain.logs = [{ ...ev, address: ORACLE, blockNumber: 12, blockHash: "0x" + "cc".repeat(32), transactionHash: "0x" + "dd".repeat(32), removed: false }];
    start(1);
    await add(dropped, seen);
    await settled(71n, 72n);

    const st = await stateOf(71n);
    expect(st.state).to.equal("failed");
    expect(st.failedReason).to.equal("permanent: request 71 does not exist on-chain (dropped by a reorg)");
    expect(trail(71n)).to.deep.equal(["dropped"]);
    expect(tracker.get("71")!.status).to.equal("dropped"); // the console shows "dropped", with why
    expect(tracker.get("71")!.trail[0].detail).to.equal("request 71 does not exist on-chain (dropped by a reorg)");
    expect(await count(metrics.requestsFailed, { reason: "reorged" })).to.equal(1);

    expect((await stateOf(72n)).state).to.equal("completed");
    expect(submitter.sent.flatMap((s) => s.items)).to.deep.equal([{ id: 72n, inputHash: canonical.inputHash, output: reversed(canonical.input) }]);
  });

  it("reads the receipt per request: one of a batch fulfilled, the other skipped for good (deadline passed) and declined", async () => {
    const reqs = [request(81n), request(82n)];
    reqs.forEach((r) => chain.pending(r));
    submitter.skip = (id) => (id === 82n ? DEADLINE_PASSED : undefined);
    start(2);
    await add(...reqs);
    await settled(81n, 82n);

    expect((await stateOf(81n)).state).to.equal("completed");
    expect(tracker.get("81")!.status).to.equal("fulfilled");
    const st = await stateOf(82n);
    expect(st.state).to.equal("failed");
    expect(st.failedReason).to.match(/^permanent: the oracle skipped the result of request 82 in 0x0*1 with deadline-passed/);
    expect(tracker.get("82")!.status).to.equal("declined");
    expect(await count(metrics.requestsDeclined, { reason: "deadline-passed" })).to.equal(1);
    expect(submitter.sent).to.have.length(1);
  });
});
