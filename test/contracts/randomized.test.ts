/**
 * Randomized tests (seeded with FUZZ_SEED, reproducible): the int256[] and packed codec checks
 * against the TypeScript codecs (and solidityPacked), the accounting invariant over random
 * requests, fulfilments, batches, expiries and withdrawals, and the fee arithmetic of redundancy
 * against random k, fees and (dis)agreeing sets.
 */
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";
import { Contract, Wallet, hexlify, id, solidityPacked, toBeHex } from "ethers";
import { deployContract } from "../../scripts/lib/deploy-contracts";
import {
  IRIS, IRIS_INPUT, IRIS_OUTPUT, MEASUREMENT, ResultStatus, commitmentFromReceipt, deployOracleFixture, encodeTensor,
  registerEnclave, registerModel, requestFrom, requestOptions, signBatch, signResult,
} from "../helpers/fixtures";
import { InputEncoding, RequestCommitment, decodeInput, decodePacked, decodeTensor, encodeInput, encodePacked, packedWidth } from "../helpers/protocol";
import { SEED, rng } from "../helpers/rng";

const INT256_MIN = -(2n ** 255n);
const INT256_MAX = 2n ** 255n - 1n;

describe("Randomized", () => {
  describe("the int256[] codec check", () => {
    async function fixture() {
      const [deployer] = await ethers.getSigners();
      return deployContract(deployer, "ProtocolHarness", ["InferenceOracle"]);
    }

    function tsAccepts(data: string, length: number): boolean {
      try {
        return decodeTensor(data).length === length;
      } catch {
        return false;
      }
    }

    function mutate(r: ReturnType<typeof rng>, data: string): string {
      const bytes = ethers.getBytes(data);
      switch (r.int(6)) {
        case 0: return hexlify(bytes.slice(0, Math.max(0, bytes.length - 1 - r.int(40))));          // truncate
        case 1: return hexlify(new Uint8Array([...bytes, ...r.bytes(1 + r.int(40))]));                // append
        case 2: { bytes[r.int(32)] ^= 1 + r.int(255); return hexlify(bytes); }                      // offset word
        case 3: { bytes[32 + r.int(32)] ^= 1 + r.int(255); return hexlify(bytes); }                 // length word
        case 4: return "0x" + toBeHex(0x20, 32).slice(2) + toBeHex(r.int(2 ** 32), 32).slice(2);      // huge length
        default: { if (bytes.length > 64) bytes[64 + r.int(bytes.length - 64)] ^= 0xff; return hexlify(bytes); } // value: still canonical
      }
    }

    it("accepts exactly what the TypeScript decoder accepts, for random tensors and mutations", async () => {
      const harness = await loadFixture(fixture);
      const r = rng(SEED);
      for (let i = 0; i < 60; i++) {
        const n = r.int(9);
        const values = Array.from({ length: n }, () => {
          const pick = r.int(4);
          if (pick === 0) return INT256_MIN;
          if (pick === 1) return INT256_MAX;
          return BigInt(hexlify(r.bytes(1 + r.int(31)))) * (r.int(2) ? 1n : -1n);
        });
        const good = encodeTensor(values);
        const expected = r.int(3) === 0 ? Math.max(0, n + (r.int(2) ? 1 : -1)) : n;
        const data = r.int(2) ? mutate(r, good) : good;
        expect(await harness.isCanonicalTensor(data, expected), `seed ${SEED} case ${i}: ${data} length ${expected}`)
          .to.equal(tsAccepts(data, expected));
      }
    });
  });

  describe("the packed input codec", () => {
    async function fixture() {
      const [deployer] = await ethers.getSigners();
      return deployContract(deployer, "ProtocolHarness", ["InferenceOracle"]);
    }

    /** A random value of `bits`, biased to the edges where two's complement goes wrong. */
    function randomInt(r: ReturnType<typeof rng>, bits: number): bigint {
      const min = -(1n << BigInt(bits - 1));
      const max = (1n << BigInt(bits - 1)) - 1n;
      switch (r.int(5)) {
        case 0: return min;
        case 1: return max;
        case 2: return BigInt(r.int(3)) - 1n;
        default: return BigInt.asIntN(bits, BigInt(hexlify(r.bytes(bits / 8))));
      }
    }

    it("packs big-endian two's complement exactly as Solidity's abi.encodePacked of intN (ethers solidityPacked), and back", () => {
      const r = rng(SEED + 2);
      for (let i = 0; i < 200; i++) {
        const encoding = (1 + r.int(4)) as InputEncoding;
        const bits = 8 * packedWidth(encoding);
        const values = Array.from({ length: r.int(12) }, () => randomInt(r, bits));
        const packed = encodePacked(values, encoding);
        expect(packed, `seed ${SEED + 2} case ${i}`).to.equal(solidityPacked(values.map(() => `int${bits}`), values));
        expect(decodePacked(packed, encoding)).to.deep.equal(values);
        expect(decodeInput(packed, values.length, encoding)).to.deep.equal(values);
      }
      expect(() => encodePacked([128n], InputEncoding.PackedInt8)).to.throw(RangeError, /value 0 \(128\) does not fit in int8/);
      expect(() => encodePacked([-32769n], InputEncoding.PackedInt16)).to.throw(RangeError, /int16/);
    });

    it("the oracle's check accepts exactly the inputs the TypeScript decoder accepts, in every encoding", async () => {
      const harness = await loadFixture(fixture);
      const r = rng(SEED + 3);
      for (let i = 0; i < 60; i++) {
        const encoding = r.int(5) as InputEncoding;
        const length = 1 + r.int(10);
        const values = Array.from({ length }, () => randomInt(r, encoding === InputEncoding.AbiInt256 ? 64 : 8 * packedWidth(encoding)));
        let data = encodeInput(values, encoding);
        if (r.int(2)) data = r.int(2) ? data.slice(0, Math.max(2, data.length - 2 * (1 + r.int(3)))) : data + hexlify(r.bytes(1 + r.int(3))).slice(2);
        const claimed = r.int(4) === 0 ? length + 1 : length;
        let tsAccepts = true;
        try { decodeInput(data, claimed, encoding); } catch { tsAccepts = false; }
        expect(await harness.isWellFormedInput(data, claimed, encoding), `seed ${SEED + 3} case ${i}: ${data} x${claimed} enc ${encoding}`).to.equal(tsAccepts);
      }
      expect(await harness.isWellFormedInput("0x00", 1, 5)).to.equal(false);
    });
  });

  describe("the accounting invariant", () => {
    async function fixture() {
      const f = await deployOracleFixture();
      const all = await ethers.getSigners();
      const operators = all.slice(8, 14);
      const signers: Wallet[] = [];
      for (const op of operators) signers.push(await registerEnclave(f, op));
      // a model whose publisher takes 15% of every fee
      const sharedId = await registerModel(f.modelRegistry, f.publisher, { ...IRIS, modelHash: id("shared.onnx"), publisherShareBps: 1_500 }, [MEASUREMENT]);
      // two of the requesters are also operators: their refunds and fees meet in one balance word
      const requesters = all.slice(12, 17);
      return { ...f, all, operators, signers, sharedId, requesters };
    }

    it("keeps the oracle's ether = pending fees and prepayments + withdrawable balances, after every random step", async () => {
      const f = await loadFixture(fixture);
      const r = rng(SEED + 4);
      const oracleAddress = await f.oracle.getAddress();
      const consumerAddress = await f.consumer.getAddress();
      const accounts = [...f.all.map((a) => a.address), consumerAddress];
      const pending = new Map<bigint, { c: RequestCommitment; voted: Set<number>; dissent: number }>();
      const disagree = encodeTensor([1n, 2n, 3n]);
      const GWEI = 10n ** 9n;
      const pick = <T>(xs: T[]): T => xs[r.int(xs.length)];
      const counts: Record<string, number> = {};
      const check = async (step: number, action: string) => {
        let sum = 0n;
        for (const { c } of pending.values()) sum += c.fee + c.gasPrepayment;
        for (const a of accounts) sum += await f.oracle.balances(a);
        expect(await ethers.provider.getBalance(oracleAddress), `seed ${SEED + 4} step ${step} (${action})`).to.equal(sum);
      };
      const live = async () => {
        const now = BigInt(await time.latest());
        return [...pending.values()].filter((p) => p.c.deadline > now + 5n);
      };
      for (let step = 0; step < 60; step++) {
        const roll = r.int(10);
        let action = "request";
        if (roll < 3 || pending.size === 0) {
          const options = await requestOptions({
            redundancy: 1 + r.int(3), callbackGasLimit: pick([0, 60_000, 200_000]), ttl: 300 + r.int(3000),
            maxGasPrice: pick([0n, GWEI, 5n * GWEI]),
          });
          const modelId = r.int(2) ? f.modelId : f.sharedId;
          const total = await f.oracle.quote(modelId, options);
          const extra = BigInt(r.int(3)) * 1_000n;
          const viaConsumer = r.int(2) === 0;
          const tx = viaConsumer
            ? await (f.consumer.connect(pick(f.requesters)) as Contract).request(modelId, IRIS_INPUT, options, { value: total + extra })
            : await (f.oracle.connect(pick(f.requesters)) as Contract).requestInference(modelId, IRIS_INPUT, options, { value: total + extra });
          const c = commitmentFromReceipt(f.oracle, await tx.wait());
          pending.set(c.requestId, { c, voted: new Set(), dissent: 0 });
        } else if (roll < 5) {
          action = "fulfil";
          const candidates = (await live()).filter((p) => p.voted.size < f.operators.length);
          if (candidates.length === 0) continue;
          const p = pick(candidates);
          const i = pick([...f.operators.keys()].filter((j) => !p.voted.has(j)));
          const k = Number(p.c.redundancy);
          const dissents = k > 1 && p.dissent + 1 < k && r.int(4) === 0;
          const output = dissents ? disagree : IRIS_OUTPUT;
          const relayer = f.oracle.connect(pick([f.operators[i], f.relayer, f.stranger])) as Contract;
          await (await relayer.fulfil(p.c, output, ResultStatus.Ok, signResult(f.signers[i], f.domain, p.c, output), { gasPrice: pick([GWEI, 3n * GWEI, 8n * GWEI]), type: 0 })).wait();
          p.voted.add(i);
          if (dissents) p.dissent++;
          if (Number(await f.oracle.requestState(p.c.requestId)) !== 1) pending.delete(p.c.requestId);
        } else if (roll < 7) {
          action = "batch";
          const ones = (await live()).filter((p) => p.c.redundancy === 1n).slice(0, 3);
          if (ones.length === 0) continue;
          const i = r.int(f.operators.length);
          const items = ones.map((p) => ({ request: p.c, output: IRIS_OUTPUT, status: ResultStatus.Ok }));
          const batch = f.oracle.connect(f.relayer) as Contract;
          await (await batch.fulfilBatch(items.map((x) => [x.request, x.output, x.status]), signBatch(f.signers[i], f.domain, items), { gasPrice: 2n * GWEI, type: 0 })).wait();
          for (const p of ones) pending.delete(p.c.requestId);
        } else if (roll < 8) {
          action = "expire";
          const p = pick([...pending.values()]);
          if (BigInt(await time.latest()) <= p.c.deadline) await time.increaseTo(p.c.deadline + 1n);
          await (await (f.oracle.connect(f.stranger) as Contract).expire(p.c)).wait();
          pending.delete(p.c.requestId);
        } else {
          action = "withdraw";
          const holders: string[] = [];
          for (const a of accounts) if ((await f.oracle.balances(a)) > 0n) holders.push(a);
          if (holders.length === 0) continue;
          const who = pick(holders);
          if (who === consumerAddress) await (await (f.consumer.connect(f.stranger) as Contract).claimOracleBalance()).wait();
          else await (await (f.oracle.connect(await ethers.getSigner(who)) as Contract).withdraw()).wait();
        }
        counts[action] = (counts[action] ?? 0) + 1;
        await check(step, action);
      }
      // the run exercised every kind of step
      for (const a of ["request", "fulfil", "batch", "expire", "withdraw"]) expect(counts[a] ?? 0, `seed ${SEED + 4}: no ${a} step`).to.be.greaterThan(0);
    });
  });

  describe("the fee arithmetic of redundancy", () => {
    async function fixture() {
      const f = await deployOracleFixture();
      const all = await ethers.getSigners();
      const operators = all.slice(8, 16);
      const signers: Wallet[] = [];
      for (const op of operators) signers.push(await registerEnclave(f, op));
      return { ...f, operators, signers };
    }

    it("always credits exactly what was paid in, split equally among the agreeing operators", async () => {
      const f = await loadFixture(fixture);
      const r = rng(SEED + 1);
      const oracle = f.oracle.connect(f.relayer) as Contract;
      const publisher = f.modelRegistry.connect(f.publisher) as Contract;
      const disagree = encodeTensor([1n, 2n, 3n]);
      for (let trial = 0; trial < 8; trial++) {
        const k = 1 + r.int(4);
        const modelFee = BigInt(r.int(1_000_000_000)) + 1n;
        await publisher.setFee(f.modelId, modelFee);
        const c = await requestFrom(f, f.user, { redundancy: k });
        expect(c.fee).to.equal(modelFee * BigInt(k));
        const order = [...f.operators.keys()].sort(() => r.next() - 0.5);
        // Fewer dissenters than k, or they would form a quorum of their own.
        const dissenters = new Set(order.slice(0, r.int(Math.min(k - 1, f.operators.length - k) + 1)));
        const before = await Promise.all(f.operators.map((o) => oracle.balances(o.address)));
        const agreeing: number[] = [];
        for (const i of order) {
          if (agreeing.length === k) break;
          const output = dissenters.has(i) ? disagree : IRIS_OUTPUT;
          await oracle.fulfil(c, output, ResultStatus.Ok, signResult(f.signers[i], f.domain, c, output));
          if (!dissenters.has(i)) agreeing.push(i);
        }
        expect(await oracle.requestState(c.requestId), `seed ${SEED + 1} trial ${trial}`).to.equal(2n);
        const after = await Promise.all(f.operators.map((o) => oracle.balances(o.address)));
        const deltas: bigint[] = after.map((a, i) => BigInt(a) - BigInt(before[i]));
        expect(deltas.reduce((s, d) => s + d, 0n)).to.equal(c.fee);
        const share = c.fee / BigInt(k);
        agreeing.forEach((i, n) => expect(deltas[i]).to.equal(n === k - 1 ? c.fee - share * BigInt(k - 1) : share));
        for (const i of dissenters) expect(deltas[i]).to.equal(0n);
      }
      // Everything paid in is either withdrawable or still held for pending requests: here, all is credited.
      const total = (await Promise.all(f.operators.map((o) => oracle.balances(o.address)))).reduce((s, b) => s + b, 0n);
      expect(await ethers.provider.getBalance(await oracle.getAddress())).to.equal(total);
    });
  });
});
