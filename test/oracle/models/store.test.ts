import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { keccak256 } from "ethers";
import { onnx } from "onnx-proto";
import type { InferenceSession } from "onnxruntime-node";
import { ResultStatus, decodeTensor, encodeTensor } from "../../../oracle/src/protocol";
import { encodeInput } from "../../../oracle/src/models/codec";
import { ModelHashMismatchError, ModelStoreClosedError, UnknownModelError } from "../../../oracle/src/models/errors";
import { DEFAULT_MODELS_DIR, findByName, loadManifest, type ModelManifestEntry } from "../../../oracle/src/models/manifest";
import { ModelStore } from "../../../oracle/src/models/store";
import { sha256Hex } from "../../../oracle/src/protocol/bytes";
import { loadIris, loadPenguins, loadSp500Daily } from "../../../oracle/src/models/build/data";
import { prng } from "./helpers";

const manifest = loadManifest();
function model(name: string): ModelManifestEntry {
  const entry = findByName(manifest, name);
  if (!entry) throw new Error(`model ${name} missing from the manifest`);
  return entry;
}
const iris = model("iris-classifier");
const vol = model("volatility-risk");
const penguins = model("penguins-species-int");

function argmax(xs: readonly bigint[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** The last 21 daily returns of the S&P 500 up to and including dates[end]. */
function returnsWindow(end: number): number[] {
  const { closes } = loadSp500Daily();
  const out: number[] = [];
  for (let i = end - 20; i <= end; i++) out.push(closes[i] / closes[i - 1] - 1);
  return out;
}

describe("models/store", function () {
  let store: ModelStore;
  before(() => {
    store = new ModelStore();
  });
  after(async () => {
    await store.close();
  });

  describe("known inputs", () => {
    it("classifies real iris samples as their species", async () => {
      const data = loadIris();
      for (const row of [0, 50, 100, 149]) {
        const { status, output } = await store.infer(iris.sha256, encodeInput(data.features[row], iris));
        expect(status).to.equal(ResultStatus.Ok);
        const probs = decodeTensor(output);
        expect(probs).to.have.length(3);
        expect(iris.output.labels![argmax(probs)]).to.equal(data.classes[data.labels[row]], `row ${row}`);
        const sum = probs.reduce((a, b) => a + b, 0n);
        expect(Number(sum)).to.be.closeTo(1_000_000, 3);
      }
      // Row 0 of Fisher's data: 5.1, 3.5, 1.4, 0.2 cm, a setosa, with high confidence.
      const setosa = decodeTensor((await store.infer(iris.sha256, encodeTensor([5_100_000n, 3_500_000n, 1_400_000n, 200_000n]))).output);
      expect(setosa[0] > 990_000n).to.equal(true);
    });

    it("classifies real penguins as their species with integer inputs", async () => {
      const data = loadPenguins();
      let correct = 0;
      for (let i = 0; i < data.features.length; i += 10) {
        const { status, output } = await store.infer(penguins.sha256, encodeTensor(data.features[i].map(BigInt)));
        expect(status).to.equal(ResultStatus.Ok);
        if (argmax(decodeTensor(output)) === data.labels[i]) correct += 1;
      }
      expect(correct / Math.ceil(data.features.length / 10)).to.be.greaterThan(0.95);
    });

    it("forecasts a higher volatility in March 2020 than in a calm month", async () => {
      const { dates } = loadSp500Daily();
      const crash = dates.indexOf("2020-03-20");
      const calm = dates.indexOf("2017-06-30");
      const forecast = async (end: number) => {
        const { status, output } = await store.infer(vol.sha256, encodeInput(returnsWindow(end), vol));
        expect(status).to.equal(ResultStatus.Ok);
        return Number(decodeTensor(output)[0]) / 1e6;
      };
      const high = await forecast(crash);
      const low = await forecast(calm);
      expect(high).to.be.greaterThan(0.5);
      expect(low).to.be.within(0.03, 0.2);
    });
  });

  describe("inputs out of range", () => {
    it("signs InputOutOfRange with empty output instead of running the model", async () => {
      const cases: [ModelManifestEntry, bigint[]][] = [
        [iris, [5_100_000n, 3_500_000n, 1_400_000n, 20_000_001n]], // 20.000001 cm > 20
        [iris, [-1n, 3_500_000n, 1_400_000n, 200_000n]],
        [vol, [...new Array(20).fill(0n), -1_000_001n]], // a return below -100%
        [penguins, [391n, 187n, 181n, 10_001n]], // 10.001 kg
        [penguins, [391n, 187n, -1n, 3_750n]],
        [penguins, [2n ** 63n, 187n, 181n, 3_750n]], // beyond int64 too
      ];
      for (const [entry, values] of cases) {
        expect(await store.infer(entry.sha256, encodeTensor(values))).to.deep.equal({ status: ResultStatus.InputOutOfRange, output: "0x" }, entry.name);
      }
      // The bounds themselves are accepted.
      expect((await store.infer(penguins.sha256, encodeTensor([1000n, 500n, 400n, 10_000n]))).status).to.equal(ResultStatus.Ok);
      expect((await store.infer(vol.sha256, encodeTensor(new Array(21).fill(-1_000_000n)))).status).to.equal(ResultStatus.Ok);
    });

    it("rejects input bytes of the wrong length with a clear error", async () => {
      await expectRejection(store.infer(iris.sha256, encodeTensor([1n, 2n, 3n])), /3 values, the model takes 4/);
    });
  });

  describe("integrity", () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "models-"));
      for (const f of fs.readdirSync(DEFAULT_MODELS_DIR)) fs.copyFileSync(path.join(DEFAULT_MODELS_DIR, f), path.join(dir, f));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("refuses a tampered model file, naming the expected and actual hash, and loads it once repaired", async () => {
      // the cache layout: the file named by the hash it should have
      fs.renameSync(path.join(dir, iris.file), path.join(dir, iris.sha256.slice(2) + ".onnx"));
      const file = path.join(dir, iris.sha256.slice(2) + ".onnx");
      const original = fs.readFileSync(file);
      const tampered = Buffer.from(original);
      tampered[tampered.length - 5] ^= 0x01;
      fs.writeFileSync(file, tampered);
      const tamperedStore = new ModelStore({ dir });
      try {
        const err = await expectRejection(tamperedStore.infer(iris.sha256, encodeInput([5.1, 3.5, 1.4, 0.2], iris)), /refused/);
        expect(err).to.be.instanceOf(ModelHashMismatchError);
        expect(err.message).to.contain(iris.sha256).and.to.contain(sha256Hex(tampered));
        fs.writeFileSync(file, original);
        expect((await tamperedStore.infer(iris.sha256, encodeInput([5.1, 3.5, 1.4, 0.2], iris))).status).to.equal(ResultStatus.Ok);
      } finally {
        await tamperedStore.close();
      }
    });

    it("refuses a hash no file in its folder has", async () => {
      const unknown = "0x" + "ab".repeat(32);
      const err = await expectRejection(store.infer(unknown, encodeTensor([1n])), /no model file with sha256/);
      expect(err).to.be.instanceOf(UnknownModelError);
    });

    it("refuses work after close, and close is idempotent", async () => {
      const s = new ModelStore({ dir });
      expect((await s.infer(iris.sha256, encodeInput([5.1, 3.5, 1.4, 0.2], iris))).status).to.equal(ResultStatus.Ok);
      await Promise.all([s.close(), s.close()]);
      await s.close();
      const err = await expectRejection(s.infer(iris.sha256, encodeInput([5.1, 3.5, 1.4, 0.2], iris)), /closed/);
      expect(err).to.be.instanceOf(ModelStoreClosedError);
    });

    it("looks models up by hash in any letter case", async () => {
      expect((await store.infer(iris.sha256.toUpperCase().replace("0X", "0x"), encodeInput([5.1, 3.5, 1.4, 0.2], iris))).status).to.equal(ResultStatus.Ok);
    });
  });

  describe("inferMany", () => {
    it("returns results in job order across models", async () => {
      const jobs = [
        { modelHash: iris.sha256, input: encodeInput([6.3, 3.3, 6.0, 2.5], iris) },
        { modelHash: penguins.sha256, input: encodeTensor([391n, 187n, 181n, 3_750n]) },
        { modelHash: penguins.sha256, input: encodeTensor([391n, 187n, 181n, 99_999n]) },
        { modelHash: vol.sha256, input: encodeInput(new Array(21).fill(0.01), vol) },
      ];
      const results = await store.inferMany(jobs);
      expect(results.map((r) => r.status)).to.deep.equal([ResultStatus.Ok, ResultStatus.Ok, ResultStatus.InputOutOfRange, ResultStatus.Ok]);
      for (let i = 0; i < jobs.length; i++) expect(results[i]).to.deep.equal(await store.infer(jobs[i].modelHash, jobs[i].input));
      expect(argmax(decodeTensor(results[0].output))).to.equal(2); // virginica
      expect(argmax(decodeTensor(results[1].output))).to.equal(0); // Adelie
    });
  });

  describe("determinism", function () {
    this.timeout(120_000);
    const RUNS = 1_000;
    const optionSets: [string, InferenceSession.SessionOptions][] = [
      ["optimizations disabled, 1 thread", { graphOptimizationLevel: "disabled", intraOpNumThreads: 1, executionMode: "sequential" }],
      ["optimizations all, 1 thread", { graphOptimizationLevel: "all", intraOpNumThreads: 1, executionMode: "sequential" }],
      ["optimizations all, 2 threads", { graphOptimizationLevel: "all", intraOpNumThreads: 2, executionMode: "sequential" }],
      ["optimizations basic, 2 threads", { graphOptimizationLevel: "basic", intraOpNumThreads: 2, executionMode: "sequential" }],
    ];
    const inputs: [ModelManifestEntry, string][] = [
      [iris, encodeInput([5.9, 3.0, 5.1, 1.8], iris)], // iris row 149, near the versicolor/virginica border
      [vol, encodeInput(returnsWindow(loadSp500Daily().dates.indexOf("2020-03-20")), vol)],
      [penguins, encodeTensor([465n, 179n, 192n, 3_500n])], // a Chinstrap
    ];

    for (const [entry, input] of inputs) {
      it(`${entry.name}: ${RUNS} runs under each of ${optionSets.length} session settings give one output hash`, async () => {
        const hashes = new Set<string>();
        for (const [label, sessionOptions] of optionSets) {
          const s = new ModelStore({ sessionOptions });
          try {
            for (let i = 0; i < RUNS; i++) {
              const { status, output } = await s.infer(entry.sha256, input);
              expect(status, label).to.equal(ResultStatus.Ok);
              hashes.add(keccak256(output));
            }
          } finally {
            await s.close();
          }
        }
        expect([...hashes]).to.have.length(1);
      });
    }

    it("penguins-species-int equals exact BigInt arithmetic on its own weights for 2,000 random in-range inputs", async () => {
      const { wq, bq, divisor } = readPenguinWeights(path.join(DEFAULT_MODELS_DIR, penguins.file));
      const rand = prng(2024);
      const max = penguins.input.max as number[];
      for (let i = 0; i < 2_000; i++) {
        const x = max.map((m) => BigInt(Math.floor(rand() * (m + 1))));
        const expected = [0, 1, 2].map((k) => {
          let acc = bq[k];
          for (let j = 0; j < 4; j++) acc += x[j] * wq[j * 3 + k];
          return acc / divisor; // BigInt division truncates toward zero, like C++ integer division
        });
        const { status, output } = await store.infer(penguins.sha256, encodeTensor(x));
        expect(status).to.equal(ResultStatus.Ok);
        expect(decodeTensor(output)).to.deep.equal(expected);
      }
    });
  });
});

/** Awaits a promise that must reject, returning its error. */
async function expectRejection(p: Promise<unknown>, message: RegExp): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect((e as Error).message).to.match(message);
    return e as Error;
  }
  expect.fail(`expected a rejection matching ${message}`);
}

/** Reads the int64 initializers of the penguins model straight from the ONNX protobuf. */
function readPenguinWeights(file: string): { wq: bigint[]; bq: bigint[]; divisor: bigint } {
  const graph = onnx.ModelProto.decode(fs.readFileSync(file)).graph as onnx.GraphProto;
  const get = (name: string): bigint[] => {
    const t = graph.initializer.find((i) => i.name === name);
    if (!t) throw new Error(`initializer ${name} missing`);
    expect(t.dataType).to.equal(onnx.TensorProto.DataType.INT64);
    const raw = Buffer.from(t.rawData as Uint8Array);
    const out: bigint[] = [];
    for (let i = 0; i < raw.length; i += 8) out.push(raw.readBigInt64LE(i));
    return out;
  };
  const ops = graph.node.map((n) => n.opType);
  expect(ops).to.deep.equal(["MatMul", "Add", "Div"]);
  return { wq: get("Wq"), bq: get("bq"), divisor: get("divisor")[0] };
}
