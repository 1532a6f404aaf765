/**
 * Randomized tests (seeded, reproducible): the int256[] codec check against the TypeScript
 * decoder, and the fee arithmetic of redundancy against random k, fees and (dis)agreeing sets.
 */
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";
import { Contract, Wallet, hexlify, solidityPacked, toBeHex } from "ethers";
import { deployContract } from "../../scripts/lib/deploy-contracts";
import { IRIS_OUTPUT, ResultStatus, deployOracleFixture, encodeTensor, registerEnclave, requestFrom, signResult } from "../helpers/fixtures";
import { InputEncoding, decodeInput, decodePacked, decodeTensor, encodeInput, encodePacked, packedWidth } from "../helpers/protocol";

/** mulberry32: a small deterministic PRNG, so a failure can be replayed from its seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), bytes: (n: number) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256)) };
}

const SEED = Number(process.env.FUZZ_SEED ?? 20240611);
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
