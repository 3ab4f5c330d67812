import {
  checkArray,
  checkBoolean,
  checkCount,
  checkFinite,
  checkKernels,
  checkModel,
  checkOptions,
  checkRow,
  checkString,
  checkWhole,
  valueForMessage,
} from '../validate.js';
import { AlsError } from '../errors.js';
import { defaultQueryKernels, type Kernels } from '../kernels/index.js';
import type { AlsModel } from '../model/model.js';
import { findUser } from './lookup.js';
import { minMaxScale, scoreRange } from './scale.js';
import type { ScoredItem } from './similar.js';
import { queryScratch, type QueryScratch } from './scratch.js';

export interface RecommendOptions {
  /** how many (default 10) */
  count?: number;
  /** keep items the user already played among the candidates */
  includePlayed?: boolean;
  kernels?: Kernels;
}

/** Scratch arrays for recommending to many users in a row without allocating per user. */
export type RecommendScratch = QueryScratch;

export function recommendScratch(
  model: Pick<AlsModel, 'items'>,
  kernels: Kernels = defaultQueryKernels(),
): RecommendScratch {
  return queryScratch(kernels, model.items);
}

/**
 * The best items for user row `userRow` by xᵤᵀyᵢ, best first, leaving out what the user played
 * unless `includePlayed`; scores min-max scaled over the candidates.
 */
export function recommendForRow(
  model: AlsModel,
  userRow: number,
  options: RecommendOptions = {},
  scratch?: RecommendScratch,
): ScoredItem[] {
  checkModel('model', model);
  const user = checkRow('userRow', userRow, model.users);
  const { indptr, indices } = model.userItems;
  return recommendForVector(
    model,
    model.userFactors,
    user * model.factors,
    indices.subarray(indptr[user], indptr[user + 1]),
    options,
    scratch,
  );
}

/**
 * recommendForRow for any user vector x[xOffset .. xOffset + factors) (e.g. one folded in),
 * leaving out the item rows in `played` unless `includePlayed`.
 */
export function recommendForVector(
  model: AlsModel,
  x: Float32Array,
  xOffset: number,
  played: ArrayLike<number>,
  options: RecommendOptions = {},
  scratch?: RecommendScratch,
): ScoredItem[] {
  checkModel('model', model);
  options = checkOptions('options', options);
  const { itemFactors: Y, items, factors: f, itemNames } = model;
  checkArray('x', x, Float32Array);
  checkWhole('xOffset', xOffset, 0, x.length - f);
  checkFinite('x', x, xOffset, xOffset + f);
  checkPlayed(played, items);
  checkBoolean('includePlayed', options.includePlayed);
  checkKernels(options.kernels);
  const count = checkCount('count', options.count, 10, items);
  const kernels = options.kernels ?? defaultQueryKernels();
  const { scores, skip } = scratch ?? queryScratch(kernels, items);
  kernels.scores(Y, items, f, x, xOffset, scores);
  if (!options.includePlayed) for (let n = 0; n < played.length; n++) skip[played[n]] = 1;
  const range = scoreRange(scores, skip);
  const best = kernels.topK(scores, count, skip);
  if (!options.includePlayed) for (let n = 0; n < played.length; n++) skip[played[n]] = 0;
  return Array.from(best, (i) => ({
    index: i,
    name: itemNames[i],
    score: minMaxScale(scores[i], range),
    raw: scores[i],
  }));
}

/** recommendForRow by user id (or row number, see findUser). */
export function recommendItems(
  model: AlsModel,
  userId: string,
  options: RecommendOptions = {},
): { user: string; userIndex: number; recommendations: ScoredItem[] } {
  checkModel('model', model);
  checkString('userId', userId);
  const user = findUser(model.userIds, userId);
  return { user: model.userIds[user], userIndex: user, recommendations: recommendForRow(model, user, options) };
}

/** The user's most played items, most first (ties: lower item row first). */
export function mostPlayed(model: AlsModel, user: number, count = 5): { name: string; plays: number }[] {
  checkModel('model', model);
  checkRow('user', user, model.users);
  checkWhole('count', count, 0);
  const { indptr, indices, data } = model.userItems;
  const entries: number[] = [];
  for (let n = indptr[user]; n < indptr[user + 1]; n++) entries.push(n);
  entries.sort((a, b) => data[b] - data[a] || indices[a] - indices[b]);
  return entries.slice(0, count).map((n) => ({ name: model.itemNames[indices[n]], plays: data[n] }));
}

/** Item rows to leave out: whole numbers within the model's items. */
function checkPlayed(played: ArrayLike<number>, items: number): void {
  if (typeof played !== 'object' || played === null || typeof played.length !== 'number') {
    throw new AlsError('usage', `played must be an array of item rows, not ${valueForMessage(played)}`);
  }
  for (let n = 0; n < played.length; n++) checkRow(`played[${n}]`, played[n], items);
}
