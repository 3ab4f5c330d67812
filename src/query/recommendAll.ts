import { availableParallelism } from 'node:os';
import { checkTsvNames } from '../data/tsvNames.js';
import { checkBoolean, checkCount, checkKernels, checkModel, checkOptions, checkOutput } from '../validate.js';
import { writeOutput, type OutputTarget } from '../data/writeFile.js';
import { createWasmKernels, type Kernels } from '../kernels/index.js';
import type { AlsModel } from '../model/model.js';
import type { RecommendOptions } from './recommend.js';
import { minMaxScale } from './scale.js';
import { quantizeProductRows, type ProductRows } from '../kernels/quantize.js';

/**
 * Queries scored together: each item row is read from memory once per block instead of once
 * per query (at 292K items × 64 factors: 1.4 ms per query instead of 2.5 on one thread; 8 gave
 * nearly the same, 4 a little less). The block's scores take QUERY_BLOCK × items floats.
 */
export const QUERY_BLOCK = 16;

/** The arrays of one block of queries (kernel memory is never freed: kept per kernels). */
export interface BlockScratch {
  items: number;
  k: number;
  scores: Float32Array;
  excludeStart: Int32Array;
  best: Int32Array;
  found: Int32Array;
  range: Float32Array;
}

const blocks = new WeakMap<Kernels, BlockScratch[]>();

/**
 * The arrays of one block of queries for `items` rows and `k` best, made once per kernels and
 * kept (grown when a call needs more); `slot` 1 is a second set, for a block whose lines are
 * written while the next one is scored.
 */
export function blockScratch(kernels: Kernels, items: number, k: number, slot: 0 | 1 = 0): BlockScratch {
  let slots = blocks.get(kernels);
  if (slots === undefined) blocks.set(kernels, (slots = []));
  let scratch = slots[slot];
  if (scratch === undefined || scratch.items < items || scratch.k < k) {
    const size = Math.max(items, scratch?.items ?? 0);
    const most = Math.max(k, scratch?.k ?? 0, 1);
    scratch = {
      items: size,
      k: most,
      scores: kernels.float32(QUERY_BLOCK * size),
      excludeStart: kernels.int32(QUERY_BLOCK + 1),
      best: kernels.int32(QUERY_BLOCK * most),
      found: kernels.int32(QUERY_BLOCK),
      range: kernels.float32(2 * QUERY_BLOCK),
    };
    slots[slot] = scratch;
  }
  return scratch;
}

// kernel memory is never freed: the int8 copy of a model's item factors is kept for the next run
const productRows = new WeakMap<Kernels, WeakMap<Float32Array, ProductRows>>();

/** The int8 copy of the item factors that dotBlock scores first (WebAssembly kernels), else null. */
function quantizedItems(model: AlsModel, kernels: Kernels): ProductRows | null {
  // the reference kernels' dotBlock scores the float rows anyway: no copy for them
  if (kernels.name !== 'wasm') return null;
  let perModel = productRows.get(kernels);
  if (perModel === undefined) productRows.set(kernels, (perModel = new WeakMap()));
  let rows = perModel.get(model.itemFactors);
  if (rows === undefined) {
    rows = quantizeProductRows(kernels, model.itemFactors, model.items, model.factors);
    perModel.set(model.itemFactors, rows);
  }
  return rows;
}

/**
 * `kernels` when given, else WebAssembly kernels on every CPU for this one run (the caller
 * disposes of them through `owned`); `offThread`: every CPU a worker, so that the *Async calls
 * score while the calling thread writes the previous block's lines.
 */
export async function allQueryKernels(
  kernels: Kernels | undefined,
  offThread = false,
): Promise<{ kernels: Kernels; owned: Kernels | null }> {
  if (kernels !== undefined) return { kernels, owned: null };
  const owned = await createWasmKernels(availableParallelism(), { offThread });
  return { kernels: owned, owned };
}

