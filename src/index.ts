/**
 * als as a library: read interactions, train, save and load models, query them.
 *
 *   import { readInteractions, train, saveModel, loadModel, similarItems, recommendItems } from 'als';
 *   const data = await readInteractions('plays.tsv');
 *   const model = await train(data, { factors: 32 });
 *   await saveModel(model, './als-model');
 *   similarItems(loadModel('./als-model'), 'radiohead');
 *
 * This entry point holds the task-level API only: one function per thing a user does (the CLI's
 * commands), AlsError, and the option and result types of those functions. The building blocks
 * (row-number queries, fold-in, solvers, metrics, constants) are in `als/advanced`, the numeric
 * kernels in `als/kernels`. test/api/exports.test.ts pins every list.
 */
export { AlsError, type AlsErrorCode } from './errors.js';

export {
  readInteractions,
  type InputFormat,
  type Interactions,
  type ReadOptions,
  type ReadProgress,
  type ReadStats,
  type SkippedRow,
} from './data/read.js';
export type { CsrMatrix } from './data/sparse.js';
export type { OutputTarget } from './data/writeFile.js';

export type { Solver, TrainOptions, Weighting } from './als/options.js';
export { train, type IterationReport, type TrainCallbacks } from './als/train.js';
export { parseTrainConfig, formatTrainConfig, type TrainConfig } from './als/config.js';
export { updateModel, type UpdateResult } from './als/update.js';

export type {
  AlsModel,
  AppliedDefaults,
  ImportSummary,
  InputSummary,
  TrainedBy,
  UpdateSummary,
} from './model/model.js';
export { saveModel, type SavedModel, type SaveModelOptions } from './model/save.js';
export type { LockHolder, LockOptions } from './model/lock.js';
export { loadModel, closeModel } from './model/load.js';
export { updateModelDirectory, type DirectoryUpdate } from './model/updateDirectory.js';
export { describeModelDirectory, type ModelDirectory, type ModelFile } from './model/files.js';
export {
  exportSparkModel,
  importSparkModel,
  type SparkExport,
  type SparkExportOptions,
  type SparkImport,
  type SparkImportOptions,
} from './model/sparkFormat.js';

export { similarItems, type ScoredItem, type SimilarOptions, type SimilarResult } from './query/similar.js';
export { recommendItems, type RecommendOptions } from './query/recommend.js';
export {
  parseItemList,
  recommendForList,
  type ListedItem,
  type ListRecommendation,
  type ResolvedList,
} from './query/listened.js';
export { explainUser, type Contribution, type Explanation, type ExplainedItem } from './query/explain.js';
export { writeAllSimilar, type SimilarAllOptions, type SimilarAllSummary } from './query/similarAll.js';
export { writeAllRecommendations, type RecommendAllOptions } from './query/recommendAll.js';

export { evaluate, type EvaluateOptions, type EvaluateCallbacks, type Evaluation } from './eval/evaluate.js';
export type { Metrics } from './eval/metrics.js';
export {
  tune,
  type TuneMetric,
  type TuneOptions,
  type TuneCallbacks,
  type TuneResult,
  type Trial,
  type BestSoFar,
} from './eval/tune.js';
