import { firstBadFactor } from '../validate.js';
import { leastSquares } from './leastSquares.js';
import { uniformFill } from './uniform.js';
import { countingTranspose } from './transpose.js';
import type { BlockSelection, CosineSelection, DotSelection, HalfStep, Kernels } from './types.js';

/**
 * The plain TypeScript kernels: the reference that faster implementations are tested against.
 * Sums and solves run in float64; only the stored factors are float32.
 */

function gramian(Y: Float32Array, rows: number, f: number, regularization: number, out: Float64Array): void {
  out.fill(0);
  // lower triangle, then mirrored: half the work of the full product
  for (let r = 0; r < rows; r++) {
    const base = r * f;
    for (let a = 0; a < f; a++) {
      const ya = Y[base + a];
      if (ya === 0) continue;
      const row = a * f;
      for (let b = 0; b <= a; b++) out[row + b] += ya * Y[base + b];
    }
  }
  for (let a = 0; a < f; a++) {
    out[a * f + a] += regularization;
    for (let b = 0; b < a; b++) out[b * f + a] = out[a * f + b];
  }
}

/**
 * Solves A x = b for symmetric positive definite A (f × f, lower triangle used) by Cholesky,
 * in place: A's lower triangle becomes L, b becomes x. Returns false when A is not positive
 * definite (e.g. λ = 0 and too few observations), leaving A and b half-overwritten.
 */
export function choleskySolve(A: Float64Array, b: Float64Array, f: number): boolean {
  for (let j = 0; j < f; j++) {
    const rowJ = j * f;
    let diagonal = A[rowJ + j];
    for (let k = 0; k < j; k++) diagonal -= A[rowJ + k] * A[rowJ + k];
    if (!(diagonal > 0)) return false;
    const pivot = Math.sqrt(diagonal);
    A[rowJ + j] = pivot;
    for (let i = j + 1; i < f; i++) {
      const rowI = i * f;
      let sum = A[rowI + j];
      for (let k = 0; k < j; k++) sum -= A[rowI + k] * A[rowJ + k];
      A[rowI + j] = sum / pivot;
    }
  }
  // L z = b, then Lᵀ x = z
  for (let i = 0; i < f; i++) {
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= A[i * f + k] * b[k];
    b[i] = sum / A[i * f + i];
  }
  for (let i = f - 1; i >= 0; i--) {
    let sum = b[i];
    for (let k = i + 1; k < f; k++) sum -= A[k * f + i] * b[k];
    b[i] = sum / A[i * f + i];
  }
  return true;
}

/** A = YᵀY + λI + Yᵀ(Cᵤ − I)Y (lower triangle) and b = YᵀCᵤp(u) for row u (λ: YtY's, plus row u's when given). */
function accumulate(step: HalfStep, u: number, A: Float64Array, b: Float64Array): void {
  A.set(step.YtY);
  const rowLambda = step.rowRegularization;
  if (rowLambda !== undefined) {
    const f = step.factors;
    for (let a = 0; a < f; a++) A[a * f + a] += rowLambda[u];
  }
  b.fill(0);
  addObserved(step.Y, step.factors, step.indices, step.confidence, step.indptr[u], step.indptr[u + 1], A, b);
}

/**
 * The observed columns' part of one row's normal equations: A += Σ (cₙ − 1) yyᵀ (lower triangle)
 * and b += Σ cₙ y over entries n in [start, end), y = Y[indices[n]]. Shared with the fold-in.
 */
export function addObserved(
  Y: Float32Array,
  f: number,
  indices: Int32Array,
  confidence: Float32Array,
  start: number,
  end: number,
  A: Float64Array,
  b: Float64Array,
): void {
  for (let n = start; n < end; n++) {
    const c = confidence[n];
    const base = indices[n] * f;
    const extra = c - 1;
    for (let a = 0; a < f; a++) {
      const ya = Y[base + a];
      b[a] += c * ya;
      const scaled = extra * ya;
      const row = a * f;
      for (let k = 0; k <= a; k++) A[row + k] += scaled * Y[base + k];
    }
  }
}

function exactUpdate(step: HalfStep, start: number, end: number): void {
  const { X, factors: f } = step;
  const A = new Float64Array(f * f);
  const b = new Float64Array(f);
  for (let u = start; u < end; u++) {
    const out = u * f;
    if (step.rowRegularization !== undefined && step.indptr[u] === step.indptr[u + 1]) {
      // no observations: b = 0, so x = 0 (see HalfStep.rowRegularization)
      X.fill(0, out, out + f);
      continue;
    }
    accumulate(step, u, A, b);
    let x: Float64Array = b;
    if (!choleskySolve(A, b, f)) {
      // rare (λ = 0 with too few observations): rebuild the system, solve it the slow way
      accumulate(step, u, A, b);
      x = leastSquares(mirrorLower(A, f), b, f);
    }
    for (let a = 0; a < f; a++) X[out + a] = x[a];
  }
}

