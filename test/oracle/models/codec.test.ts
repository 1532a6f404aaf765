import { expect } from "chai";
import { ResultStatus, decodeTensor, encodeTensor } from "../../../oracle/src/protocol";
import { decodeInput, encodeInput, encodeOutput } from "../../../oracle/src/models/codec";
import { InputEncodingError } from "../../../oracle/src/models/errors";
import { FLOAT32, rationalToBinary, scaleToFixed } from "../../../oracle/src/models/fixed-point";
import { loadManifest, type ModelManifestEntry } from "../../../oracle/src/models/manifest";
import { float32Bits, float32FromBits, nextDown32, nextUp32, prng, randomBigInt, randomUint32, refExact } from "./helpers";

type Spec = Pick<ModelManifestEntry, "input" | "output" | "decimals">;

function floatSpec(decimals: number, length = 1, type: "float32" | "float64" = "float32", bounds: { min?: number; max?: number } = {}): Spec {
  return {
    decimals,
    input: { name: "x", type, shape: [1, length], length, encoding: "abi-int256", ...bounds },
    output: { name: "y", type, shape: [1, length], length },
  };
}

/** Reference 1: exact binary value by repeated doubling, BigInt division, ties to even. */
function refRoundBigInt(x: number, decimals: number): bigint {
  const { num, exp } = refExact(x);
  const neg = num < 0n;
  const a = (neg ? -num : num) * 10n ** BigInt(decimals);
  if (exp >= 0) return (neg ? -1n : 1n) * (a * 2n ** BigInt(exp));
  const den = 2n ** BigInt(-exp);
  const floor = a / den;
  const rest = a - floor * den; // in [0, den)
  const half = den / 2n; // den is a power of two ≥ 2
  let q = floor;
  if (rest > half) q = floor + 1n;
  else if (rest === half) q = floor % 2n === 0n ? floor : floor + 1n;
  return neg ? -q : q;
}

/**
 * Reference 2: decimal string rounding. Number#toFixed(100) is exact for values whose binary
 * fraction has at most 100 bits and |x| < 1e21; the digits are then rounded as text.
 */
function refRoundDecimalString(x: number, decimals: number): bigint {
  const neg = x < 0;
  const [intPart, frac] = Math.abs(x).toFixed(100).split(".");
  const kept = BigInt(intPart + frac.slice(0, decimals));
  const rest = frac.slice(decimals);
  const first = rest[0];
  const tail = rest.slice(1);
  let up: boolean;
  if (first > "5") up = true;
  else if (first < "5") up = false;
  else if (/[1-9]/.test(tail)) up = true;
  else up = kept % 2n === 1n; // exactly half: to even
  const q = up ? kept + 1n : kept;
  return neg ? -q : q;
}

/** Exact rational comparison of |x − v/10^d| for the float-rounding property test. */
function distance(x: number, v: bigint, decimals: number): { num: bigint; den: bigint } {
  const { num, exp } = refExact(x);
  const p = 10n ** BigInt(decimals);
  // x − v/p = (num·2^exp·p − v) / p
  const den = exp < 0 ? p * 2n ** BigInt(-exp) : p;
  const n = exp < 0 ? num * p - v * 2n ** BigInt(-exp) : num * 2n ** BigInt(exp) * p - v;
  return { num: n < 0n ? -n : n, den };
}

function lessOrEqual(a: { num: bigint; den: bigint }, b: { num: bigint; den: bigint }): boolean {
  return a.num * b.den <= b.num * a.den;
}

