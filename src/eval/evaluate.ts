import { resolveTrainOptions, type TrainOptions } from '../als/options.js';
import { trainFactors, type Factors, type TrainCallbacks } from '../als/train.js';
import {
  checkArray,
  checkCallbacks,
  checkInteractions,
  checkKernels,
  checkOptions,
  checkWhole,
  valueForMessage,
} from '../validate.js';
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
export async function evaluate(
  data: Interactions,
  options: EvaluateOptions = {},
  callbacks: EvaluateCallbacks = {},
): Promise<Evaluation> {
  checkInteractions('data', data);
  options = checkOptions('options', options);
  callbacks = checkCallbacks(callbacks);
  checkKernels(options.kernels);
  const k = checkWhole('k', options.k ?? DEFAULT_EVAL_K, 1);
  if (options.seed !== undefined) checkWhole('seed', options.seed, 0);
  const trainOptions = resolveTrainOptions(checkOptions('trainOptions', options.trainOptions));
  const split = splitByUser(data.userItems, {
    testFraction: options.testFraction ?? DEFAULT_TEST_FRACTION,
    seed: options.seed ?? DEFAULT_SPLIT_SEED,
  });
  const { train, test, testUsers } = split;
  if (testUsers.length === 0)
    throw new AlsError('input', 'no user has enough interactions (at least 5) to hold some out');

  const factors = await trainFactors(train, trainOptions, callbacks);
  const scored = scoreSplit(split, factors, {
    k,
    factors: trainOptions.factors,
    kernels: options.kernels,
    onUsers: callbacks.onUsers,
  });

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
  checkSplit(split);
  checkOptions('options', options);
  checkKernels(options.kernels);
  const { train, test, testUsers } = split;
  const k = checkWhole('k', options.k, 1);
  const f = checkWhole('factors', options.factors, 1);
  const items = train.cols;
  checkArray('userFactors', model.userFactors, Float32Array, train.rows * f);
  checkArray('itemFactors', model.itemFactors, Float32Array, items * f);
  // the lists are never longer than the items (precision@k still divides by k)
  const length = Math.min(k, items);
  const kernels = options.kernels ?? defaultQueryKernels();
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
    const recommended = kernels.topK(scores, length, skip);
    modelMetrics.add(rankingMetrics(recommended, testItems, k), recommended, userAuc(scores, testItems, skip));

    if (popularity) {
      const popular = kernels.topK(popularity, length, skip);
      baseline.add(rankingMetrics(popular, testItems, k), popular, userAuc(popularity, testItems, skip));
    }

    for (let n = start; n < end; n++) skip[train.indices[n]] = 0;
    if ((t + 1) % 256 === 0 || t + 1 === testUsers.length) options.onUsers?.(t + 1, testUsers.length);
  }
  return { model: modelMetrics.result(), popularity: baseline.result() };
}

/** A split as splitByUser returns it: train and test of one shape, test users rows of it. */
function checkSplit(split: Split): void {
  if (typeof split !== 'object' || split === null)
    throw new AlsError('usage', `split must be a Split ({ train, test, testUsers }), not ${valueForMessage(split)}`);
  const { train, test } = split;
  for (const [name, m] of [
    ['split.train', train],
    ['split.test', test],
  ] as const) {
    if (typeof m !== 'object' || m === null || !(m.indptr instanceof Int32Array) || m.indptr.length !== m.rows + 1) {
      throw new AlsError('usage', `${name} must be a CsrMatrix, not ${valueForMessage(m)}`);
    }
  }
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new AlsError(
      'usage',
      `split.train (${train.rows} × ${train.cols}) and split.test (${test.rows} × ${test.cols}) must have one shape`,
    );
  }
  checkArray('split.testUsers', split.testUsers, Int32Array);
  for (const u of split.testUsers)
    if (!(u >= 0 && u < train.rows))
      throw new AlsError('usage', `split.testUsers holds ${u}, not a row of 0..${train.rows - 1}`);
}