/** A with its upper triangle made the mirror of its lower one (f × f, in place). */
export function mirrorLower(A: Float64Array, f: number): Float64Array {
  for (let a = 0; a < f; a++) for (let k = 0; k < a; k++) A[k * f + a] = A[a * f + k];
  return A;
}

/** y = M v for the f × f matrix M */
function symmetricProduct(M: Float64Array, v: Float64Array, f: number, y: Float64Array): void {
  for (let a = 0; a < f; a++) {
    let sum = 0;
    const row = a * f;
    for (let k = 0; k < f; k++) sum += M[row + k] * v[k];
    y[a] = sum;
  }
}

function cgUpdate(step: HalfStep, steps: number, start: number, end: number): void {
  const { X, Y, factors: f, indptr, indices, confidence, YtY, rowRegularization } = step;
  const x = new Float64Array(f);
  const r = new Float64Array(f);
  const p = new Float64Array(f);
  const Ap = new Float64Array(f);
  for (let u = start; u < end; u++) {
    const out = u * f;
    // λᵤ added to YtY's diagonal (0 without per-row λ: then nothing is added, as before)
    const rowLambda = rowRegularization === undefined ? 0 : rowRegularization[u];
    if (rowRegularization !== undefined && indptr[u] === indptr[u + 1]) {
      X.fill(0, out, out + f);
      continue;
    }
    for (let a = 0; a < f; a++) x[a] = X[out + a];

    // residual r = YᵀCᵤp(u) − (YᵀY + λI + Yᵀ(Cᵤ − I)Y) x
    symmetricProduct(YtY, x, f, r);
    if (rowLambda !== 0) for (let a = 0; a < f; a++) r[a] += rowLambda * x[a];
    for (let a = 0; a < f; a++) r[a] = -r[a];
    for (let n = indptr[u]; n < indptr[u + 1]; n++) {
      const c = confidence[n];
      const base = indices[n] * f;
      let dot = 0;
      for (let a = 0; a < f; a++) dot += Y[base + a] * x[a];
      const weight = c - (c - 1) * dot;
      for (let a = 0; a < f; a++) r[a] += weight * Y[base + a];
    }
    let rsOld = 0;
    for (let a = 0; a < f; a++) {
      p[a] = r[a];
      rsOld += r[a] * r[a];
    }
    if (rsOld < 1e-20) continue;

    for (let it = 0; it < steps; it++) {
      // Ap = (YᵀY + λI) p + Yᵀ(Cᵤ − I)Y p, without forming the f × f matrix
      symmetricProduct(YtY, p, f, Ap);
      if (rowLambda !== 0) for (let a = 0; a < f; a++) Ap[a] += rowLambda * p[a];
      for (let n = indptr[u]; n < indptr[u + 1]; n++) {
        const base = indices[n] * f;
        let dot = 0;
        for (let a = 0; a < f; a++) dot += Y[base + a] * p[a];
        const weight = (confidence[n] - 1) * dot;
        for (let a = 0; a < f; a++) Ap[a] += weight * Y[base + a];
      }
      let pAp = 0;
      for (let a = 0; a < f; a++) pAp += p[a] * Ap[a];
      if (!(pAp > 0)) break;
      const alpha = rsOld / pAp;
      let rsNew = 0;
      for (let a = 0; a < f; a++) {
        x[a] += alpha * p[a];
        r[a] -= alpha * Ap[a];
        rsNew += r[a] * r[a];
      }
      if (rsNew < 1e-20) break;
      const beta = rsNew / rsOld;
      for (let a = 0; a < f; a++) p[a] = r[a] + beta * p[a];
      rsOld = rsNew;
    }
    for (let a = 0; a < f; a++) X[out + a] = x[a];
  }
}

function dataLoss(step: HalfStep, start: number, end: number): number {
  const { X, Y, factors: f, indptr, indices, confidence, YtY } = step;
  const x = new Float64Array(f);
  const Gx = new Float64Array(f);
  let loss = 0;
  for (let u = start; u < end; u++) {
    const out = u * f;
    for (let a = 0; a < f; a++) x[a] = X[out + a];
    // every column as if unobserved: Σᵢ (xᵀyᵢ)² = xᵀ(YᵀY)x ...
    symmetricProduct(YtY, x, f, Gx);
    for (let a = 0; a < f; a++) loss += x[a] * Gx[a];
    // ... then the observed ones corrected to c (1 − s)²
    for (let n = indptr[u]; n < indptr[u + 1]; n++) {
      const base = indices[n] * f;
      let s = 0;
      for (let a = 0; a < f; a++) s += Y[base + a] * x[a];
      loss += confidence[n] * (1 - s) * (1 - s) - s * s;
    }
  }
  return loss;
}

function scores(Y: Float32Array, rows: number, f: number, x: Float32Array, xOffset: number, out: Float32Array): void {
  for (let j = 0; j < rows; j++) {
    const base = j * f;
    let sum = 0;
    for (let a = 0; a < f; a++) sum += Y[base + a] * x[xOffset + a];
    out[j] = sum;
  }
}

