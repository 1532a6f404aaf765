/**
 * The byte-level int256[] codec and keccak (protocol/bytes.ts) and the codec's number fast paths
 * (models/codec.ts) against references written differently: ethers' AbiCoder and keccak256, and
 * the BigInt-only conversions of fixed-point.ts that the codec used before the fast paths.
 */
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { AbiCoder, keccak256 } from "ethers";
import { ResultStatus, decodeTensor, encodeTensor } from "../../../oracle/src/protocol";
import {
  allocInt256Array, decodeInt256Array, encodeInt256Array, fromHex, initKeccak, int256ArrayLength, keccak256Bytes, keccak256Hex,
  keccakBackend, readInt256, readInt256Number, toHex, writeInt256Number,
} from "../../../oracle/src/protocol/bytes";
import { decodeInput, encodeOutput, encodeOutputBytes } from "../../../oracle/src/models/codec";
import { FLOAT32, FLOAT64, compareFixedToNumber, pow10, rationalToBinary, scaleToFixed } from "../../../oracle/src/models/fixed-point";
import type { ModelManifestEntry, TensorType } from "../../../oracle/src/models/manifest";
import { float32FromBits, prng, randomBigInt, randomUint32 } from "./helpers";

type Spec = Pick<ModelManifestEntry, "input" | "output" | "decimals">;
const coder = AbiCoder.defaultAbiCoder();
const ethersEncode = (values: readonly bigint[]): string => coder.encode(["int256[]"], [values]);

const INT256_MIN = -(2n ** 255n);
const INT256_MAX = 2n ** 255n - 1n;
const EDGES: bigint[] = [
  0n, 1n, -1n, 255n, -256n, 2n ** 32n - 1n, 2n ** 32n, -(2n ** 32n), -(2n ** 32n) - 1n,
  2n ** 52n, -(2n ** 52n), 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) + 1n, -(2n ** 53n), -(2n ** 53n) - 1n,
  2n ** 63n - 1n, 2n ** 63n, -(2n ** 63n), -(2n ** 63n) - 1n, 2n ** 64n, -(2n ** 64n), 2n ** 128n + 7n, -(2n ** 200n),
  INT256_MAX, INT256_MIN, INT256_MAX - 1n, INT256_MIN + 1n,
];

function spec(type: TensorType, decimals: number, length = 1, bounds: { min?: number | number[]; max?: number | number[] } = {}): Spec {
  return { decimals, input: { name: "x", type, shape: [1, length], length, encoding: "abi-int256", ...bounds }, output: { name: "y", type, shape: [1, length], length } };
}

/** The codec's decodeInput as it was before the fast path: BigInt only. */
function refDecode(values: bigint[], entry: Spec): { status: ResultStatus; index?: number; data?: number[] | bigint[] } {
  const { type, min, max } = entry.input;
  const out: (number | bigint)[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const lo = Array.isArray(min) ? min[i] : min;
    const hi = Array.isArray(max) ? max[i] : max;
    if (lo !== undefined && compareFixedToNumber(v, entry.decimals, lo) < 0) return { status: ResultStatus.InputOutOfRange, index: i };
    if (hi !== undefined && compareFixedToNumber(v, entry.decimals, hi) > 0) return { status: ResultStatus.InputOutOfRange, index: i };
    if (type === "int64") {
      if (v < -(2n ** 63n) || v >= 2n ** 63n) return { status: ResultStatus.InputOutOfRange, index: i };
      out.push(v);
    } else if (type === "int32") {
      if (v < -(2n ** 31n) || v >= 2n ** 31n) return { status: ResultStatus.InputOutOfRange, index: i };
      out.push(Number(v));
    } else {
      const x = rationalToBinary(v, pow10(entry.decimals), type === "float32" ? FLOAT32 : FLOAT64);
      if (!Number.isFinite(x)) return { status: ResultStatus.InputOutOfRange, index: i };
      out.push(x);
    }
  }
  return { status: ResultStatus.Ok, data: out as number[] | bigint[] };
}