/**
 * Writes `user \t item \t score` lines for every user, best first within a user (the lines of
 * recommendForRow, number for number), to `output` through the safe writer (writeOutput: a file is
 * replaced whole at the end, a FIFO, device or stream written as the lines come).
 * Users go QUERY_BLOCK at a time through dotBlock (an int8 copy of the item factors scored first,
 * the float rows only where that leaves the k best or the score range open: the same numbers as
 * scoresBlock then selectBlock), on every CPU unless `options.kernels` says otherwise, each
 * block's lines made and written while the next block is scored (with kernels of one's own, or
 * given ones made with offThread). Returns the number of lines.
 */
export async function writeAllRecommendations(
  model: AlsModel,
  output: OutputTarget,
  options: RecommendOptions = {},
  onProgress?: (users: number, total: number) => void,
): Promise<number> {
  checkModel('model', model);
  options = checkOptions('options', options);
  const { itemFactors: Y, userFactors: X, items, users, factors: f } = model;
  checkOutput('output', output);
  checkBoolean('includePlayed', options.includePlayed);
  checkKernels(options.kernels);
  // never lists longer than the items there are (a count of 1e9 allocates nothing)
  const k = checkCount('count', options.count, 10, items);
  // model errors (a corrupt file read on first use) come before the output file is opened
  const { indptr, indices } = model.userItems;
  // names as they are (a carriage return included), or refused: the rule of the split files
  checkTsvNames(model.userIds, model.itemNames, 'the recommendations');
  const names = model.itemNames;
  const { kernels, owned } = await allQueryKernels(options.kernels, true);
  let lines = 0;
  try {
    const quantized = quantizedItems(model, kernels);
    const none = new Int32Array(0);
    /** Scores the block of users from `first` on into `slot`'s arrays (off the thread where the kernels can). */
    const score = async (first: number, slot: 0 | 1): Promise<void> => {
      const { scores, excludeStart, best, found, range } = blockScratch(kernels, items, k, slot);
      const queries = Math.min(QUERY_BLOCK, users - first);
      // each user's played items left out: their slice of the plays CSR, offsets from the block's start
      for (let q = 0; q <= queries; q++)
        excludeStart[q] = options.includePlayed ? 0 : indptr[first + q] - indptr[first];
      const exclude = options.includePlayed ? none : indices.subarray(indptr[first], indptr[first + queries]);
      const selection = { scores, rows: items, queries, k, excludeStart, exclude, best, found, range };
      if (quantized === null) {
        await kernels.scoresBlockAsync(Y, items, f, X, first, queries, scores);
        await kernels.selectBlockAsync(selection);
      } else {
        const queryRows = X.subarray(first * f, (first + queries) * f);
        await kernels.dotBlockAsync({ ...selection, Y, factors: f, quantized, queryRows });
      }
    };
    /** The lines of the block of users from `first` on, scored into `slot`'s arrays. */
    const text = (first: number, slot: 0 | 1): string => {
      const { scores, best, found, range } = blockScratch(kernels, items, k, slot);
      const queries = Math.min(QUERY_BLOCK, users - first);
      let out = '';
      for (let q = 0; q < queries; q++) {
        const id = model.userIds[first + q];
        const scale = { min: range[2 * q], max: range[2 * q + 1] };
        for (let n = 0; n < found[q]; n++) {
          const item = best[q * k + n];
          out += `${id}\t${names[item]}\t${minMaxScale(scores[q * items + item], scale).toFixed(6)}\n`;
        }
        lines += found[q];
        if (((first + q) & 1023) === 0) onProgress?.(first + q, users);
      }
      return out;
    };
    // both sets of arrays made before the first call (none may be made while one runs)
    blockScratch(kernels, items, k, 1);
    await writeOutput(output, async (emit) => {
      // block b's lines are written while block b + 1 is scored, in the other set of arrays
      let running = users > 0 ? score(0, 0) : null;
      for (let first = 0, slot: 0 | 1 = 0; running !== null; first += QUERY_BLOCK, slot = slot === 0 ? 1 : 0) {
        await running;
        const next = first + QUERY_BLOCK;
        running = next < users ? score(next, slot === 0 ? 1 : 0) : null;
        try {
          await emit(text(first, slot));
        } catch (error) {
          // the call in flight is done before the kernels are disposed of
          await running?.catch(() => undefined);
          throw error;
        }
      }
    });
  } finally {
    owned?.dispose();
  }
  onProgress?.(users, users);
  return lines;
}
