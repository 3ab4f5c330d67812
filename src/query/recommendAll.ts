import { checkTsvNames } from '../data/tsvNames.js';
import { checkBoolean, checkCount, checkKernels, checkModel, checkOptions, checkOutput } from '../validate.js';
import { writeOutput, type OutputTarget } from '../data/writeFile.js';
import type { Kernels } from '../kernels/index.js';
import { allQueryKernels, blockScratch, emitBlocks, allBlockQueries } from './allBlocks.js';
import type { AlsModel } from '../model/model.js';
import type { RecommendOptions } from './recommend.js';
import { minMaxScale } from './scale.js';
import { encodedNames, ScoredLines } from './scoredLines.js';
import { quantizeProductRows, type ProductRows } from '../kernels/quantize.js';
import { defaultQueryKernels } from '../kernels/index.js';
import { writeAllRecommendationsPruned } from './recommendAllPruned.js';

export interface RecommendAllOptions extends RecommendOptions {
  /**
   * Find each user's items by pruning (normOrder.ts): the same items, in the same order, as
   * the exact path, much faster where the item norms are skewed (popularity makes them so), but
   * scores scaled from the lowest score possible, −‖x‖·max‖y‖, not the lowest candidate's
   * (recommendAllPruned.ts). One thread.
   * @default false
   */
  pruned?: boolean;
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
 * Writes `user \t item \t score` lines for every user, best first within a user (the lines of
 * recommendForRow, number for number), to `output` through the safe writer (writeOutput: a file is
 * replaced whole at the end, a FIFO, device or stream written as the lines come).
 * Users go a block at a time (allBlockQueries) through dotBlock (an int8 copy of the item
 * factors scored first, the float rows only where that leaves the k best or the score range
 * open: the same numbers as scoresBlock then selectBlock), on every CPU unless `options.kernels`
 * says otherwise, each block's lines made and written while the next block is scored (with
 * kernels of one's own, or given ones made with offThread). `options.pruned` finds the same items
 * by pruning instead, scaled differently. Returns the number of lines.
 */
export async function writeAllRecommendations(
  model: AlsModel,
  output: OutputTarget,
  options: RecommendAllOptions = {},
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
  checkBoolean('pruned', options.pruned);
  if (options.pruned) {
    const kernels = options.kernels ?? defaultQueryKernels();
    return writeAllRecommendationsPruned(model, output, kernels, k, options.includePlayed ?? false, onProgress);
  }
  const { kernels, owned, ready } = allQueryKernels(options.kernels);
  let lines = 0;
  try {
    const quantized = quantizedItems(model, kernels);
    const none = new Int32Array(0);
    const block = allBlockQueries(items);
    /** Scores the block of users from `first` on into `slot`'s arrays (off the thread where the kernels can). */
    const score = async (first: number, slot: 0 | 1): Promise<void> => {
      const { scores, excludeStart, best, found, range } = blockScratch(kernels, block, items, k, slot);
      const queries = Math.min(block, users - first);
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
    const made = new ScoredLines(encodedNames(model.userIds), encodedNames(names));
    /** The lines of the block of users from `first` on, scored into `slot`'s arrays. */
    const text = (first: number, slot: 0 | 1): Buffer => {
      const { scores, best, found, range } = blockScratch(kernels, block, items, k, slot);
      const queries = Math.min(block, users - first);
      for (let q = 0; q < queries; q++) {
        const scale = { min: range[2 * q], max: range[2 * q + 1] };
        for (let n = 0; n < found[q]; n++) {
          const item = best[q * k + n];
          made.add(first + q, item, minMaxScale(scores[q * items + item], scale));
        }
        lines += found[q];
        if (((first + q) & 1023) === 0) onProgress?.(first + q, users);
      }
      return made.take();
    };
    // both sets of arrays made before the first call (none may be made while one runs)
    blockScratch(kernels, block, items, k, 1);
    await ready;
    await writeOutput(output, (emit) => emitBlocks(users, block, score, text, emit));
  } finally {
    owned?.dispose();
  }
  onProgress?.(users, users);
  return lines;
}
