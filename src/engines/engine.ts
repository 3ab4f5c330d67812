import type { TrainCallbacks } from '../als/train.js';
import type { TrainOptions } from '../als/options.js';
import type { InputFormat, ReadStats } from '../data/read.js';
import type { AlsModel } from '../model/model.js';

/** The training engines: the built-in one (WebAssembly/JS kernels in this process) and Spark MLlib's ALS. */
export const ENGINES = ['builtin', 'spark'] as const;
export type EngineName = (typeof ENGINES)[number];
export const DEFAULT_ENGINE: EngineName = 'builtin';

/** The input of a training engine: a file by its path (for Spark, any path or URL Spark reads). */
export interface EngineInput {
  file: string;
  format: InputFormat;
  /** the first malformed row is an error */
  strict?: boolean;
}

/** What an engine read, by the input rules of src/data/read.ts (the same numbers from every engine). */
export type EngineReadStats = Pick<
  ReadStats,
  'file' | 'format' | 'header' | 'rows' | 'used' | 'skipped' | 'skippedExamples' | 'zeroCounts' | 'duplicates'
>;

export interface EngineCallbacks extends TrainCallbacks {
  /** a stage of an engine that reports no per-row progress (Spark: read, train, collect, done) */
  onStage?(stage: string): void;
}

/** A trained model with what was read and how long each part took. */
export interface EngineResult {
  model: AlsModel;
  stats: EngineReadStats;
  seconds: { read: number; train: number; total: number };
}

/**
 * One training engine: reads the input by als's input rules, weights the counts as als does
 * (c = 1 + α·w(r)), trains, and returns an ordinary model for saveModel. The built-in engine is
 * readInteractions + train (src/als/train.ts: trainFactors); the Spark engine runs the same
 * steps in a Spark job (src/engines/spark/). The contract is at the level of the file, not of a
 * matrix, because a Spark job reads the data where it lies (hdfs://, s3a://): the matrix never
 * passes through this process before training.
 */
export interface TrainingEngine {
  readonly name: EngineName;
  train(input: EngineInput, options: TrainOptions, callbacks?: EngineCallbacks): Promise<EngineResult>;
}
