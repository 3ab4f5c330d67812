import { checkCount, checkKernels, checkModel, checkOptions, checkOutput } from '../validate.js';
import { AlsError } from '../errors.js';
import { writeOutput, type OutputTarget } from '../data/writeFile.js';
import type { CosinePairs, Kernels } from '../kernels/index.js';
import type { AlsModel } from '../model/model.js';
import { checkMinListeners, DEFAULT_MIN_ITEM_USERS } from './listeners.js';
import { checkTsvNames } from '../data/tsvNames.js';
import { allQueryKernels, blockScratch, emitBlocks, allBlockQueries } from './allBlocks.js';
import { minMaxScale } from './scale.js';
import { encodedNames, ScoredLines, type EncodedNames } from './scoredLines.js';
import { itemNorms, type SimilarOptions } from './similar.js';
import { candidateFactors, candidateRows, type CandidateRows } from './candidates.js';
import { quantizeRows, type QuantizedRows } from '../kernels/quantize.js';
import { callOffThread, cosineTopK } from './blockCalls.js';
import { checkItemIndexSearch, type ItemIndexSearch } from './itemIndex.js';
import { writeAllSimilarIndexed } from './similarAllIndexed.js';

export interface SimilarAllOptions extends Pick<SimilarOptions, 'count' | 'minItemUsers' | 'kernels'> {
  /**
   * Search this item index (openItemIndex's 'fresh' search for the model) instead of scoring every
   * candidate: approximate (similarAllIndexed.ts), for the index's minItemUsers only.
   * @default exact search
   */
  itemIndex?: ItemIndexSearch;
}

/**
 * The items that may be listed as neighbours under one minimum, their factors contiguous (candidates.ts):
 * on Last.fm data most items have one or two listeners, so the filter also makes --all cheaper.
 */
interface Candidates extends CandidateRows {
  minItemUsers: number;
  factors: Float32Array;
  norms: Float32Array;
  /** an int8 copy of the factors for cosineBlock (WebAssembly kernels; quantizedOf), else null; undefined until made */
  quantized?: QuantizedRows | null;
  /** the candidates as paired cosine queries of one another (pairsFor), once made */
  pairs?: CosinePairs;
}

/**
 * The candidates prepared so that each pair of them is scored once (Kernels.cosinePairs: the
 * cosine is symmetric, and the candidates are most of the queries), or null where the kernels
 * cannot or it would not help (lists of k beyond what its refining seeds, too many candidates
 * for its extremes matrix: then each query scores every candidate, as cosineBlock does).
 */
function pairsFor(set: Candidates, kernels: Kernels, f: number, k: number): CosinePairs | null {
  if (set.pairs !== undefined) return k <= set.pairs.mostK ? set.pairs : null;
  const quantized = quantizedOf(set, kernels, f);
  // kernels that can make pairs can score with them (the WebAssembly kernels)
  if (quantized === null || kernels.cosinePairs === undefined) return null;
  const pairs = kernels.cosinePairs(quantized, set.factors, set.count, f, set.norms, k);
  if (pairs !== null) set.pairs = pairs;
  return pairs;
}

/**
 * The candidates' int8 copy, made on first use (on every thread of the kernels: the caller
 * awaits their workers first); none for the reference kernels, whose cosineBlock scores the
 * float rows anyway.
 */
function quantizedOf(set: Candidates, kernels: Kernels, f: number): QuantizedRows | null {
  set.quantized ??= kernels.name === 'wasm' ? quantizeRows(kernels, set.factors, set.count, f, set.norms) : null;
  return set.quantized;
}

/**
 * The tile rows of the pairs of `count` candidates that hold about a quarter of their tiles: what
 * the workers score while the names are read (at 19K candidates about 35 ms of two threads' work
 * against about as long for the names on the calling thread).
 */
function earlyTileRows(count: number): number {
  const blocks = Math.ceil(count / 64);
  let tiles = 0;
  let rows = 0;
  while (rows < blocks && tiles < (blocks * (blocks + 1)) / 8) tiles += blocks - rows++;
  return rows;
}

// kernel memory is never freed: the compacted rows are kept for the next run on the same model
const cache = new WeakMap<Kernels, WeakMap<Float32Array, Candidates>>();

function candidates(model: AlsModel, minItemUsers: number, kernels: Kernels): Candidates {
  const { itemFactors: Y, factors: f } = model;
  let perModel = cache.get(kernels);
  if (perModel === undefined) cache.set(kernels, (perModel = new WeakMap()));
  const cached = perModel.get(Y);
  if (cached !== undefined && cached.minItemUsers === minItemUsers) return cached;

  const candidates = candidateRows(model.itemUserCounts, minItemUsers);
  const { factors, norms } = candidateFactors(kernels, Y, f, itemNorms(model, kernels), candidates);
  const result = { minItemUsers, ...candidates, factors, norms };
  perModel.set(Y, result);
  return result;
}

export interface SimilarAllSummary {
  /** query items (every item of the model) */
  items: number;
  lines: number;
  minItemUsers: number;
  /** items never listed as a neighbour for having fewer users than minItemUsers */
  leftOut: number;
  /** how the neighbours were found: every candidate scored, or an item index searched */
  search: 'exact' | 'approximate';
}

/**
 * Writes `item \t similar item \t score` lines for every item of the model, best first within an
 * item, scores min-max scaled over the item's candidates as in similarToRow (the same numbers),
 * to `output` through the safe writer (writeOutput: a file is replaced whole at the end, a FIFO,
 * device or stream written as the lines come). Neighbours need `minItemUsers` users; query
 * items may have any number. Items go a block at a time (allBlockQueries) through cosineBlock
 * (an int8 copy of the candidates scored first, the float rows only where that leaves the
 * answer open: the same numbers as scoresBlock then selectBlock), on every CPU unless
 * `options.kernels` says otherwise, each block's lines made and written while the next block is
 * scored (with kernels of one's own, or given ones made with offThread).
 */
