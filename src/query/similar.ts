import { defaultQueryKernels, type Kernels } from '../kernels/index.js';
import type { AlsModel } from '../model/model.js';
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
export function itemNorms(model: Pick<AlsModel, 'itemFactors' | 'items' | 'factors'>, kernels: Kernels = defaultQueryKernels()): Float32Array {
  return cachedRowNorms(kernels, model.itemFactors, model.items, model.factors);
}

export interface SimilarOptions {
  /** how many (default 10) */
  count?: number;
  /** precomputed itemNorms(model), when many queries share a model */
  norms?: Float32Array;
  kernels?: Kernels;
}

/**
 * The items most similar to item row `item` by cosine similarity of their factors, the item
 * itself left out, best first.
 */
export function similarTo(model: AlsModel, item: number, options: SimilarOptions = {}): ScoredItem[] {
  const { itemFactors: Y, items, factors: f, itemNames } = model;
  const kernels = options.kernels ?? defaultQueryKernels();
  const norms = options.norms ?? itemNorms(model, kernels);
  const { scores, skip } = queryScratch(kernels, items);
  kernels.scores(Y, items, f, Y, item * f, scores);
  const own = norms[item];
  for (let j = 0; j < items; j++) {
    const denominator = own * norms[j];
    scores[j] = denominator > 0 ? scores[j] / denominator : 0;
  }
  skip[item] = 1;
  const range = scoreRange(scores, skip);
  const best = kernels.topK(scores, options.count ?? 10, skip);
  skip[item] = 0;
  return Array.from(best, (j) => ({
    index: j,
    name: itemNames[j],
    score: minMaxScale(scores[j], range),
    raw: scores[j],
  }));
}

/** similarTo by name, looked up case-insensitively (AlsError('not-found') with suggestions). */
export function similarItems(model: AlsModel, name: string, options: SimilarOptions = {}): { item: string; similar: ScoredItem[] } {
  const item = findItem(model.itemNames, name);
  return { item: model.itemNames[item], similar: similarTo(model, item, options) };
}
