import { expect } from "chai";
import { randomBytes } from "node:crypto";
import IORedis from "ioredis";
import { PermanentError } from "../../../oracle/src/errors";
import { BullQueue, MemoryQueue, WorkQueue, jobId, type InferenceJob } from "../../../oracle/src/queue";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const ORACLE = "0x00000000000000000000000000000000000000aA";

function job(requestId: number): InferenceJob {
  return {
    chainId: 31337, oracle: ORACLE, requestId: String(requestId), modelId: "1", modelHash: "0x" + "11".repeat(32),
    input: "0x", callbackGasLimit: 100_000, deadline: "0", fee: "0", gasPrepayment: "0", maxGasPrice: "0", redundancy: 1, requester: ORACLE,
    blockNumber: 1, blockHash: "0x" + "22".repeat(32), txHash: "0x" + "33".repeat(32), seenAt: Date.now(),
  };
}

const until = async (cond: () => boolean | Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
};

const impls: [string, () => WorkQueue, () => Promise<void>][] = [];
let prefix = "";
impls.push(["in-process queue", () => new MemoryQueue({ attempts: 3, backoffMs: 20 }), async () => undefined]);
impls.push([
  "BullMQ queue on Redis",
  () => new BullQueue({ attempts: 3, backoffMs: 20, redisUrl: REDIS_URL, name: "unit", prefix }),
  async () => {
    // Delete only this test's keys: other people's data in the same Redis stays.
    const r = new IORedis(REDIS_URL);
    const keys = await r.keys(`${prefix}:*`);
    if (keys.length) await r.del(...keys);
    await r.quit();
  },
]);

for (const [name, make, cleanup] of impls) {
  describe(`node queue: ${name}`, function () {
    this.timeout(30_000);
    let queues: WorkQueue[] = [];
    const q = () => { const x = make(); queues.push(x); return x; };
    beforeEach(() => { prefix = `test-${randomBytes(6).toString("hex")}`; });
    afterEach(async () => {
      await Promise.all(queues.map((x) => x.close()));
      queues = [];
      await cleanup();
    });

    it("derives the job id from chain, oracle and request, without ':'", () => {
      expect(jobId(31337, ORACLE, 7n)).to.equal(`31337-${ORACLE.toLowerCase()}-7`);
    });

    it("keeps one job for a request added twice", async () => {
      const queue = q();
      expect((await queue.add(job(1))).added).to.equal(true);
      expect((await queue.add(job(1))).added).to.equal(false);
      const runs: string[] = [];
      queue.process(async (j) => { runs.push(j.requestId); }, 4);
      await until(async () => (await queue.state(jobId(31337, ORACLE, 1n))).state === "completed");
      expect((await queue.add(job(1))).added).to.equal(false);
      await new Promise((r) => setTimeout(r, 100));
      expect(runs).to.deep.equal(["1"]);
    });

    it("retries a transient error with growing delays, then completes", async () => {
      const queue = q();
      const times: number[] = [];
      queue.process(async () => {
        times.push(Date.now());
        if (times.length < 3) throw Object.assign(new Error("rpc hiccup"), { transient: true });
      }, 1);
      await queue.add(job(2));
      await until(async () => (await queue.state(jobId(31337, ORACLE, 2n))).state === "completed");
      expect(times).to.have.length(3);
      // Exponential backoff of 20 ms: at least 20 ms, then at least 40 ms (a loaded machine can only
      // make the waits longer, so compare each with its floor, not with each other).
      expect(times[1] - times[0]).to.be.greaterThanOrEqual(18);
      expect(times[2] - times[1]).to.be.greaterThanOrEqual(38);
    });

    it("fails a permanent error at once, with its reason", async () => {
      const queue = q();
      let calls = 0;
      queue.process(async () => { calls++; throw new PermanentError("input too large", { reason: "input-too-large" }); }, 1);
      await queue.add(job(3));
      await until(async () => (await queue.state(jobId(31337, ORACLE, 3n))).state === "failed");
      const st = await queue.state(jobId(31337, ORACLE, 3n));
      expect(calls).to.equal(1);
      expect(st.failedReason).to.equal("permanent: input too large");
    });

    it("fails after the attempts are used up, and can be retried", async () => {
      const queue = q();
      let calls = 0;
      queue.process(async () => { calls++; if (calls <= 3) throw new Error("still down"); }, 1);
      await queue.add(job(4));
      const id = jobId(31337, ORACLE, 4n);
      await until(async () => (await queue.state(id)).state === "failed");
      expect(calls).to.equal(3);
      await queue.retry(id);
      await until(async () => (await queue.state(id)).state === "completed");
      expect(calls).to.equal(4);
    });

    it("stopProcessing waits for the active job", async () => {
      const queue = q();
      let finished = false;
      queue.process(async () => { await new Promise((r) => setTimeout(r, 300)); finished = true; }, 1);
      await queue.add(job(5));
      await until(async () => (await queue.state(jobId(31337, ORACLE, 5n))).state === "active");
      await queue.stopProcessing();
      expect(finished).to.equal(true);
      await queue.close();
      await queue.close(); // idempotent
    });

    if (name.startsWith("BullMQ")) {
      it("shares one queue between two node processes' workers: each job runs once", async () => {
        const a = q();
        const b = q();
        const ran = new Map<string, number>();
        const handler = async (j: InferenceJob) => {
          ran.set(j.requestId, (ran.get(j.requestId) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 5));
        };
        a.process(handler, 5);
        b.process(handler, 5);
        for (let i = 100; i < 160; i++) await (i % 2 ? a : b).add(job(i));
        for (let i = 100; i < 160; i++) await (i % 2 ? b : a).add(job(i)); // the other node sees the same events
        await until(() => ran.size === 60);
        await new Promise((r) => setTimeout(r, 200));
        expect([...ran.values()].every((n) => n === 1)).to.equal(true);
        const counts = await a.counts();
        expect(counts.completed).to.equal(60);
      });

      it("keeps secrets out of job data", async () => {
        const queue = q();
        await queue.add(job(9));
        const r = new IORedis(REDIS_URL);
        const data = await r.hget(`${prefix}:unit:${jobId(31337, ORACLE, 9n)}`, "data");
        await r.quit();
        expect(Object.keys(JSON.parse(data!)).sort()).to.deep.equal(Object.keys(job(9)).sort());
      });
    }
  });
}