export async function writeAllSimilar(
  model: AlsModel,
  output: OutputTarget,
  options: SimilarAllOptions = {},
  onProgress?: (items: number, total: number) => void,
): Promise<SimilarAllSummary> {
  checkModel('model', model);
  options = checkOptions('options', options);
  checkOutput('output', output);
  checkKernels(options.kernels);
  const minItemUsers = checkMinListeners(options.minItemUsers ?? DEFAULT_MIN_ITEM_USERS);
  // never lists longer than the items there are (a count of 1e9 allocates nothing)
  const k = checkCount('count', options.count, 10, model.items);
  const { items, factors: f } = model;
  if (options.itemIndex !== undefined) {
    // names as they are (a carriage return included), or refused: the rule of the split files
    checkTsvNames([], model.itemNames, 'the neighbours');
    const search = checkItemIndexSearch(model, options.itemIndex);
    if (search.minItemUsers !== minItemUsers)
      throw new AlsError(
        'usage',
        `itemIndex covers the items with at least ${search.minItemUsers} users, not minItemUsers ${minItemUsers}`,
      );
    const lines = await writeAllSimilarIndexed(model, output, search, k, onProgress);
    return { items, lines, minItemUsers, leftOut: items - search.candidates.count, search: 'approximate' };
  }
  const { kernels, owned, ready } = allQueryKernels(options.kernels);
  let lines = 0;
  let count = 0;
  try {
    // model errors (a corrupt file read on first use) come before the output file is opened; the
    // factors are read while the kernels' workers start, and the kernels are first used once they
    // have (their workers start faster: see WasmKernels.start)
    const Y = model.itemFactors;
    await ready;
    const candidateSet = candidates(model, minItemUsers, kernels);
    const { rows, slot: slotOf, factors, norms } = candidateSet;
    count = candidateSet.count;
    const queryNorms = itemNorms(model, kernels);
    const block = allBlockQueries(count);
    const excludes = [new Int32Array(block), new Int32Array(block)];
    // both sets of arrays made before the first call (none may be made while one runs)
    blockScratch(kernels, block, count, k, 0);
    blockScratch(kernels, block, count, k, 1);
    // the int8 copy and the pairs are made on every thread, and the first tiles of the pairs
    // scored while the names are read and checked (names as they are, a carriage return
    // included, or refused: the rule of the split files)
    const quantized = quantizedOf(candidateSet, kernels, f);
    const pairs = pairsFor(candidateSet, kernels, f, k);
    const early = pairs === null ? null : kernels.pairedTilesAsync!(pairs, earlyTileRows(count));
    early?.catch(() => undefined);
    let named: EncodedNames;
    try {
      checkTsvNames([], model.itemNames, 'the neighbours');
      named = encodedNames(model.itemNames);
    } finally {
      // the kernels are disposed of only once no call runs
      await early?.catch(() => undefined);
    }
    await early;
    /** Scores the block of items from `first` on into `slot`'s arrays (off the thread where the kernels can). */
    const score = async (first: number, slot: 0 | 1): Promise<void> => {
      const { scores, excludeStart, best, found, range } = blockScratch(kernels, block, count, k, slot);
      const exclude = excludes[slot];
      const queries = Math.min(block, items - first);
      // the item itself is no neighbour (nor counted in its range) when it is a candidate
      let excluded = 0;
      for (let q = 0; q < queries; q++) {
        excludeStart[q] = excluded;
        if (slotOf[first + q] >= 0) exclude[excluded++] = slotOf[first + q];
      }
      excludeStart[queries] = excluded;
      // cosineScores, scoreRange and topK in one pass per item: the same float32 numbers as
      // similarToRow's, so the lines agree with it
      const selection = {
        scores,
        rows: count,
        queries,
        k,
        excludeStart,
        exclude,
        norms,
        queryNorms: queryNorms.subarray(first, first + queries),
        best,
        found,
        range,
      };
      if (pairs !== null)
        await kernels.pairedCosineBlockAsync!({
          ...selection,
          Y: factors,
          factors: f,
          quantized: quantized!,
          queryRows: Y.subarray(first * f, (first + queries) * f),
          pairs,
          querySlots: slotOf.subarray(first, first + queries),
        });
      else await callOffThread(cosineTopK(kernels, factors, f, quantized, Y, first, selection));
    };
    const made = new ScoredLines(named, named);
    /** The lines of the block of items from `first` on, scored into `slot`'s arrays. */
    const text = (first: number, slot: 0 | 1): Buffer => {
      const { scores, best, found, range } = blockScratch(kernels, block, count, k, slot);
      const queries = Math.min(block, items - first);
      for (let q = 0; q < queries; q++) {
        const scale = { min: range[2 * q], max: range[2 * q + 1] };
        for (let n = 0; n < found[q]; n++) {
          const c = best[q * k + n];
          made.add(first + q, rows[c], minMaxScale(scores[q * count + c], scale));
        }
        lines += found[q];
        if (((first + q) & 63) === 0) onProgress?.(first + q, items);
      }
      return made.take();
    };
    await writeOutput(output, (emit) => emitBlocks(items, block, score, text, emit));
  } finally {
    owned?.dispose();
  }
  onProgress?.(items, items);
  return { items, lines, minItemUsers, leftOut: items - count, search: 'exact' };
}
