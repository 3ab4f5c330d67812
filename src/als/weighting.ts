import type { CsrMatrix } from '../data/sparse.js';
import type { Weighting } from './options.js';

export interface WeightingOptions {
  weighting: Weighting;
  alpha: number;
  bm25K1: number;
  bm25B: number;
}

/**
 * Confidences c = 1 + α·w(r) for every stored entry of the users × items play counts r
 * (Hu, Koren & Volinsky 2008, eq. 1 has w(r) = r; section 4 suggests a log scale):
 *   linear  w = r
 *   log     w = ln(1 + r)
 *   bm25    w = BM25 of r, treating each item as a document whose terms are its listeners (as
 *           in the `implicit` library's Last.fm example): heavy listeners count for less (idf)
 *           and plays saturate (K1) relative to the item's total plays (B).
 * The preference is 1 wherever r > 0, so only c is stored; the sparsity pattern is r's.
 */
export function confidences(
  plays: CsrMatrix,
  options: WeightingOptions,
  out: Float32Array = new Float32Array(plays.data.length),
): Float32Array {
  const { alpha } = options;
  if (options.weighting === 'linear') {
    for (let n = 0; n < out.length; n++) out[n] = 1 + alpha * plays.data[n];
  } else if (options.weighting === 'log') {
    for (let n = 0; n < out.length; n++) out[n] = 1 + alpha * Math.log1p(plays.data[n]);
  } else {
    const w = bm25(plays, options.bm25K1, options.bm25B);
    for (let n = 0; n < out.length; n++) out[n] = 1 + alpha * w[n];
  }
  return out;
}

function bm25(plays: CsrMatrix, K1: number, B: number): Float64Array {
  const { rows: users, cols: items, indptr, indices, data } = plays;
  const itemTotals = new Float64Array(items);
  for (let n = 0; n < data.length; n++) itemTotals[indices[n]] += data[n];
  let average = 0;
  for (let i = 0; i < items; i++) average += itemTotals[i];
  average /= items;

  const w = new Float64Array(data.length);
  for (let u = 0; u < users; u++) {
    const itemsOfUser = indptr[u + 1] - indptr[u];
    // clamped: a user who played (almost) every item would otherwise get a negative weight
    const idf = Math.max(0, Math.log(items) - Math.log1p(itemsOfUser));
    for (let n = indptr[u]; n < indptr[u + 1]; n++) {
      const lengthNorm = 1 - B + (B * itemTotals[indices[n]]) / average;
      const r = data[n];
      w[n] = ((r * (K1 + 1)) / (K1 * lengthNorm + r)) * idf;
    }
  }
  return w;
}
