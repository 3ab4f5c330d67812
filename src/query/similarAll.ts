import { createWriteStream, promises as fs } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { AlsError } from '../errors.js';
import { defaultQueryKernels, type Kernels } from '../kernels/index.js';
import type { AlsModel } from '../model/model.js';
import { checkMinListeners, DEFAULT_MIN_LISTENERS, itemListeners } from './listeners.js';
import { describeWriteError, field } from './recommendAll.js';
import { minMaxScale } from './scale.js';
import { queryScratch } from './scratch.js';
import { itemNorms, type SimilarOptions } from './similar.js';

export type SimilarAllOptions = Pick<SimilarOptions, 'count' | 'minListeners' | 'kernels'>;

/**
 * The items that may be listed as neighbours, their factor rows copied together so that each
 * query scores only them (on Last.fm data most items have one or two listeners, so the filter
 * also makes --all cheaper), with scratch arrays of their number.
 */
interface Candidates {
  minListeners: number;
  count: number;
  /** item row of each candidate, ascending (ties in top-k still go to the lower item row) */
  rows: Int32Array;
  /** candidate slot of each item row, −1 when left out */
  slot: Int32Array;
  factors: Float32Array;
  norms: Float32Array;
  scores: Float32Array;
  skip: Uint8Array;
}

// kernel memory is never freed: the compacted rows are kept for the next run on the same model
const cache = new WeakMap<Kernels, WeakMap<Float32Array, Candidates>>();

function candidates(model: AlsModel, minListeners: number, kernels: Kernels): Candidates {
  const { itemFactors: Y, items, factors: f } = model;
  let perModel = cache.get(kernels);
  if (perModel === undefined) cache.set(kernels, (perModel = new WeakMap()));
  const cached = perModel.get(Y);
  if (cached !== undefined && cached.minListeners === minListeners) return cached;

  const norms = itemNorms(model, kernels);
  const listeners = minListeners > 1 ? itemListeners(model) : null;
  const slot = new Int32Array(items);
  let count = 0;
  for (let i = 0; i < items; i++) slot[i] = listeners === null || listeners[i] >= minListeners ? count++ : -1;
  const rows = new Int32Array(count);
  for (let i = 0; i < items; i++) if (slot[i] >= 0) rows[slot[i]] = i;

  let result: Candidates;
  if (count === items) {
    const { scores, skip } = queryScratch(kernels, items);
    result = { minListeners, count, rows, slot, factors: Y, norms, scores, skip };
  } else {
    const factors = kernels.float32(count * f);
    const compactNorms = new Float32Array(count);
    for (let c = 0; c < count; c++) {
      factors.set(Y.subarray(rows[c] * f, rows[c] * f + f), c * f);
      compactNorms[c] = norms[rows[c]];
    }
    result = { minListeners, count, rows, slot, factors, norms: compactNorms, scores: kernels.float32(count), skip: kernels.uint8(count) };
  }
  perModel.set(Y, result);
  return result;
}

export interface SimilarAllSummary {
  /** query items (every item of the model) */
  items: number;
  lines: number;
  minListeners: number;
  /** items never listed as a neighbour for having fewer listeners */
  leftOut: number;
}

/**
 * Writes `item \t similar item \t score` lines for every item of the model, best first within an
 * item, scores min-max scaled over the item's candidates as in similarTo (the same numbers),
 * to a temporary file renamed to `path` at the end. Neighbours need `minListeners` listeners;
 * query items may have any number.
 */
export async function writeAllSimilar(
  model: AlsModel,
  path: string,
  options: SimilarAllOptions = {},
  onProgress?: (items: number, total: number) => void,
): Promise<SimilarAllSummary> {
  const minListeners = checkMinListeners(options.minListeners ?? DEFAULT_MIN_LISTENERS);
  const k = options.count ?? 10;
  const kernels = options.kernels ?? defaultQueryKernels();
  const { itemFactors: Y, items, factors: f } = model;
  // model errors (a corrupt file read on first use) come before the output file is opened
  const { count, rows, slot, factors, norms, scores, skip } = candidates(model, minListeners, kernels);
  const queryNorms = itemNorms(model, kernels);
  const names = model.itemNames.map(field);
  const temporary = `${path}.tmp-${process.pid}`;
  const out = createWriteStream(temporary);
  const opened = once(out, 'open');
  // a write error (a full disk) can come while no one awaits the stream; kept to be thrown below
  let failure: unknown;
  out.on('error', (error) => (failure ??= error));
  let lines = 0;
  try {
    await opened;
    let text = '';
    for (let i = 0; i < items; i++) {
      // cosineScores and scoreRange in one pass (half the time of two on this path): the same
      // float32 numbers, so the lines agree with similarTo's
      kernels.scores(factors, count, f, Y, i * f, scores);
      const queryNorm = queryNorms[i];
      const own = slot[i];
      let min = Infinity;
      let max = -Infinity;
      for (let j = 0; j < count; j++) {
        const denominator = queryNorm * norms[j];
        const s = Math.fround(denominator > 0 ? scores[j] / denominator : 0);
        scores[j] = s;
        if (j === own) continue;
        if (s < min) min = s;
        if (s > max) max = s;
      }
      const range = { min, max };
      if (own >= 0) skip[own] = 1;
      const best = kernels.topK(scores, k, skip);
      if (own >= 0) skip[own] = 0;
      const name = names[i];
      for (let n = 0; n < best.length; n++) {
        const c = best[n];
        text += `${name}\t${names[rows[c]]}\t${minMaxScale(scores[c], range).toFixed(6)}\n`;
      }
      lines += best.length;
      // fewer, larger writes: one item's lines are a few hundred bytes
      if (text.length >= 1 << 16) {
        if (!out.write(text)) await once(out, 'drain');
        text = '';
        if (failure !== undefined) throw failure;
      }
      if ((i & 63) === 0) onProgress?.(i, items);
    }
    out.end(text);
    await finished(out);
    await fs.rename(temporary, path);
  } catch (error) {
    out.destroy();
    await fs.rm(temporary, { force: true });
    throw new AlsError('output', describeWriteError(path, error), { cause: error });
  }
  onProgress?.(items, items);
  return { items, lines, minListeners, leftOut: items - count };
}
