import { fitLda } from "./linalg";
import { loadPenguins } from "./data";
import { type TrainedModel, classifierAccuracy, stratifiedSplit } from "./types";
import { BATCH_DIM } from "./onnx-builder";

/** Weight scale of the quantized model: weights are integers in millionths of a score unit per input unit. */
export const PENGUINS_WEIGHT_SCALE = 1_000_000;
/** The integer scores are divided (truncating toward zero) by this, so outputs are in thousandths. */
export const PENGUINS_OUTPUT_DIVISOR = 1_000;

const MIN = [0, 0, 0, 0];
const MAX = [1000, 500, 400, 10000];

/**
 * penguins-species-int: linear discriminant analysis of Palmer penguins, quantized to an
 * integer-only graph (int64 MatMul → Add → Div). Input: bill length and depth in 0.1 mm,
 * flipper length in mm, body mass in g, all integers; output: three integer class scores in
 * thousandths (1000 × the LDA score); the species is the index of the greatest score.
 * Integer arithmetic has one correct answer, so every CPU gives the same bits.
 */
export function trainPenguins(): TrainedModel {
  const { source, features, labels, classes } = loadPenguins();
  const { train, test } = stratifiedSplit(labels);
  const { weights, biases } = fitLda(
    train.map((i) => features[i]),
    train.map((i) => labels[i]),
    classes.length,
  );
  const wq = weights.map((row) => row.map((w) => Math.round(w * PENGUINS_WEIGHT_SCALE)));
  const bq = biases.map((b) => Math.round(b * PENGUINS_WEIGHT_SCALE));
  // The manifest's input bounds keep every partial sum far inside int64.
  for (let k = 0; k < classes.length; k++) {
    let worst = Math.abs(bq[k]);
    for (let j = 0; j < MAX.length; j++) worst += Math.abs(wq[j][k]) * Math.max(Math.abs(MIN[j]), Math.abs(MAX[j]));
    if (!(worst < 2 ** 53)) throw new Error(`penguins-species-int: class ${k} score bound ${worst} is too large`);
  }
  return {
    entry: {
      name: "penguins-species-int",
      file: "penguins-species-int.onnx",
      description:
        "Palmer penguin species from bill length, bill depth (0.1 mm), flipper length (mm) and body mass (g): linear discriminant analysis quantized to int64 weights, integer-only graph (MatMul, Add, Div), bit-exact on any CPU. Output: integer class scores in thousandths for Adelie, Chinstrap, Gentoo; the greatest wins.",
      input: {
        name: "measurements",
        type: "int64",
        encoding: "abi-int256",
        shape: [1, 4],
        length: 4,
        min: MIN,
        max: MAX,
        features: ["bill length (0.1 mm)", "bill depth (0.1 mm)", "flipper length (mm)", "body mass (g)"],
      },
      output: { name: "scores", type: "int64", shape: [1, 3], length: 3, labels: classes },
      decimals: 0,
      determinism: "bit-exact",
      dataset: {
        ...source,
        split: "complete rows only; stratified by species: every fifth row of each species held out",
        trainRows: train.length,
        testRows: test.length,
      },
    },
    graph: {
      name: "penguins_species_int",
      docString: "Quantized Palmer penguins LDA; integer-only. Trained by scripts/build-models.ts.",
      inputs: [{ name: "measurements", type: "int64", shape: [BATCH_DIM, 4] }],
      outputs: [{ name: "scores", type: "int64", shape: [BATCH_DIM, 3] }],
      initializers: [
        { name: "Wq", type: "int64", dims: [4, 3], values: wq.flat() },
        { name: "bq", type: "int64", dims: [3], values: bq },
        { name: "divisor", type: "int64", dims: [], values: [PENGUINS_OUTPUT_DIVISOR] },
      ],
      nodes: [
        { op: "MatMul", inputs: ["measurements", "Wq"], outputs: ["acc"] },
        { op: "Add", inputs: ["acc", "bq"], outputs: ["acc_biased"] },
        { op: "Div", inputs: ["acc_biased", "divisor"], outputs: ["scores"] },
      ],
      metadata: [["task", "classification"], ["labels", classes.join(",")], ["weight_scale", String(PENGUINS_WEIGHT_SCALE)], ["output_divisor", String(PENGUINS_OUTPUT_DIVISOR)]],
    },
    heldOut: test.map((i) => features[i]),
    score: (outputs) =>
      classifierAccuracy(outputs, labels, { train, test }, features, (row) => [0, 1, 2].map((k) => row.reduce((acc, x, j) => acc + x * wq[j][k], bq[k]))),
  };
}
