/**
 * als as a library: read interactions, train, save and load models, query them.
 *
 *   import { readInteractions, train, saveModel, loadModel, similarItems, recommendItems } from 'als';
 *   const data = await readInteractions('plays.tsv');
 *   const model = await train(data, { factors: 32 });
 *   await saveModel(model, './als-model');
 *   similarItems(loadModel('./als-model'), 'radiohead');
 */
export { AlsError, type AlsErrorCode } from './errors.js';

export {
  readInteractions,
  INPUT_FORMATS,
  type InputFormat,
  type Interactions,
  type ReadOptions,
  type ReadProgress,
  type ReadStats,
  type SkippedRow,
} from './data/read.js';
export { cooToCsr, transpose, type CsrMatrix } from './data/sparse.js';

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
  type Solver,
  type TrainOptions,
  type Weighting,
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
  RULE_REGULARIZATION,
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
export { train, trainFactors, type Factors, type IterationReport, type TrainCallbacks } from './als/train.js';

export { updateModel, type UpdateResult } from './als/update.js';
export { updateModelDirectory, type DirectoryUpdate } from './model/updateDirectory.js';
export type { AlsModel, AppliedDefaults, ImportSummary, InputSummary, UpdateSummary } from './model/model.js';
export { saveModel, type SaveModelOptions } from './model/save.js';
export { lockModel, DEFAULT_LOCK_TIMEOUT_MS, type LockHolder, type LockOptions, type ModelLock } from './model/lock.js';
export { loadModel, closeModel } from './model/load.js';
export { FORMAT_NAME, FORMAT_VERSION } from './model/format.js';
export { describeModelDirectory, type ModelDirectory, type ModelFile } from './model/files.js';
export {
  exportSparkModel,
  importSparkModel,
  type SparkExport,
  type SparkExportOptions,
  type SparkImport,
  type SparkImportOptions,
} from './model/sparkFormat.js';

export {
  similarItems,
  similarToRow,
  rankSimilarToRow,
  itemNorms,
  type ScoredItem,
  type SimilarOptions,
  type SimilarResult,
} from './query/similar.js';
export { writeAllSimilar, type SimilarAllOptions, type SimilarAllSummary } from './query/similarAll.js';
export { DEFAULT_MIN_LISTENERS } from './query/listeners.js';
export {
  recommendItems,
  recommendForRow,
  recommendForVector,
  mostPlayed,
  type RecommendOptions,
} from './query/recommend.js';
export {
  Explainer,
  explainedRecommendations,
  explainUser,
  type Contribution,
  type Explanation,
  type ExplainedItem,
} from './query/explain.js';
export {
  parseItemList,
  resolveItemList,
  recommendForList,
  medianPlays,
  type ListedItem,
  type ResolvedList,
  type ListRecommendation,
} from './query/listened.js';
export { writeAllRecommendations } from './query/recommendAll.js';
export { findItem, findUser, closestNames } from './query/lookup.js';
export { topK } from './query/topk.js';

export { splitByUser, DEFAULT_TEST_FRACTION, DEFAULT_SPLIT_SEED, type Split, type SplitOptions } from './eval/split.js';
export {
  rankingMetrics,
  userAuc,
  catalogueCoverage,
  summarizeMetrics,
  MetricsAccumulator,
  type Metrics,
  type UserMetrics,
} from './eval/metrics.js';
export { popularityScores } from './eval/baseline.js';
export { writeSplit, checkWritableAsTriples, formatPlays, SPLIT_FILES, type WrittenSplit } from './eval/writeSplit.js';
export {
  evaluate,
  scoreSplit,
  DEFAULT_EVAL_K,
  type EvaluateOptions,
  type EvaluateCallbacks,
  type Evaluation,
  type ScoreSplitOptions,
} from './eval/evaluate.js';
export {
  tune,
  TUNE_METRICS,
  TUNED_OPTIONS,
  type TuneMetric,
  type TuneOptions,
  type TuneCallbacks,
  type TuneResult,
  type Trial,
} from './eval/tune.js';
export { parseTrainConfig, formatTrainConfig, type TrainConfig } from './als/config.js';

export { jsKernels, kernelCopy, type Kernels, type HalfStep } from './kernels/index.js';
