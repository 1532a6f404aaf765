import type { ModelManifestEntry } from "../manifest";
import type { GraphSpec } from "./onnx-builder";

/** What a trainer hands to the build: the graph, its manifest entry, and its held-out rows. */
export interface TrainedModel {
  /** The manifest entry, less what the build computes (file hash and held-out metrics). */
  entry: Omit<ModelManifestEntry, "sha256" | "metrics">;
  graph: GraphSpec;
  /** Held-out rows as real input values (integers for integer models). */
  heldOut: number[][];
  /**
   * Metrics from the decoded model outputs (real values, v / 10^decimals) of the held-out rows,
   * in the order of `heldOut`. Metrics that need no model run (e.g. baselines) may be included.
   */
  score(outputs: number[][]): Record<string, number | string>;
}

/** Rounds a metric to 6 decimal places (Number#toFixed is exactly specified, so stable). */
export function metric(x: number): number {
  return Number(x.toFixed(6));
}

/** Index of the first greatest element. */
export function argmax(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/**
 * Deterministic stratified split: within each class, every fifth row (positions 4, 9, 14, …)
 * is held out. No random numbers, so the split is the same on every machine.
 */
export function stratifiedSplit(labels: readonly number[]): { train: number[]; test: number[] } {
  const seen = new Map<number, number>();
  const train: number[] = [];
  const test: number[] = [];
  labels.forEach((label, i) => {
    const position = seen.get(label) ?? 0;
    seen.set(label, position + 1);
    (position % 5 === 4 ? test : train).push(i);
  });
  return { train, test };
}

/**
 * Accuracy of an integer classifier: held out from the model's decoded outputs, on the training
 * rows from the same integer scores computed in JS (`scores(row)`), both rounded by {@link metric}.
 */
export function classifierAccuracy(
  outputs: number[][], labels: readonly number[], split: { train: number[]; test: number[] }, features: readonly number[][], scores: (row: readonly number[]) => number[],
): { heldOutAccuracy: number; trainAccuracy: number } {
  let correct = 0;
  outputs.forEach((s, k) => {
    if (argmax(s) === labels[split.test[k]]) correct += 1;
  });
  let trainCorrect = 0;
  for (const i of split.train) if (argmax(scores(features[i])) === labels[i]) trainCorrect += 1;
  return { heldOutAccuracy: metric(correct / split.test.length), trainAccuracy: metric(trainCorrect / split.train.length) };
}