function scoresBlock(
  Y: Float32Array,
  rows: number,
  f: number,
  Q: Float32Array,
  qFirst: number,
  queries: number,
  out: Float32Array,
): void {
  for (let q = 0; q < queries; q++) scores(Y, rows, f, Q, (qFirst + q) * f, out.subarray(q * rows, (q + 1) * rows));
}

function selectBlock(selection: BlockSelection): void {
  const { scores, rows, queries, k, excludeStart, exclude, norms, queryNorms, best, found, range } = selection;
  const skip = new Uint8Array(rows);
  for (let q = 0; q < queries; q++) {
    const row = scores.subarray(q * rows, (q + 1) * rows);
    if (norms !== undefined && queryNorms !== undefined) {
      for (let j = 0; j < rows; j++) {
        const denominator = queryNorms[q] * norms[j];
        row[j] = denominator > 0 ? row[j] / denominator : 0;
      }
    }
    for (let e = excludeStart[q]; e < excludeStart[q + 1]; e++)
      if (exclude[e] >= 0 && exclude[e] < rows) skip[exclude[e]] = 1;
    let min = Infinity;
    let max = -Infinity;
    for (let j = 0; j < rows; j++) {
      if (skip[j] === 1) continue;
      if (row[j] < min) min = row[j];
      if (row[j] > max) max = row[j];
    }
    const top = topK(row, k, skip);
    best.set(top, q * k);
    found[q] = top.length;
    range[2 * q] = min;
    range[2 * q + 1] = max;
    skip.fill(0);
  }
}

function cosineBlock(selection: CosineSelection): void {
  const { Y, rows, factors, queryRows, queries, scores } = selection;
  scoresBlock(Y, rows, factors, queryRows, 0, queries, scores);
  selectBlock(selection);
}

function dotBlock(selection: DotSelection): void {
  const { Y, rows, factors, queryRows, queries, scores } = selection;
  scoresBlock(Y, rows, factors, queryRows, 0, queries, scores);
  selectBlock(selection);
}

function rowNorms(Y: Float32Array, rows: number, f: number, out: Float32Array): void {
  for (let j = 0; j < rows; j++) {
    let sum = 0;
    for (let a = 0; a < f; a++) sum += Y[j * f + a] * Y[j * f + a];
    out[j] = Math.sqrt(sum);
  }
}

/** A size-k min-heap over the scores: O(n log k), no allocation per candidate. */
function topK(scores: Float32Array, k: number, skip?: Uint8Array): Int32Array {
  const heap = new Int32Array(Math.max(0, k));
  let size = 0;
  // "a ranks below b": lower score, or equal score and higher index
  const below = (a: number, b: number) => scores[a] < scores[b] || (scores[a] === scores[b] && a > b);
  const siftDown = (at: number) => {
    for (;;) {
      const left = 2 * at + 1;
      if (left >= size) return;
      const right = left + 1;
      const child = right < size && below(heap[right], heap[left]) ? right : left;
      if (!below(heap[child], heap[at])) return;
      [heap[at], heap[child]] = [heap[child], heap[at]];
      at = child;
    }
  };
  for (let i = 0; i < scores.length; i++) {
    if (skip !== undefined && skip[i] === 1) continue;
    if (Number.isNaN(scores[i])) continue;
    if (size < k) {
      let at = size++;
      heap[at] = i;
      while (at > 0) {
        const parent = (at - 1) >> 1;
        if (!below(heap[at], heap[parent])) break;
        [heap[at], heap[parent]] = [heap[parent], heap[at]];
        at = parent;
      }
    } else if (size > 0 && below(heap[0], i)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  const result = Array.from(heap.subarray(0, size));
  result.sort((a, b) => (below(a, b) ? 1 : below(b, a) ? -1 : 0));
  return Int32Array.from(result);
}

/** The reference kernels: single-threaded, on any typed arrays. */
export const jsKernels: Kernels = {
  name: 'js',
  threads: 1,
  float32: (length) => new Float32Array(length),
  int32: (length) => new Int32Array(length),
  uint8: (length) => new Uint8Array(length),
  gramian,
  exactUpdate,
  cgUpdate,
  dataLoss,
  scores,
  scoresBlock,
  selectBlock,
  cosineBlock,
  dotBlock,
  // on the calling thread, at once: a settled promise
  scoresBlockAsync: async (...args) => scoresBlock(...args),
  selectBlockAsync: async (selection) => selectBlock(selection),
  cosineBlockAsync: async (selection) => cosineBlock(selection),
  dotBlockAsync: async (selection) => dotBlock(selection),
  rowNorms,
  firstBadFactor: (values: Float32Array) => firstBadFactor(values),
  uniformFill,
  transpose: (rows, cols, indptr, indices, data) => countingTranspose(rows, cols, indptr, indices, data),
  topK,
  dispose() {},
};
