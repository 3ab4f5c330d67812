import { listenerCountsKnown } from './listeners.js';
import type { Kernels } from '../kernels/index.js';

/** The item rows a similar query may list under a minimum listener count, and where each sits. */
export interface CandidateRows {
  count: number;
  /** item row of each candidate slot, ascending (ties in top-k still go to the lower item row) */
  rows: Int32Array;
  /** candidate slot of each item row, −1 when left out */
  slot: Int32Array;
}

/**
 * The items with at least `minListeners` listeners, in row order. A minimum of 1 filters
 * nothing, not even an item without listeners (as rankSimilarToRow), and neither does any minimum on
 * a model whose listener counts are unknown (listenerCountsKnown).
 */
export function candidateRows(itemUserCounts: Int32Array, minListeners: number): CandidateRows {
  const items = itemUserCounts.length;
  const slot = new Int32Array(items);
  let count = 0;
  const all = minListeners <= 1 || !listenerCountsKnown(itemUserCounts);
  for (let i = 0; i < items; i++) slot[i] = all || itemUserCounts[i] >= minListeners ? count++ : -1;
  const rows = new Int32Array(count);
  for (let i = 0; i < items; i++) if (slot[i] >= 0) rows[slot[i]] = i;
  return { count, rows, slot };
}

/**
 * The candidates' factor rows and norms, contiguous so that a block scores only them: `Y` and
 * `norms` themselves when every item is a candidate, a prefix of them when the candidates are
 * the first rows (a served model puts them there), else a copy in kernel memory.
 */
export function candidateFactors(
  kernels: Kernels,
  Y: Float32Array,
  factors: number,
  norms: Float32Array,
  { count, rows }: CandidateRows,
): { factors: Float32Array; norms: Float32Array } {
  const f = factors;
  if (count === norms.length) return { factors: Y, norms };
  if (count > 0 && rows[count - 1] === count - 1)
    return { factors: Y.subarray(0, count * f), norms: norms.subarray(0, count) };
  const compact = kernels.float32(Math.max(1, count * f));
  const compactNorms = kernels.float32(Math.max(1, count));
  for (let c = 0; c < count; c++) {
    compact.set(Y.subarray(rows[c] * f, rows[c] * f + f), c * f);
    compactNorms[c] = norms[rows[c]];
  }
  return { factors: compact, norms: compactNorms };
}
