import { checkCount, checkKernels, checkModel, checkOptions, checkRow, checkString } from '../validate.js';
import { defaultQueryKernels, type Kernels } from '../kernels/index.js';
import type { AlsModel } from '../model/model.js';
import { checkMinListeners, DEFAULT_MIN_ITEM_USERS, listenerFilter } from './listeners.js';
import { findItem } from './lookup.js';
import { minMaxScale, scoreRange } from './scale.js';
import { cachedRowNorms, queryScratch } from './scratch.js';

export interface ScoredItem {
  /** row of the item in the model */
  index: number;
  name: string;
  /** min-max scaled to 0..1 over all candidates */
  score: number;
  /** the unscaled score (cosine similarity, or xᵤᵀyᵢ) */
  raw: number;
}

/** Euclidean norm of every row of the item factors (computed once per model). */
export function itemNorms(
  model: Pick<AlsModel, 'itemFactors' | 'items' | 'factors'>,
  kernels: Kernels = defaultQueryKernels(),
): Float32Array {
  checkModel('model', model, ['itemFactors', 'items', 'factors']);
  checkKernels(kernels, true);
  return cachedRowNorms(kernels, model.itemFactors, model.items, model.factors);
}

export interface SimilarOptions {
  /** how many (default 10) */
  count?: number;
  /**
   * leave out neighbours played by fewer distinct users than this (default
   * DEFAULT_MIN_ITEM_USERS; 1 keeps every item); the query item itself may have any number
   */
  minItemUsers?: number;
  /** precomputed itemNorms(model), when many queries share a model */
  norms?: Float32Array;
  kernels?: Kernels;
}

export interface SimilarResult {
  /** the query item's name as in the model */
  item: string;
  similar: ScoredItem[];
  /** the least number of distinct users a neighbour had to have */
  minItemUsers: number;
  /** candidates (the query item not counted) left out for having fewer users */
  leftOut: number;
}

/** The query with how many candidates the listener filter left out; see similarToRow. */
export function rankSimilarToRow(
  model: AlsModel,
  itemRow: number,
  options: SimilarOptions = {},
): Omit<SimilarResult, 'item'> {
  checkModel('model', model);
  options = checkOptions('options', options);
  const { itemFactors: Y, items, factors: f, itemNames } = model;
  const item = checkRow('itemRow', itemRow, items);
  checkKernels(options.kernels);
  // never a list longer than the items there are (a count of 1e9 allocates nothing)
  const count = checkCount('count', options.count, 10, items);
  const minItemUsers = checkMinListeners(options.minItemUsers ?? DEFAULT_MIN_ITEM_USERS);
  const kernels = options.kernels ?? defaultQueryKernels();
  const norms = options.norms ?? itemNorms(model, kernels);
  const { scores, skip } = queryScratch(kernels, items);
  kernels.scores(Y, items, f, Y, item * f, scores);
  const own = norms[item];
  for (let j = 0; j < items; j++) {
    const denominator = own * norms[j];
    scores[j] = denominator > 0 ? scores[j] / denominator : 0;
  }
  let leftOut = 0;
  // the scratch mask is all zeros between queries; it is cleared again below
  if (minItemUsers > 1) {
    const filter = listenerFilter(model, minItemUsers);
    skip.set(filter.below);
    leftOut = filter.count - filter.below[item];
  }
  skip[item] = 1;
  const range = scoreRange(scores, skip);
  const best = kernels.topK(scores, count, skip);
  if (minItemUsers > 1) skip.fill(0);
  else skip[item] = 0;
  const similar = Array.from(best, (j) => ({
    index: j,
    name: itemNames[j],
    score: minMaxScale(scores[j], range),
    raw: scores[j],
  }));
  return { similar, minItemUsers, leftOut };
}

/**
 * The items most similar to item row `itemRow` by cosine similarity of their factors, the item
 * itself and items with fewer than `minItemUsers` users left out, best first; scores
 * min-max scaled over the candidates that remain.
 */
export function similarToRow(model: AlsModel, itemRow: number, options: SimilarOptions = {}): ScoredItem[] {
  return rankSimilarToRow(model, itemRow, options).similar;
}

/** similarToRow by name, looked up case-insensitively (AlsError('not-found') with suggestions). */
export function similarItems(model: AlsModel, name: string, options: SimilarOptions = {}): SimilarResult {
  checkModel('model', model);
  checkString('name', name);
  const item = findItem(model.itemNames, name);
  return { item: model.itemNames[item], ...rankSimilarToRow(model, item, options) };
}