function checkDecode(values: bigint[], entry: Spec, label: string): void {
  const got = decodeInput(encodeTensor(values), entry);
  const want = refDecode(values, entry);
  if (got.status !== want.status) expect.fail(`${label}: status ${got.status}, reference ${want.status}`);
  if (got.status === ResultStatus.Ok) {
    const data = [...got.data];
    for (let i = 0; i < data.length; i++) {
      if (!Object.is(data[i], want.data![i])) expect.fail(`${label}: element ${i} is ${data[i]}, reference ${want.data![i]}`);
    }
  } else if (got.index !== want.index) {
    expect.fail(`${label}: refused at ${got.index}, reference at ${want.index}`);
  }
}

describe("protocol/bytes: canonical int256[] and keccak", () => {
  it("encodes and decodes the fast-path edges exactly as ethers' AbiCoder does", () => {
    const hex = encodeTensor(EDGES);
    expect(hex).to.equal(ethersEncode(EDGES));
    expect(decodeTensor(hex)).to.deep.equal(EDGES);
    expect(decodeTensor(fromHex(hex))).to.deep.equal(EDGES);
    const bytes = fromHex(hex);
    EDGES.forEach((v, i) => {
      const fast = readInt256Number(bytes, i);
      const inFast = v >= -(2n ** 53n) && v < 2n ** 53n;
      expect(fast, `fast path of ${v}`).to.equal(inFast ? Number(v) : undefined);
      expect(readInt256(bytes, i)).to.equal(v);
    });
  });

  it("agrees with ethers on 3,000 random values of every size, either sign", () => {
    const rand = prng(0xabc);
    for (let k = 0; k < 300; k++) {
      const values = Array.from({ length: 1 + Math.floor(rand() * 12) }, () => {
        const v = randomBigInt(rand, 1 + Math.floor(rand() * 255));
        return v > INT256_MAX ? INT256_MAX : v < INT256_MIN ? INT256_MIN : v;
      });
      const hex = encodeTensor(values);
      expect(hex).to.equal(ethersEncode(values));
      expect(decodeTensor(hex)).to.deep.equal(values);
    }
  });

  it("writes numbers (including -0 and ±2^53) as the bigint would be written", () => {
    for (const x of [0, -0, 1, -1, 2 ** 32, -(2 ** 32), 2 ** 53, -(2 ** 53), 2 ** 53 - 1, -(2 ** 53) + 1, 123456789012345, -98765432109876]) {
      const out = allocInt256Array(1);
      writeInt256Number(out, 0, x);
      expect(toHex(out), String(x)).to.equal(ethersEncode([BigInt(x)]));
    }
    expect(toHex(encodeInt256Array([-0, 5, -5n]))).to.equal(ethersEncode([0n, 5n, -5n]));
    expect(() => encodeInt256Array([0.5])).to.throw(RangeError);
    expect(() => encodeInt256Array([2 ** 60])).to.throw(RangeError);
    expect(() => encodeTensor([INT256_MAX + 1n])).to.throw(RangeError);
    expect(() => encodeTensor([INT256_MIN - 1n])).to.throw(RangeError);
  });

  it("refuses every non-canonical layout", () => {
    const good = fromHex(encodeTensor([1n, -2n]));
    expect(int256ArrayLength(good)).to.equal(2);
    expect(int256ArrayLength(fromHex(encodeTensor([])))).to.equal(0);
    const bad: [string, Uint8Array][] = [];
    const mutate = (f: (b: Uint8Array) => void): Uint8Array => {
      const b = good.slice();
      f(b);
      return b;
    };
    bad.push(["offset 0x40", mutate((b) => (b[31] = 0x40))]);
    bad.push(["offset high byte", mutate((b) => (b[0] = 1))]);
    bad.push(["length 3", mutate((b) => (b[63] = 3))]);
    bad.push(["length 1", mutate((b) => (b[63] = 1))]);
    bad.push(["length high byte", mutate((b) => (b[32] = 1))]);
    bad.push(["length 2^32 + 2", mutate((b) => (b[59] = 1))]);
    bad.push(["trailing word", new Uint8Array([...good, ...new Uint8Array(32)])]);
    bad.push(["trailing byte", new Uint8Array([...good, 0])]);
    bad.push(["truncated", good.slice(0, good.length - 1)]);
    bad.push(["empty", new Uint8Array(0)]);
    bad.push(["head only", good.slice(0, 32)]);
    for (const [label, b] of bad) {
      expect(() => int256ArrayLength(b), label).to.throw(RangeError);
      expect(() => decodeTensor(b), label).to.throw(/canonical/);
      // ethers decodes some of these (it ignores trailing data); the old check then refused them.
    }
    for (const h of ["", "0x1", "0xzz", "1234", "0x" + "0".repeat(63)]) expect(() => decodeTensor(h), h).to.throw(/canonical/);
  });

  it("hashes bytes exactly as ethers' keccak256 for lengths 0..300", () => {
    const rand = prng(5);
    for (let len = 0; len <= 300; len++) {
      const data = Uint8Array.from({ length: len }, () => randomUint32(rand) & 0xff);
      const want = keccak256(data);
      expect(keccak256Hex(data)).to.equal(want);
      expect(toHex(keccak256Bytes(data))).to.equal(want);
    }
    // A view into a larger buffer hashes only its own bytes.
    const big = Uint8Array.from({ length: 100 }, (_, i) => i);
    expect(keccak256Hex(big.subarray(10, 50))).to.equal(keccak256(big.slice(10, 50)));
  });

  it("hashes with the WASM keccak after initKeccak exactly as ethers for random lengths 0..2000, views and Buffers", async function () {
    this.timeout(30_000);
    const first = initKeccak();
    expect(initKeccak()).to.equal(first); // one load, shared
    expect(await first).to.equal(true);
    expect(keccakBackend()).to.equal("hash-wasm");
    const rand = prng(0x5ec3);
    const lengths = [...Array.from({ length: 301 }, (_, i) => i), 1087, 1088, 1089, 2000, ...Array.from({ length: 400 }, () => Math.floor(rand() * 2001))];
    const pool = Uint8Array.from({ length: 4096 }, () => randomUint32(rand) & 0xff);
    for (const len of lengths) {
      const at = Math.floor(rand() * 2000);
      const view = pool.subarray(at, at + len); // a view into a larger buffer at an odd offset
      const want = keccak256(view.slice());
      expect(toHex(keccak256Bytes(view)), `length ${len}`).to.equal(want);
      expect(keccak256Hex(view), `length ${len}`).to.equal(want);
      expect(toHex(keccak256Bytes(Buffer.from(view))), `Buffer of ${len}`).to.equal(want);
    }
    // Each result is its own array: a later hash does not overwrite an earlier one.
    const a = keccak256Bytes(new Uint8Array([1]));
    const copy = a.slice();
    keccak256Bytes(new Uint8Array([2]));
    expect(a).to.deep.equal(copy);
  });

  it("hashes correctly with js-sha3 in a process that never awaited initKeccak", function () {
    this.timeout(60_000);
    const repo = path.resolve(__dirname, "..", "..", "..");
    const script = `
      const b = require("./oracle/src/protocol/bytes");
      const out = { backend: b.keccakBackend(), hashes: [] };
      for (const len of [0, 1, 135, 136, 137, 192, 2000]) {
        const d = Uint8Array.from({ length: len }, (_, i) => (i * 29 + len) & 0xff);
        out.hashes.push([len, b.keccak256Hex(d), Buffer.from(b.keccak256Bytes(d)).toString("hex")]);
      }
      process.stdout.write(JSON.stringify(out));`;
    const text = execFileSync(process.execPath, ["-r", require.resolve("ts-node/register/transpile-only"), "-e", script], { cwd: repo, encoding: "utf8" });
    const { backend, hashes } = JSON.parse(text) as { backend: string; hashes: [number, string, string][] };
    expect(backend).to.equal("js-sha3");
    expect(hashes).to.have.length(7);
    for (const [len, hex, raw] of hashes) {
      const want = keccak256(Uint8Array.from({ length: len }, (_, i) => (i * 29 + len) & 0xff));
      expect(hex, `length ${len}`).to.equal(want);
      expect("0x" + raw, `length ${len}`).to.equal(want);
    }
  });
});