describe("models/codec", () => {
  describe("encodeOutput", () => {
    it("rounds half to even at the fixed-point boundary", () => {
      const spec0 = floatSpec(0, 8, "float64");
      const out0 = encodeOutput([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.4999999, 3.5], spec0);
      expect(decodeTensor(out0.output)).to.deep.equal([0n, 2n, 2n, 0n, -2n, -2n, 3n, 4n]);
      // 1/128 · 10^6 = 7812.5 and 3/128 · 10^6 = 23437.5 are exact ties in binary.
      const out6 = encodeOutput(Float32Array.from([1 / 128, 3 / 128]), floatSpec(6, 2));
      expect(decodeTensor(out6.output)).to.deep.equal([7812n, 23438n]);
    });

    it("uses the exact binary value, not its shortest decimal form", () => {
      // float32(0.1) = 0.100000001490116…, so at 9 decimals it is 100000001, at 8 it is 10000000.
      const x = Math.fround(0.1);
      expect(decodeTensor(encodeOutput(Float32Array.of(x), floatSpec(9)).output)).to.deep.equal([100000001n]);
      expect(decodeTensor(encodeOutput(Float32Array.of(x), floatSpec(8)).output)).to.deep.equal([10000000n]);
      // 2.675 as a double is 2.67499999999999982236431605997495353221893310546875: rounds down.
      expect(decodeTensor(encodeOutput([2.675], floatSpec(2, 1, "float64")).output)).to.deep.equal([267n]);
    });

    it("agrees with a BigInt reference and a decimal-string reference on 6,000 random float32 values", () => {
      const rand = prng(0x5eed);
      for (let i = 0; i < 6_000; i++) {
        // Random sign and mantissa; exponent in [2^-60, 2^60] keeps toFixed(100) exact.
        const exponentField = 127 - 60 + Math.floor(rand() * 121);
        const bits = ((rand() < 0.5 ? 1 : 0) << 31) | (exponentField << 23) | (randomUint32(rand) & 0x7fffff);
        const x = float32FromBits(bits >>> 0);
        const decimals = [0, 1, 6, 9, 18][i % 5];
        const [got] = decodeTensor(encodeOutput(Float32Array.of(x), floatSpec(decimals)).output);
        const a = refRoundBigInt(x, decimals);
        const b = refRoundDecimalString(x, decimals);
        if (got !== a || got !== b) expect.fail(`x=${x} (bits ${bits >>> 0}) decimals=${decimals}: got ${got}, BigInt ref ${a}, string ref ${b}`);
      }
    });

    it("agrees with the references on random exact ties (odd multiples of 2^-(d+1))", () => {
      const rand = prng(7);
      for (let i = 0; i < 1_000; i++) {
        const d = Math.floor(rand() * 7);
        const k = Math.floor(rand() * 1_000_000) * (rand() < 0.5 ? -1 : 1);
        const x = (2 * k + 1) / 2 ** (d + 1); // x·10^d = (2k+1)·5^d / 2: an exact half
        const [got] = decodeTensor(encodeOutput([x], floatSpec(d, 1, "float64")).output);
        expect(got).to.equal(refRoundDecimalString(x, d));
        expect(got % 2n).to.equal(0n, `tie ${x} at ${d} decimals must round to even`);
      }
    });

    it("signs OutputNotRepresentable with empty output for NaN, infinities and values beyond int256", () => {
      const spec = floatSpec(6, 2, "float64");
      for (const bad of [NaN, Infinity, -Infinity, 1e300, -1e300]) {
        expect(encodeOutput([1, bad], spec)).to.deep.equal({ status: ResultStatus.OutputNotRepresentable, output: "0x" });
      }
      expect(encodeOutput(Float32Array.of(NaN), floatSpec(6))).to.deep.equal({ status: ResultStatus.OutputNotRepresentable, output: "0x" });
      // The largest float32 still fits: 3.4e38 · 10^6 < 2^255.
      const big = encodeOutput(Float32Array.of(float32FromBits(0x7f7fffff)), floatSpec(6));
      expect(big.status).to.equal(ResultStatus.Ok);
      expect(decodeTensor(big.output)[0]).to.equal((2n ** 24n - 1n) * 2n ** 104n * 10n ** 6n);
    });

    it("takes integer outputs as they are", () => {
      const spec: Spec = { decimals: 0, input: { name: "x", type: "int64", shape: [1, 3], length: 3, encoding: "abi-int256" }, output: { name: "y", type: "int64", shape: [1, 3], length: 3 } };
      const data = BigInt64Array.of(-(2n ** 63n), 0n, 2n ** 63n - 1n);
      expect(encodeOutput(data, spec)).to.deep.equal({ status: ResultStatus.Ok, output: encodeTensor([-(2n ** 63n), 0n, 2n ** 63n - 1n]) });
    });

    it("refuses an output of the wrong length", () => {
      expect(() => encodeOutput([1, 2], floatSpec(6))).to.throw(/2 values, the manifest says 1/);
    });
  });

  describe("decodeInput", () => {
    it("gives float32 the nearest value to v/10^d, ties to even, on 4,000 random inputs", () => {
      const rand = prng(42);
      for (let i = 0; i < 4_000; i++) {
        const decimals = [0, 6, 18, 30][i % 4];
        const v = randomBigInt(rand, 96);
        const decoded = decodeInput(encodeTensor([v]), floatSpec(decimals));
        if (decoded.status !== ResultStatus.Ok) expect.fail(`v=${v} d=${decimals} refused: ${decoded.reason}`);
        const x = decoded.data[0] as number;
        expect(Math.fround(x)).to.equal(x);
        const here = distance(x, v, decimals);
        for (const other of [nextUp32(x), nextDown32(x)]) {
          const there = distance(other, v, decimals);
          if (!lessOrEqual(here, there)) expect.fail(`v=${v} d=${decimals}: ${x} is farther than ${other}`);
          if (here.num * there.den === there.num * here.den && (float32Bits(x) & 1) === 1) {
            expect.fail(`v=${v} d=${decimals}: tie resolved to odd ${x}`);
          }
        }
      }
    });

    it("resolves exact float32 ties to even", () => {
      // 2^24 + 1 lies halfway between 2^24 and 2^24 + 2; 2^24 + 3 between 2^24 + 2 and 2^24 + 4.
      const spec = floatSpec(0, 2);
      const r = decodeInput(encodeTensor([2n ** 24n + 1n, 2n ** 24n + 3n]), spec);
      expect(r.status).to.equal(ResultStatus.Ok);
      if (r.status === ResultStatus.Ok) expect([...r.data]).to.deep.equal([2 ** 24, 2 ** 24 + 4]);
      expect(rationalToBinary(1n, 3n, FLOAT32)).to.equal(Math.fround(1 / 3));
      expect(rationalToBinary(-7n, 2n ** 160n, FLOAT32)).to.equal(-float32FromBits(0)); // far below the smallest subnormal: -0
      expect(rationalToBinary(3n, 2n ** 150n, FLOAT32)).to.equal(float32FromBits(2)); // 1.5 · 2^-149 → 2 · 2^-149 (even)
    });

    it("agrees with Math.fround(v / 10^d) for values where both are exact", () => {
      const rand = prng(3);
      for (let i = 0; i < 1_000; i++) {
        const k = Math.floor(rand() * 2 ** 24) * (rand() < 0.5 ? -1 : 1); // exact in float32
        const d = Math.floor(rand() * 10);
        const r = decodeInput(encodeTensor([BigInt(k) * 10n ** BigInt(d)]), floatSpec(d));
        expect(r.status).to.equal(ResultStatus.Ok);
        if (r.status === ResultStatus.Ok) expect(r.data[0]).to.equal(k);
      }
    });

    it("round-trips encodeInput → decodeInput → encodeOutput for float64 values at their decimals", () => {
      const rand = prng(11);
      const spec = floatSpec(6, 1, "float64");
      for (let i = 0; i < 1_000; i++) {
        const v = randomBigInt(rand, 50);
        const r = decodeInput(encodeTensor([v]), spec);
        if (r.status !== ResultStatus.Ok) expect.fail("refused");
        expect(decodeTensor(encodeOutput(r.data, spec).output)).to.deep.equal([v]);
        expect(encodeInput([r.data[0] as number], spec)).to.equal(encodeTensor([v]));
      }
    });

    it("checks the manifest range exactly, per element", () => {
      const spec = floatSpec(6, 2, "float32", { min: -1, max: 1 });
      expect(decodeInput(encodeTensor([-1_000_000n, 1_000_000n]), spec).status).to.equal(ResultStatus.Ok);
      const low = decodeInput(encodeTensor([-1_000_001n, 0n]), spec);
      expect(low).to.deep.include({ status: ResultStatus.InputOutOfRange, index: 0 });
      const high = decodeInput(encodeTensor([0n, 1_000_001n]), spec);
      expect(high).to.deep.include({ status: ResultStatus.InputOutOfRange, index: 1 });
      // A bound that is not a short decimal: the double 0.1 is 0.1000000000000000055511151231257827…
      const tenth = floatSpec(18, 1, "float32", { max: 0.1 });
      expect(decodeInput(encodeTensor([100000000000000005n]), tenth).status).to.equal(ResultStatus.Ok);
      expect(decodeInput(encodeTensor([100000000000000006n]), tenth).status).to.equal(ResultStatus.InputOutOfRange);
    });

    it("refuses values the tensor type cannot hold", () => {
      const f32 = decodeInput(encodeTensor([10n ** 39n]), floatSpec(0));
      expect(f32).to.deep.include({ status: ResultStatus.InputOutOfRange, index: 0 });
      const i64: Spec = { decimals: 0, input: { name: "x", type: "int64", shape: [1, 2], length: 2, encoding: "abi-int256" }, output: { name: "y", type: "int64", shape: [1, 1], length: 1 } };
      const ok = decodeInput(encodeTensor([2n ** 63n - 1n, -(2n ** 63n)]), i64);
      expect(ok.status).to.equal(ResultStatus.Ok);
      if (ok.status === ResultStatus.Ok) expect([...ok.data]).to.deep.equal([2n ** 63n - 1n, -(2n ** 63n)]);
      expect(decodeInput(encodeTensor([0n, 2n ** 63n]), i64)).to.deep.include({ status: ResultStatus.InputOutOfRange, index: 1 });
      const i32: Spec = { ...i64, input: { ...i64.input, type: "int32" } };
      expect(decodeInput(encodeTensor([2n ** 31n, 0n]), i32)).to.deep.include({ status: ResultStatus.InputOutOfRange, index: 0 });
    });

    it("throws InputEncodingError for bytes that are not a canonical int256[] of the right length", () => {
      const spec = floatSpec(6, 2);
      expect(() => decodeInput(encodeTensor([1n]), spec)).to.throw(InputEncodingError, /1 values, the model takes 2/);
      expect(() => decodeInput("0x1234", spec)).to.throw(InputEncodingError, /canonical/);
      // Canonical prefix with trailing junk.
      expect(() => decodeInput(encodeTensor([1n, 2n]) + "00", spec)).to.throw(InputEncodingError);
    });

    it("reads every committed model's input through its manifest entry", () => {
      for (const entry of loadManifest().models) {
        const zeros = encodeInput(new Array(entry.input.length).fill(0), entry);
        const r = decodeInput(zeros, entry);
        expect(r.status, entry.name).to.equal(ResultStatus.Ok);
        if (r.status === ResultStatus.Ok) expect(r.data.length).to.equal(entry.input.length);
      }
    });
  });

  describe("scaleToFixed", () => {
    it("matches the references on subnormal and huge doubles", () => {
      const rand = prng(99);
      for (let i = 0; i < 500; i++) {
        const x = (rand() - 0.5) * 2 ** (Math.floor(rand() * 120) - 60);
        expect(scaleToFixed(x, 6)).to.equal(refRoundBigInt(x, 6));
      }
      expect(scaleToFixed(Number.MIN_VALUE, 6)).to.equal(0n);
      expect(scaleToFixed(-Number.MIN_VALUE, 6)).to.equal(0n);
      expect(scaleToFixed(2 ** 100, 2)).to.equal(2n ** 100n * 100n);
    });
  });
});
