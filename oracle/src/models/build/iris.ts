import { fitLda } from "./linalg";
import { loadIris } from "./data";
import { type TrainedModel, argmax, metric, stratifiedSplit } from "./types";
import { BATCH_DIM } from "./onnx-builder";

/**
 * iris-classifier: linear discriminant analysis (closed form: class means and the pooled
 * covariance, one linear solve) with equal priors, exported as MatMul → Add → Softmax in float32.
 * Input: the four measurements in cm; output: the probabilities of setosa, versicolor, virginica.
 */
export function trainIris(): TrainedModel {
  const { source, features, labels, classes } = loadIris();
  const { train, test } = stratifiedSplit(labels);
  const { weights, biases } = fitLda(
    train.map((i) => features[i]),
    train.map((i) => labels[i]),
    classes.length,
  );
  const featureNames = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"];
  return {
    entry: {
      name: "iris-classifier",
      file: "iris-classifier.onnx",
      description:
        "Iris species from four flower measurements: linear discriminant analysis (equal priors) with a softmax over the three class scores, float32. Output: probabilities of setosa, versicolor, virginica.",
      input: { name: "features", type: "float32", shape: [1, 4], length: 4, encoding: "abi-int256", min: 0, max: 20, features: featureNames },
      output: { name: "probabilities", type: "float32", shape: [1, 3], length: 3, labels: classes },
      decimals: 6,
      determinism: "float",
      dataset: {
        ...source,
        split: "stratified by species: every fifth row of each species held out",
        trainRows: train.length,
        testRows: test.length,
      },
    },
    graph: {
      name: "iris_classifier",
      docString: "Iris LDA classifier (softmax over linear discriminant scores). Trained by scripts/build-models.ts.",
      inputs: [{ name: "features", type: "float32", shape: [BATCH_DIM, 4] }],
      outputs: [{ name: "probabilities", type: "float32", shape: [BATCH_DIM, 3] }],
      initializers: [
        { name: "W", type: "float32", dims: [4, 3], values: weights.flat() },
        { name: "b", type: "float32", dims: [3], values: biases },
      ],
      nodes: [
        { op: "MatMul", inputs: ["features", "W"], outputs: ["scores_raw"] },
        { op: "Add", inputs: ["scores_raw", "b"], outputs: ["scores"] },
        { op: "Softmax", inputs: ["scores"], outputs: ["probabilities"], attributes: { axis: { int: -1 } } },
      ],
      metadata: [["task", "classification"], ["labels", classes.join(",")]],
    },
    heldOut: test.map((i) => features[i]),
    score(outputs) {
      let correct = 0;
      let trueProb = 0;
      outputs.forEach((p, k) => {
        const label = labels[test[k]];
        if (argmax(p) === label) correct += 1;
        trueProb += p[label];
      });
      return {
        heldOutAccuracy: metric(correct / test.length),
        heldOutMeanTrueClassProbability: metric(trueProb / test.length),
      };
    },
  };
}