describe("models/codec fast paths against the BigInt conversions", () => {
  it("decodes float32 inputs like the BigInt path: edges, midpoints and 20,000 random values", () => {
    const rand = prng(0xf00d);
    // Exact float32 midpoints m·10^-d scaled to integers: where rounding twice could go wrong.
    const midpoints: bigint[] = [];
    for (let k = 0; k < 200; k++) {
      const e = Math.floor(rand() * 30) - 10; // midpoint = (2^24 + 2j + 1) · 2^(e - 25)
      const j = BigInt(Math.floor(rand() * 2 ** 23));
      const mant = (1n << 24n) + 2n * j + 1n;
      for (const d of [0, 6, 12, 18]) {
        // v/10^d nearest to the midpoint: below, at (when exact) and above.
        const num = e >= 25 ? mant << BigInt(e - 25) : mant;
        const den = e >= 25 ? 1n : 1n << BigInt(25 - e);
        const v = (num * pow10(d)) / den;
        for (const dv of [-1n, 0n, 1n]) midpoints.push(v + dv, -(v + dv));
      }
    }
    for (const d of [0, 1, 6, 12, 18, 22, 23]) {
      const entry = spec("float32", d, 1);
      for (const v of [...EDGES, ...midpoints]) checkDecode([v], entry, `v=${v} d=${d}`);
    }
    for (let k = 0; k < 20_000; k++) {
      const d = [0, 3, 6, 9, 18, 22][k % 6];
      const v = randomBigInt(rand, k % 3 === 0 ? 80 : 54);
      checkDecode([v], spec("float32", d, 1), `v=${v} d=${d}`);
    }
  });

  it("checks bounds exactly at and next to the bound, fast path or not", () => {
    const rand = prng(17);
    for (let k = 0; k < 2_000; k++) {
      const d = [0, 2, 6, 18, 25][k % 5];
      const lo = Math.fround((rand() - 0.5) * 100);
      const hi = lo + rand() * 50;
      const entry = spec(k % 2 ? "float32" : "float64", d, 2, { min: lo, max: hi });
      const at = (b: number) => {
        // The fixed-point values nearest the bound: floor and ceil of b · 10^d.
        const exact = scaleToFixed(b, d);
        return [exact - 1n, exact, exact + 1n];
      };
      for (const v of [...at(lo), ...at(hi)]) checkDecode([v, v], entry, `v=${v} d=${d} [${lo}, ${hi}]`);
    }
    // Bounds that are not short decimals: 0.1 = 0.1000000000000000055511151231257827…
    const tenth = spec("float32", 18, 1, { min: -0.1, max: 0.1 });
    for (const v of [100000000000000005n, 100000000000000006n, -100000000000000005n, -100000000000000006n]) checkDecode([v], tenth, String(v));
    const tenth6 = spec("float64", 16, 1, { max: 0.1 });
    for (const v of [1000000000000000n, 1000000000000001n]) checkDecode([v], tenth6, String(v));
  });

  it("decodes float64 and integer inputs like the BigInt path", () => {
    const rand = prng(23);
    for (let k = 0; k < 5_000; k++) {
      const v = randomBigInt(rand, k % 4 === 0 ? 70 : 54);
      checkDecode([v], spec("float64", [0, 6, 15, 22][k % 4], 1), `f64 v=${v}`);
      checkDecode([v], spec("int64", 0, 1), `i64 v=${v}`);
      checkDecode([v], spec("int32", 0, 1), `i32 v=${v}`);
    }
    for (const v of EDGES) {
      checkDecode([v], spec("int64", 0, 1), `i64 ${v}`);
      checkDecode([v], spec("int32", 0, 1, { min: -5, max: 2 ** 40 }), `i32 ${v}`);
      checkDecode([v], spec("float64", 6, 1), `f64 ${v}`);
    }
    const penguin = spec("int64", 0, 4, { min: [0, 0, 0, 0], max: [1000, 500, 400, 10000] });
    for (const row of [[0n, 0n, 0n, 0n], [1000n, 500n, 400n, 10000n], [1001n, 0n, 0n, 0n], [0n, -1n, 0n, 0n], [0n, 0n, 0n, 10001n]]) checkDecode(row, penguin, String(row));
  });

  it("encodes float32 outputs like scaleToFixed: edges, ties and 30,000 random values, decimals 0 to 18", () => {
    const rand = prng(0xbeef);
    const values: number[] = [0, -0, 0.5, -0.5, 1.5, 2.5, -2.5, 1 / 128, 3 / 128, -3 / 128, float32FromBits(1), -float32FromBits(1), float32FromBits(0x7f7fffff), -float32FromBits(0x7f7fffff), 2 ** 52, 2 ** 53, 2 ** 24 - 1, 4503599.5];
    for (let k = 0; k < 30_000; k++) {
      const exponentField = 1 + Math.floor(rand() * 253);
      values.push(float32FromBits((((rand() < 0.5 ? 1 : 0) << 31) | (exponentField << 23) | (randomUint32(rand) & 0x7fffff)) >>> 0));
    }
    // Exact ties of x · 10^d: odd multiples of 2^-(d+1) (as float32 where representable).
    for (let k = 0; k < 2_000; k++) {
      const d = Math.floor(rand() * 8);
      const x = Math.fround(((2 * Math.floor(rand() * 2 ** 15) + 1) * (rand() < 0.5 ? -1 : 1)) / 2 ** (d + 1));
      values.push(x);
    }
    for (const d of [0, 1, 2, 6, 9, 12, 13, 18]) {
      const entry = spec("float32", d, 1);
      for (const x of values) {
        const got = encodeOutputBytes(Float32Array.of(x), 0, entry);
        const want = scaleToFixed(Math.fround(x), d);
        if (got.status !== ResultStatus.Ok || int256ArrayLength(got.output) !== 1 || readInt256(got.output, 0) !== want) {
          expect.fail(`x=${x} d=${d}: got ${got.status === ResultStatus.Ok ? decodeInt256Array(got.output) : got.status}, want ${want}`);
        }
      }
    }
  });

  it("encodes rows of a stacked output and the non-representable cases", () => {
    const entry = spec("float32", 6, 3);
    const stacked = Float32Array.of(0.1, 0.2, 0.7, 0.25, 0.5, 0.25, NaN, 1, 2);
    expect(toHex(encodeOutputBytes(stacked, 0, entry).output)).to.equal(encodeOutput(stacked.subarray(0, 3), entry).output);
    expect(toHex(encodeOutputBytes(stacked, 3, entry).output)).to.equal(encodeTensor([250000n, 500000n, 250000n]));
    expect(encodeOutputBytes(stacked, 6, entry)).to.deep.equal({ status: ResultStatus.OutputNotRepresentable, output: new Uint8Array(0) });
    expect(() => encodeOutputBytes(stacked, 7, entry)).to.throw(/manifest says 3/);
    const f64 = spec("float64", 6, 1);
    for (const x of [1e300, -1e300, Infinity]) expect(encodeOutputBytes([x], 0, f64).status).to.equal(ResultStatus.OutputNotRepresentable);
    const i64 = spec("int64", 0, 2);
    expect(toHex(encodeOutputBytes(BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n), 0, i64).output)).to.equal(ethersEncode([-(2n ** 63n), 2n ** 63n - 1n]));
    expect(toHex(encodeOutputBytes([2 ** 60, -(2 ** 60)], 0, i64).output)).to.equal(ethersEncode([2n ** 60n, -(2n ** 60n)]));
    expect(() => encodeOutputBytes([1.5, 0], 0, i64)).to.throw(/not an integer/);
  });
});
