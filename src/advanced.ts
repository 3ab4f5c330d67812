/**
 * als/advanced: the building blocks under the task-level API of `als`, for callers who work with
 * model rows and typed arrays: training on a matrix, confidence weighting, regularization, fold-in,
 * queries by row number, lookups, the train/test split and the ranking metrics, and the constants
 * that bound the options. A function here takes rows where its name says so (`similarToRow`,
 * `recommendForRow`) and range-checks them (AlsError('usage')).
 *
 *   import { loadModel } from 'als';
 *   import { similarToRow } from 'als/advanced';
 *   similarToRow(loadModel('./als-model'), 0, { count: 5 });
 *
 * test/api/exports.test.ts pins this list.
 */
export { INPUT_FORMATS } from './data/read.js';
export { cooToCsr, transpose } from './data/sparse.js';

export {
  defaultTrainOptions,
  resolveTrainOptions,
  DEFAULT_ALPHA,
  MAX_ALPHA,
  MAX_BM25_K1,
  MAX_LAMBDA,
  MAX_LAMBDA_ALPHA0,
  MAX_LAMBDA_EXPONENT,
  SOLVERS,
  WEIGHTINGS,
} from './als/options.js';
export { confidences, MAX_CONFIDENCE } from './als/weighting.js';
export { estimateTrainingMemory, trainingThreads, type MemoryEstimate } from './als/resources.js';
export { alsLoss, type RowRegularization } from './als/loss.js';
export { rowRegularization, scalesRegularization, type RegularizationOptions } from './als/regularization.js';
export {
  defaultsFor,
  profileData,
  ruleOptions,
  BINARY_SHARE,
  LAMBDA_PER_CONFIDENCE,
  RULE_LAMBDA_RANGE,
  FEW_PAIRS_PER_USER,
  FEW_FACTORS,
  type DataProfile,
  type DefaultsRule,
} from './als/dataDefaults.js';
export {
  foldIn,
  foldInUserRow,
  foldInConfidences,
  itemGramian,
  playsOfRow,
  type FoldedUser,
  type UserPlays,
} from './als/foldIn.js';
export { trainFactors, type Factors } from './als/train.js';

export { lockModel, DEFAULT_LOCK_TIMEOUT_MS, type ModelLock } from './model/lock.js';
export { FORMAT_NAME, FORMAT_VERSION } from './model/format.js';

export { similarToRow, rankSimilarToRow, itemNorms } from './query/similar.js';
export { DEFAULT_MIN_ITEM_USERS } from './query/listeners.js';
export { recommendForRow, recommendForVector } from './query/recommend.js';
export { Explainer, explainedRecommendations, explainUserRow } from './query/explain.js';
export { resolveItemList, medianPlays } from './query/listened.js';
export { findItem, findUser, userIdOfRow } from './query/lookup.js';
export { topK } from './query/topk.js';

export { splitByUser, DEFAULT_TEST_FRACTION, DEFAULT_SPLIT_SEED, type Split, type SplitOptions } from './eval/split.js';
export {
  rankingMetrics,
  userAuc,
  catalogueCoverage,
  summarizeMetrics,
  MetricsAccumulator,
  type UserMetrics,
} from './eval/metrics.js';
export { popularityScores } from './eval/baseline.js';
export { writeSplit, SPLIT_FILES, type WrittenSplit } from './eval/writeSplit.js';
export { scoreSplit, DEFAULT_EVAL_K, type ScoreSplitOptions } from './eval/evaluate.js';
export { TUNE_METRICS, TUNED_OPTIONS } from './eval/tune.js';
