import { fitRidge } from "./linalg";
import { loadSp500Daily } from "./data";
import { type TrainedModel, metric } from "./types";
import { BATCH_DIM } from "./onnx-builder";

/** Daily returns the model reads: one trading month. */
export const VOL_WINDOW = 21;
/** Trading days the target looks ahead. */
export const VOL_HORIZON = 21;
/** Trading days per year, to annualize. */
export const TRADING_DAYS = 252;
/** Averaging horizons of the HAR features: last day, last week, last month. */
const HAR_LAGS = [1, 5, 21] as const;

/** Annualized realized volatility of returns[from, to): sqrt(252 · mean r²). */
function realizedVol(returns: readonly number[], from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += returns[i] * returns[i];
  return Math.sqrt((TRADING_DAYS * s) / (to - from));
}

/**
 * volatility-risk: a HAR-RV model (Corsi 2009) of S&P 500 volatility. From the last 21 daily
 * simple returns (oldest first) it forms the annualized realized volatility over the last 1, 5
 * and 21 days and combines them linearly (least squares) into a forecast of the annualized
 * realized volatility of the next 21 trading days. A lending or options protocol can use it to
 * set collateral factors, margins or fees from a price feed's recent history.
 *
 * The graph computes the features itself: Mul (square) → MatMul (averaging weights × 252) →
 * Sqrt → MatMul → Add → Clip(≥ 0), float32.
 */
export function trainVolatility(): TrainedModel {
  const { source, dates, closes } = loadSp500Daily();
  const returns: number[] = [];
  for (let i = 1; i < closes.length; i++) returns.push(closes[i] / closes[i - 1] - 1);
  // returns[t] is the return into day t+1 of `dates`.
  const samples: { t: number; window: number[]; har: number[]; target: number }[] = [];
  for (let t = VOL_WINDOW - 1; t + VOL_HORIZON < returns.length; t++) {
    samples.push({
      t,
      window: returns.slice(t - VOL_WINDOW + 1, t + 1),
      har: HAR_LAGS.map((k) => realizedVol(returns, t + 1 - k, t + 1)),
      target: realizedVol(returns, t + 1, t + 1 + VOL_HORIZON),
    });
  }
  // Chronological split: training targets end before the split; test targets start after it.
  const split = Math.floor(returns.length * 0.8);
  const train = samples.filter((s) => s.t + VOL_HORIZON < split);
  const test = samples.filter((s) => s.t >= split);
  const [intercept, ...coefs] = fitRidge(
    train.map((s) => s.har),
    train.map((s) => s.target),
    0,
  );
  // averaging[i][k] = 252 / lag_k for the last lag_k returns: sq · averaging = realized variance.
  const averaging: number[] = [];
  for (let i = 0; i < VOL_WINDOW; i++) for (const lag of HAR_LAGS) averaging.push(i >= VOL_WINDOW - lag ? TRADING_DAYS / lag : 0);
  // returns[t] closes on dates[t + 1]: the last training target closes on trainEnd, the first
  // held-out target return closes on testStart.
  const trainEnd = dates[train[train.length - 1].t + VOL_HORIZON + 1];
  const testStart = dates[test[0].t + 2];
  return {
    entry: {
      name: "volatility-risk",
      file: "volatility-risk.onnx",
      description:
        "Forecast of the annualized realized volatility of the next 21 trading days (0.2 = 20%) from the last 21 daily simple returns, oldest first (0.01 = +1%): a HAR-RV regression on 1-, 5- and 21-day realized volatility, fitted on S&P 500 daily closes. float32.",
      input: {
        name: "returns",
        type: "float32",
        encoding: "abi-int256",
        shape: [1, VOL_WINDOW],
        length: VOL_WINDOW,
        min: -1,
        max: 1,
        features: Array.from({ length: VOL_WINDOW }, (_, i) => `daily simple return t-${VOL_WINDOW - 1 - i}`),
      },
      output: { name: "volatility", type: "float32", shape: [1, 1], length: 1, labels: ["annualized volatility, next 21 trading days"] },
      decimals: 6,
      determinism: "float",
      dataset: {
        ...source,
        split: `chronological: training targets end on ${trainEnd}; held-out targets run from ${testStart} to ${dates[dates.length - 1]} (includes March 2020)`,
        trainRows: train.length,
        testRows: test.length,
      },
    },
    graph: {
      name: "volatility_risk",
      docString: "HAR-RV volatility forecast from 21 daily returns. Trained by scripts/build-models.ts.",
      inputs: [{ name: "returns", type: "float32", shape: [BATCH_DIM, VOL_WINDOW] }],
      outputs: [{ name: "volatility", type: "float32", shape: [BATCH_DIM, 1] }],
      initializers: [
        { name: "averaging", type: "float32", dims: [VOL_WINDOW, HAR_LAGS.length], values: averaging },
        { name: "coefs", type: "float32", dims: [HAR_LAGS.length, 1], values: coefs },
        { name: "intercept", type: "float32", dims: [1], values: [intercept] },
        { name: "zero", type: "float32", dims: [], values: [0] },
      ],
      nodes: [
        { op: "Mul", inputs: ["returns", "returns"], outputs: ["squared"] },
        { op: "MatMul", inputs: ["squared", "averaging"], outputs: ["variance"] },
        { op: "Sqrt", inputs: ["variance"], outputs: ["har"] },
        { op: "MatMul", inputs: ["har", "coefs"], outputs: ["linear"] },
        { op: "Add", inputs: ["linear", "intercept"], outputs: ["forecast"] },
        { op: "Clip", inputs: ["forecast", "zero"], outputs: ["volatility"] },
      ],
      metadata: [["task", "regression"], ["target", "annualized realized volatility, next 21 trading days"]],
    },
    heldOut: test.map((s) => s.window),
    score(outputs) {
      const n = test.length;
      let se = 0;
      let ae = 0;
      let seNaive = 0;
      let mean = 0;
      for (const s of test) mean += s.target;
      mean /= n;
      let ss = 0;
      test.forEach((s, k) => {
        const err = outputs[k][0] - s.target;
        se += err * err;
        ae += Math.abs(err);
        const naive = s.har[2] - s.target;
        seNaive += naive * naive;
        ss += (s.target - mean) * (s.target - mean);
      });
      return {
        heldOutRmse: metric(Math.sqrt(se / n)),
        heldOutMae: metric(ae / n),
        heldOutR2: metric(1 - se / ss),
        heldOutRmseNaive21d: metric(Math.sqrt(seNaive / n)),
        heldOutMeanTarget: metric(mean),
      };
    },
  };
}
