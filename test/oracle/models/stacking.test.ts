/**
 * Stacked batches: the runner runs all jobs of a batch for one model in one session.run over a
 * `[k, n]` tensor. That is sound only if a result does not depend on which other requests were
 * batched with it, so for every committed model, under the session options the runner uses
 * (ModelStore's defaults), every row of stacked batches of sizes 1..64 and some odd and large
 * sizes must equal the batch-of-one output BIT FOR BIT, over the held-out rows plus thousands of
 * random in-range inputs. If a float model ever fails this (another onnxruntime build, another
 * kernel), rebuild it with a fixed [1, n] input: the store then runs its rows one by one.
 */
import { expect } from "chai";
import * as ort from "onnxruntime-node";
import { ResultStatus } from "../../../oracle/src/protocol";
import { fromHex, toHex } from "../../../oracle/src/protocol/bytes";
import { TRAINERS } from "../../../oracle/src/models/build";
import { allocateTensor, decodeInput, encodeInput, type TensorData } from "../../../oracle/src/models/codec";
import type { ModelManifestEntry } from "../../../oracle/src/models/manifest";
import { ModelStore } from "../../../oracle/src/models/store";
import { loadManifest } from "../../../oracle/src/models/manifest";
import { prng } from "./helpers";

const SIZES = [...Array.from({ length: 64 }, (_, i) => i + 1), 97, 128, 255, 256];
const RANDOM_ROWS = 2_500;

function bound(b: number | number[] | undefined, i: number, fallback: number): number {
  return Array.isArray(b) ? b[i] : b ?? fallback;
}

/** Held-out rows of the model's trainer plus random rows inside the manifest bounds. */
function rowsFor(entry: ModelManifestEntry, rand: () => number): number[][] {
  const trained = TRAINERS.map((t) => t()).find((t) => t.entry.name === entry.name);
  const rows = trained ? trained.heldOut.map((r) => [...r]) : [];
  const integer = entry.input.type.startsWith("int");
  for (let k = 0; k < RANDOM_ROWS; k++) {
    rows.push(
      Array.from({ length: entry.input.length }, (_, i) => {
        const lo = bound(entry.input.min, i, -1);
        const hi = bound(entry.input.max, i, 1);
        // Mostly uniform; some near the edges and some tiny values.
        const u = k % 10 === 0 ? (rand() < 0.5 ? rand() * 1e-3 : 1 - rand() * 1e-3) : rand();
        const x = k % 17 === 0 ? (rand() - 0.5) * 1e-4 : lo + u * (hi - lo);
        const c = Math.min(hi, Math.max(lo, x));
        return integer ? Math.round(c) : Number(c.toFixed(entry.decimals));
      }),
    );
  }
  return rows;
}

function bytesOf(data: TensorData | Float32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

describe("models: stacked batches give every row the batch-of-one bits", function () {
  this.timeout(600_000);
  const store = new ModelStore();
  const catalogue = loadManifest();
  after(() => store.close());

  for (const entry of catalogue.models) {
    it(`${entry.name}: rows of batches of 1..64, 97, 128, 255, 256 equal batch 1, bit for bit`, async () => {
      const { session, stackable } = await store.load(entry.sha256);
      expect(stackable, `${entry.name} has a symbolic batch dimension`).to.equal(true);
      const n = entry.input.length;
      const m = entry.output.length;
      const rows = rowsFor(entry, prng(0x57ac + n));
      const inputs = rows.map((r) => fromHex(encodeInput(r, entry)));
      const data = inputs.map((b) => {
        const d = decodeInput(b, entry);
        if (d.status !== ResultStatus.Ok) throw new Error(`${entry.name}: test row refused: ${d.reason}`);
        return d.data;
      });
      const single: Uint8Array[] = [];
      for (const d of data) {
        const out = await session.run({ [entry.input.name]: new ort.Tensor(entry.input.type, d, [1, n]) });
        single.push(bytesOf(out[entry.output.name].data as Float32Array).slice());
      }
      let compared = 0;
      for (const size of SIZES) {
        // A different rotation per size, so each row meets different neighbours.
        const offset = (size * 37) % data.length;
        const order = data.map((_, i) => (i + offset) % data.length);
        for (let start = 0; start < order.length; start += size) {
          const chunk = order.slice(start, start + size);
          const stacked = allocateTensor(entry.input.type, chunk.length * n);
          chunk.forEach((row, r) => (stacked as Float32Array).set(data[row] as Float32Array, r * n));
          const out = await session.run({ [entry.input.name]: new ort.Tensor(entry.input.type, stacked, [chunk.length, n]) });
          const y = bytesOf(out[entry.output.name].data as Float32Array);
          const width = y.length / (chunk.length * m);
          chunk.forEach((row, r) => {
            const got = y.subarray(r * m * width, (r + 1) * m * width);
            if (Buffer.compare(got, single[row]) !== 0) expect.fail(`${entry.name}: row ${row} in a batch of ${chunk.length} differs from batch 1`);
            compared++;
          });
        }
      }
      expect(compared).to.equal(SIZES.length * data.length);
    });

    it(`${entry.name}: ModelStore.inferStacked equals infer per input, refused inputs included`, async () => {
      const rand = prng(99 + entry.input.length);
      const rows = rowsFor(entry, rand).slice(0, 300);
      const inputs = rows.map((r, k) => {
        // out of range (for a packed encoding, below the minimum: above would not fit the encoding)
        const outside = (i: number) => (entry.input.encoding === "abi-int256" ? bound(entry.input.max, i, 1) * 4 + 1 : bound(entry.input.min, i, 0) - 1);
        if (k % 23 === 5) r = r.map((x, i) => (i === k % r.length ? outside(i) : x));
        return fromHex(encodeInput(r, entry));
      });
      for (const size of [1, 7, 50, 64, 300]) {
        for (let start = 0; start < inputs.length; start += size) {
          const chunk = inputs.slice(start, start + size);
          const stacked = await store.inferStacked(entry.sha256, chunk);
          for (let i = 0; i < chunk.length; i++) {
            const one = await store.infer(entry.sha256, chunk[i]);
            expect(stacked[i].status).to.equal(one.status);
            expect(toHex(stacked[i].output)).to.equal(one.output);
          }
        }
      }
      expect(inputs.some((_, k) => k % 23 === 5)).to.equal(true);
    });
  }

  it("throws InputEncodingError for a non-canonical or wrong-length input in a stack", async () => {
    const iris = catalogue.models.find((m) => m.name === "iris-classifier")!;
    const good = fromHex(encodeInput([5.1, 3.5, 1.4, 0.2], iris));
    await store.inferStacked(iris.sha256, [good, good]);
    let err: unknown;
    try {
      await store.inferStacked(iris.sha256, [good, good.subarray(0, 64 + 32 * 3)]);
    } catch (e) {
      err = e;
    }
    expect((err as Error)?.name).to.equal("InputEncodingError");
  });
});
