import { resolveTrainOptions, type TrainOptions } from '../als/options.js';
import { trainFactors, type Factors, type TrainCallbacks } from '../als/train.js';
import type { Interactions } from '../data/read.js';
import { AlsError } from '../errors.js';
import { defaultQueryKernels, type Kernels } from '../kernels/index.js';
import { queryScratch } from '../query/scratch.js';
import { popularityScores } from './baseline.js';
import { MetricsAccumulator, rankingMetrics, userAuc, type Metrics } from './metrics.js';
import { DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION, splitByUser, type Split } from './split.js';

export interface EvaluateOptions {
  /** the options of the model under test (completed with defaults) */
  trainOptions?: Partial<TrainOptions>;
  /** length of each recommendation list (default 10) */
  k?: number;
  /** share of each user's entries held out (default 0.2) */
  testFraction?: number;
  /** seed of the split (default 1) */
  seed?: number;
  /** query kernels (default: defaultQueryKernels()) */
  kernels?: Kernels;
}

export interface EvaluateCallbacks extends TrainCallbacks {
  /** after each block of test users is scored */
  onUsers?(done: number, total: number): void;
}

export interface Evaluation {
  /** the ALS model trained on the train split */
  model: Metrics;
  /** items ranked by the number of train users */
  popularity: Metrics;
  trainSeconds: number;
  /** users with held-out items */
  users: number;
  /** interactions in the train and test splits */
  trainInteractions: number;
  testInteractions: number;
  options: TrainOptions;
}

export const DEFAULT_EVAL_K = 10;

/**
 * Holds out part of every user's items (splitByUser), trains ALS on the rest, recommends k
 * items each test user did not play in train, and scores the lists against the held-out items;
 * the same for the popularity baseline.
 */
export async function evaluate(data: Interactions, options: EvaluateOptions = {}, callbacks: EvaluateCallbacks = {}): Promise<Evaluation> {
  const k = options.k ?? DEFAULT_EVAL_K;
  if (!Number.isInteger(k) || k < 1) throw new AlsError('usage', `k must be a whole number ≥ 1, not ${k}`);
  const trainOptions = resolveTrainOptions(options.trainOptions ?? {});
  const split = splitByUser(data.userItems, {
    testFraction: options.testFraction ?? DEFAULT_TEST_FRACTION,
    seed: options.seed ?? DEFAULT_SPLIT_SEED,
  });
  const { train, test, testUsers } = split;
  if (testUsers.length === 0) throw new AlsError('input', 'no user has enough interactions (at least 5) to hold some out');

  const factors = await trainFactors(train, trainOptions, callbacks);
  const scored = scoreSplit(split, factors, { k, factors: trainOptions.factors, kernels: options.kernels, onUsers: callbacks.onUsers });

  return {
    ...scored,
    trainSeconds: factors.seconds,
    users: testUsers.length,
    trainInteractions: train.indptr[train.rows],
    testInteractions: test.indptr[test.rows],
    options: trainOptions,
  };
}

export interface ScoreSplitOptions {
  k: number;
  /** factors per row of the user and item matrices */
  factors: number;
  kernels?: Kernels;
  /** false: skip the popularity baseline (its metrics are then NaN), when only the model matters */
  popularity?: boolean;
  onUsers?(done: number, total: number): void;
}

/**
 * Scores a model trained on split.train: recommends k items each test user did not play in
 * train and measures the lists against the held-out items; the popularity baseline alike.
 */
export function scoreSplit(
  split: Split,
  model: Pick<Factors, 'userFactors' | 'itemFactors'>,
  options: ScoreSplitOptions,
): { model: Metrics; popularity: Metrics } {
  const { train, test, testUsers } = split;
  const { k, factors: f } = options;
  const kernels = options.kernels ?? defaultQueryKernels();
  const items = train.cols;
  // kernel memory is never freed: the query scratch arrays are reused across calls
  const { scores, skip } = queryScratch(kernels, items);
  const withBaseline = options.popularity !== false;
  const popularity = withBaseline ? popularityScores(train) : null;
  const modelMetrics = new MetricsAccumulator(k, items);
  const baseline = new MetricsAccumulator(k, items);
  const testItems = new Set<number>();

  for (let t = 0; t < testUsers.length; t++) {
    const u = testUsers[t];
    testItems.clear();
    for (let n = test.indptr[u]; n < test.indptr[u + 1]; n++) testItems.add(test.indices[n]);
    const start = train.indptr[u];
    const end = train.indptr[u + 1];
    for (let n = start; n < end; n++) skip[train.indices[n]] = 1;

    kernels.scores(model.itemFactors, items, f, model.userFactors, u * f, scores);
    const recommended = kernels.topK(scores, k, skip);
    modelMetrics.add(rankingMetrics(recommended, testItems, k), recommended, userAuc(scores, testItems, skip));

    if (popularity) {
      const popular = kernels.topK(popularity, k, skip);
      baseline.add(rankingMetrics(popular, testItems, k), popular, userAuc(popularity, testItems, skip));
    }

    for (let n = start; n < end; n++) skip[train.indices[n]] = 0;
    if ((t + 1) % 256 === 0 || t + 1 === testUsers.length) options.onUsers?.(t + 1, testUsers.length);
  }
  return { model: modelMetrics.result(), popularity: baseline.result() };
}
