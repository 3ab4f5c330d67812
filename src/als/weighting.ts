import type { CsrMatrix } from '../data/sparse.js';
import { AlsError, type AlsErrorCode } from '../errors.js';
import { MAX_ALPHA, MAX_BM25_K1, WEIGHTINGS, type Weighting } from './options.js';
import { checkArray, checkCsr, checkOptions, num, valueForMessage } from '../validate.js';

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
export function confidences(plays: CsrMatrix, options: WeightingOptions, out?: Float32Array): Float32Array {
  // `out` defaults here, not in the signature: a default there reads plays.data before plays is checked
  checkCsr('plays', plays);
  checkWeightingOptions(options);
  if (out === undefined) out = new Float32Array(plays.data.length);
  checkArray('out', out, Float32Array, plays.data.length);
  weigh(plays, options, out);
  checkConfidences(out, plays.data, options, 'usage');
  return out;
}

/** Whole counts below this take ln(1 + r) from a table (logOnePlus). */
const LOG_TABLE_SIZE = 1 << 16;
let logTable: Float64Array | null = null;

/**
 * ln(1 + r), the very number Math.log1p gives: most play counts are small whole numbers, whose
 * values come from a table made once with Math.log1p itself (17.5M counts of the Last.fm 360K
 * shape: 0.29 s of calls, against tens of milliseconds of lookups).
 */
export function logOnePlus(r: number): number {
  if (r > 0 && r < LOG_TABLE_SIZE && (r | 0) === r) {
    if (logTable === null) {
      logTable = new Float64Array(LOG_TABLE_SIZE);
      for (let c = 0; c < LOG_TABLE_SIZE; c++) logTable[c] = Math.log1p(c);
    }
    return logTable[r];
  }
  return Math.log1p(r);
}

/** confidences without the checks of the public edge (for callers that checked already). */
export function weigh(
  plays: CsrMatrix,
  options: WeightingOptions,
  out: Float32Array = new Float32Array(plays.data.length),
): Float32Array {
  const { alpha } = options;
  if (options.weighting === 'linear') {
    for (let n = 0; n < out.length; n++) out[n] = 1 + alpha * plays.data[n];
  } else if (options.weighting === 'log') {
    for (let n = 0; n < out.length; n++) out[n] = 1 + alpha * logOnePlus(plays.data[n]);
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

function checkWeightingOptions(options: WeightingOptions): void {
  checkOptions('options', options);
  if (!WEIGHTINGS.includes(options.weighting)) {
    throw new AlsError(
      'usage',
      `options.weighting must be one of ${WEIGHTINGS.join(', ')}, not ${valueForMessage(options.weighting)}`,
    );
  }
  // the ranges of resolveTrainOptions, so that the library and training take the same values
  const limits = { alpha: MAX_ALPHA, bm25K1: MAX_BM25_K1, bm25B: 1 } as const;
  for (const [key, max] of Object.entries(limits) as [keyof typeof limits, number][]) {
    const value = options[key];
    if (typeof value !== 'number' || !(value >= 0 && value <= max)) {
      throw new AlsError(
        'usage',
        `options.${key} must be a number from 0 to ${num(max)}, not ${valueForMessage(value)}`,
      );
    }
  }
}

/**
 * The largest confidence c = 1 + α·w(r) training takes. Measured (issue 9) by training the Last.fm
 * sample (1,892 users, 17,620 items, f = 16, λ = 10, linear weighting) with its counts scaled so
 * that the largest confidence is C, on the float32 WebAssembly kernels and on the float64
 * reference kernels, and comparing every 7th user's top 10:
 *   C        1.4e7  1e8   1e9   1e10  1e11  1e12  1e14
 *   CG agree 0.93   0.82  0.80  0.78  0.58  0.13  0.01   (0.94 at the sample's own counts)
 * One count of C among normal counts: the same collapse from 1e15 on; CG's r·r overflows float32
 * from about 1e20 (NaN factors), the exact solver's float32 factors lose every ranking from 1e25.
 * 1e9 keeps a factor of 100 below the collapse and far above any real setting (the sample's
 * largest count, 352,698 plays, with linear α = 40 gives 1.4e7).
 */
export const MAX_CONFIDENCE = 1e9;

/** checkConfidences' `what` for the plays of a fold-in (foldIn.ts), whose advice differs. */
export const FOLDED_COUNT = 'the play count';

/**
 * Throws AlsError(`code`) when a confidence is above MAX_CONFIDENCE (or not a number), naming
 * the count and the α that made it and what to change. `counts` are the play counts the
 * confidences were made from, entry for entry; `what` names where they came from.
 */
export function checkConfidences(
  confidence: Float32Array,
  counts: Float32Array,
  options: WeightingOptions,
  code: AlsErrorCode = 'input',
  what = 'the count',
): void {
  for (let n = 0; n < confidence.length; n++) {
    const c = confidence[n];
    if (c <= MAX_CONFIDENCE) continue;
    const w = (c - 1) / options.alpha;
    const alphaLimit = Number.isFinite(w) && w > 0 ? (MAX_CONFIDENCE - 1) / w : 0;
    const lowerAlpha = `lower alpha to at most ${num(Number(alphaLimit.toPrecision(2)))}`;
    let fixes: string[];
    if (what === FOLDED_COUNT) {
      // a fold-in: the model's α is fixed, the listed count is what the caller can change
      const countLimit =
        options.weighting === 'linear'
          ? `give at most ${num(Number(((MAX_CONFIDENCE - 1) / options.alpha).toPrecision(2)))} plays`
          : 'give fewer plays';
      fixes = [countLimit, `or train the model with a lower alpha`];
    } else {
      fixes = [lowerAlpha];
      if (options.weighting !== 'log')
        fixes.push(options.weighting === 'bm25' ? 'lower bm25K1' : 'use weighting log', 'or cap the counts');
    }
    throw new AlsError(
      code,
      `${what} ${num(counts[n])} with alpha ${num(options.alpha)} and weighting ${options.weighting} gives the confidence 1 + α·w(r) = ${num(Number(c.toPrecision(3)))}, ` +
        `above the ${num(MAX_CONFIDENCE)} that training's float32 arithmetic carries; ${fixes.join(', ')}`,
    );
  }
}
