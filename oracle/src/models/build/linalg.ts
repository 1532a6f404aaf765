/**
 * The little linear algebra the trainers need, in plain JS doubles with a fixed operation order.
 * Only +, -, *, / and Math.sqrt are used: IEEE 754 rounds each of them correctly, and V8 never
 * fuses a multiply and an add, so every machine computes the same bits. No Math.exp/log here.
 */

export type Matrix = number[][];

/** Column means of the rows. */
export function columnMeans(rows: readonly (readonly number[])[]): number[] {
  const n = rows.length;
  const sums = new Array<number>(rows[0].length).fill(0);
  for (const row of rows) for (let j = 0; j < row.length; j++) sums[j] += row[j];
  return sums.map((s) => s / n);
}

/**
 * Solves A·X = B for X (A square, B with one or more columns) by Gaussian elimination with
 * partial pivoting. The pivot choice is deterministic (first largest magnitude). Throws on a
 * singular matrix.
 */
export function solve(a: Matrix, b: Matrix): Matrix {
  const n = a.length;
  const m = a.map((row) => [...row]);
  const x = b.map((row) => [...row]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    if (m[pivot][col] === 0) throw new Error("singular matrix");
    [m[col], m[pivot]] = [m[pivot], m[col]];
    [x[col], x[pivot]] = [x[pivot], x[col]];
    for (let r = col + 1; r < n; r++) {
      const f = m[r][col] / m[col][col];
      for (let c = col; c < n; c++) m[r][c] -= f * m[col][c];
      for (let c = 0; c < x[r].length; c++) x[r][c] -= f * x[col][c];
    }
  }
  for (let col = n - 1; col >= 0; col--) {
    for (let c = 0; c < x[col].length; c++) {
      let s = x[col][c];
      for (let k = col + 1; k < n; k++) s -= m[col][k] * x[k][c];
      x[col][c] = s / m[col][col];
    }
  }
  return x;
}

/**
 * Pooled within-class covariance of labelled rows (divisor n − classes), as used by linear
 * discriminant analysis.
 */
export function pooledCovariance(rows: readonly (readonly number[])[], labels: readonly number[], means: readonly (readonly number[])[]): Matrix {
  const d = rows[0].length;
  const cov: Matrix = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  rows.forEach((row, i) => {
    const mu = means[labels[i]];
    for (let p = 0; p < d; p++) for (let q = 0; q < d; q++) cov[p][q] += (row[p] - mu[p]) * (row[q] - mu[q]);
  });
  const dof = rows.length - means.length;
  return cov.map((r) => r.map((v) => v / dof));
}

/**
 * Linear discriminant analysis with equal class priors. Returns per-class weights and biases
 * such that score_k(x) = Σ_j x_j·weights[j][k] + biases[k] is the class log-likelihood up to a
 * term common to all classes; softmax of the scores is the posterior under the LDA model.
 */
export function fitLda(rows: readonly (readonly number[])[], labels: readonly number[], classes: number): { weights: Matrix; biases: number[] } {
  const means = Array.from({ length: classes }, (_, k) => columnMeans(rows.filter((_, i) => labels[i] === k)));
  const cov = pooledCovariance(rows, labels, means);
  // Columns of Σ⁻¹·[μ_0 … μ_K−1]: one solve with K right-hand sides.
  const rhs = cov.map((_, j) => means.map((mu) => mu[j]));
  const weights = solve(cov, rhs);
  const biases = means.map((mu, k) => {
    let s = 0;
    for (let j = 0; j < mu.length; j++) s += mu[j] * weights[j][k];
    return -0.5 * s;
  });
  return { weights, biases };
}

/** Ridge regression with an intercept (not penalized): returns [intercept, ...coefficients]. */
export function fitRidge(features: readonly (readonly number[])[], targets: readonly number[], lambda: number): number[] {
  const d = features[0].length + 1;
  const xtx: Matrix = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  const xty: Matrix = Array.from({ length: d }, () => [0]);
  features.forEach((f, i) => {
    const row = [1, ...f];
    for (let p = 0; p < d; p++) {
      xty[p][0] += row[p] * targets[i];
      for (let q = 0; q < d; q++) xtx[p][q] += row[p] * row[q];
    }
  });
  for (let p = 1; p < d; p++) xtx[p][p] += lambda * features.length;
  return solve(xtx, xty).map((r) => r[0]);
}
