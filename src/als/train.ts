import { setImmediate as nextTick } from 'node:timers/promises';
import { columnCounts, transpose, type CsrMatrix } from '../data/sparse.js';
import { createKernels, kernelCopy, type HalfStep, type KernelEngine, type Kernels } from '../kernels/index.js';
import { alsLoss } from './loss.js';
import type { Interactions } from '../data/read.js';
import type { AlsModel } from '../model/model.js';
import { resolveTrainOptions, type TrainOptions } from './options.js';
import { randomFactors, seededRandom } from './random.js';
import { confidences } from './weighting.js';

/** Rows per kernel call: small enough for smooth progress, large enough to keep threads busy. */
const BLOCK_ROWS = 65536;

export interface IterationReport {
  /** 1-based */
  iteration: number;
  iterations: number;
  /** present when options.computeLoss */
  loss?: number;
  /** since training started (set-up included) */
  seconds: number;
  /** this iteration's two half-steps alone (the loss, when computed, not included) */
  iterationSeconds: number;
}

export interface TrainCallbacks {
  /** after every block of rows: work done so far out of `total` (rows of both sides × iterations) */
  onProgress?(done: number, total: number, iteration: number): void;
  onIteration?(report: IterationReport): void;
}

export interface Factors {
  userFactors: Float32Array;
  itemFactors: Float32Array;
  /** loss after each iteration, when options.computeLoss */
  losses: number[] | null;
  seconds: number;
}

/**
 * Alternating least squares on a users × items matrix of play counts: the counts become
 * confidences (options.weighting), then each iteration solves every user against the fixed
 * items and every item against the fixed users, with the exact solver or CG.
 */
export async function trainFactors(
  plays: CsrMatrix,
  options: TrainOptions,
  callbacks: TrainCallbacks = {},
  engine: KernelEngine = 'wasm',
): Promise<Factors> {
  const kernels = await createKernels(engine, options.threads);
  try {
    return await alternate(plays, options, callbacks, kernels);
  } finally {
    kernels.dispose();
  }
}

async function alternate(plays: CsrMatrix, options: TrainOptions, callbacks: TrainCallbacks, kernels: Kernels): Promise<Factors> {
  const started = performance.now();
  const f = options.factors;
  const users = plays.rows;
  const items = plays.cols;
  const random = seededRandom(options.seed);
  const userFactors = randomFactors(users, f, random, 0.01, kernels.float32(users * f));
  const itemFactors = randomFactors(items, f, random, 0.01, kernels.float32(items * f));

  const userConfidence = confidences(plays, options, kernels.float32(plays.data.length));
  const itemUsers = transpose(plays, userConfidence);
  const userStep: HalfStep = {
    X: userFactors,
    Y: itemFactors,
    factors: f,
    indptr: kernelCopy(kernels, plays.indptr),
    indices: kernelCopy(kernels, plays.indices),
    confidence: userConfidence,
    YtY: new Float64Array(f * f),
  };
  const itemStep: HalfStep = {
    X: itemFactors,
    Y: userFactors,
    factors: f,
    indptr: kernelCopy(kernels, itemUsers.indptr),
    indices: kernelCopy(kernels, itemUsers.indices),
    confidence: kernelCopy(kernels, itemUsers.data),
    YtY: new Float64Array(f * f),
  };

  const total = options.iterations * (users + items);
  let done = 0;
  const halfStep = async (step: HalfStep, rows: number, otherRows: number, iteration: number) => {
    kernels.gramian(step.Y, otherRows, f, options.regularization, step.YtY);
    for (let start = 0; start < rows; start += BLOCK_ROWS) {
      const end = Math.min(rows, start + BLOCK_ROWS);
      if (options.solver === 'naive') kernels.exactUpdate(step, start, end);
      else kernels.cgUpdate(step, options.cgSteps, start, end);
      done += end - start;
      callbacks.onProgress?.(done, total, iteration);
    }
    await nextTick(); // let timers (progress bars, signals) run between half-steps
  };

  const losses: number[] | null = options.computeLoss ? [] : null;
  for (let iteration = 1; iteration <= options.iterations; iteration++) {
    const iterationStarted = performance.now();
    await halfStep(userStep, users, items, iteration);
    await halfStep(itemStep, items, users, iteration);
    const now = performance.now();
    const report: IterationReport = {
      iteration,
      iterations: options.iterations,
      seconds: (now - started) / 1000,
      iterationSeconds: (now - iterationStarted) / 1000,
    };
    if (losses) {
      report.loss = alsLoss(userStep, items, options.regularization, kernels);
      losses.push(report.loss);
    }
    callbacks.onIteration?.(report);
  }
  // plain copies, so that the kernels' memory can go
  return {
    userFactors: userFactors.slice(),
    itemFactors: itemFactors.slice(),
    losses,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Trains a model on interactions read by readInteractions: options are checked and completed
 * with defaults (resolveTrainOptions), then trainFactors runs.
 */
export async function train(
  data: Interactions,
  options: Partial<TrainOptions> = {},
  callbacks: TrainCallbacks = {},
): Promise<AlsModel & { seconds: number }> {
  const resolved = resolveTrainOptions(options);
  const factors = await trainFactors(data.userItems, resolved, callbacks);
  const { file, format, rows, used, skipped, zeroCounts, duplicates, header } = data.stats;
  return {
    users: data.userItems.rows,
    items: data.userItems.cols,
    factors: resolved.factors,
    userFactors: factors.userFactors,
    itemFactors: factors.itemFactors,
    userIds: data.userIds,
    itemNames: data.itemNames,
    userItems: data.userItems,
    itemListeners: columnCounts(data.userItems),
    options: resolved,
    input: { file, format, rows, used, skipped, zeroCounts, duplicates, header },
    losses: factors.losses,
    seconds: factors.seconds,
  };
}
