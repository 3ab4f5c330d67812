import { setImmediate as nextTick } from 'node:timers/promises';
import { columnCounts, type CsrMatrix } from '../data/sparse.js';
import { AlsError } from '../errors.js';
import {
  createKernels,
  kernelCopy,
  KERNEL_BACKENDS,
  type HalfStep,
  type KernelBackend,
  type Kernels,
} from '../kernels/index.js';
import { alsLoss } from './loss.js';
import type { Interactions } from '../data/read.js';
import type { AlsModel } from '../model/model.js';
import { resolveTrainOptions, singularSystems, type TrainOptions } from './options.js';
import { rowRegularizations, scalesRegularization } from './regularization.js';
import { checkTrainingMemory, trainingThreads } from './resources.js';
import {
  badFactorWords,
  checkCallbacks,
  checkCsr,
  checkInteractions,
  checkOptions,
  num,
  valueForMessage,
} from '../validate.js';
import { checkConfidences, weigh } from './weighting.js';

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
 *
 * `plays` must be a valid CSR matrix of counts above 0 and at most MAX_COUNT, and `options`
 * valid training options (AlsError('usage') otherwise); λ = 0 with an exact solver and more
 * factors than min(users, items) is refused too (AlsError('usage'), singularSystems: every row
 * of one side would be singular and solved slowly). The threads used are at most the CPUs
 * and what the rows can keep busy (trainingThreads). A shape whose kernel memory is out of reach
 * is refused before anything is allocated (AlsError('usage'), naming the option to lower); a
 * confidence above MAX_CONFIDENCE (AlsError('input'), naming the count and α), and factors or a
 * loss that stop being finite numbers, or factors beyond ±MAX_FACTOR, in any iteration
 * (AlsError('input')) end training instead of returning a model that would be saved.
 *
 * `backend` is 'wasm' (the default) or 'js', or the caller's own kernels (left for the caller to dispose of).
 */
export async function trainFactors(
  plays: CsrMatrix,
  options: TrainOptions,
  callbacks: TrainCallbacks = {},
  backend: KernelBackend | Kernels = 'wasm',
): Promise<Factors> {
  checkCsr('plays', plays);
  return fitFactors(plays, options, callbacks, backend);
}

/** trainFactors of a matrix that is checked already (train's, by checkInteractions: one pass less over it). */
async function fitFactors(
  plays: CsrMatrix,
  options: TrainOptions,
  callbacks: TrainCallbacks,
  backend: KernelBackend | Kernels,
  inPlace = false,
): Promise<Factors> {
  if (plays.indptr[plays.rows] === 0)
    throw new AlsError('usage', `plays has no entries (${plays.rows} × ${plays.cols}): there is nothing to train on`);
  const resolved = resolveTrainOptions(checkOptions('options', options));
  callbacks = checkCallbacks(callbacks);
  const own = typeof backend === 'string';
  if (own && !KERNEL_BACKENDS.includes(backend))
    throw new AlsError(
      'usage',
      `backend must be one of ${KERNEL_BACKENDS.join(', ')}, not ${valueForMessage(backend)}`,
    );
  const singular = singularSystems(plays.rows, plays.cols, resolved);
  if (singular !== null) throw new AlsError('usage', singular);
  const threads = trainingThreads(resolved.threads, plays);
  checkTrainingMemory(plays, resolved, own && backend === 'wasm' ? threads : 1);
  const kernels = own ? await createKernels(backend, threads) : backend;
  let trained: Factors;
  try {
    trained = await alternate(plays, resolved, callbacks, kernels);
  } finally {
    if (own) kernels.dispose();
  }
  // copied out of the kernels' memory after their worker threads ended (their heaps gone first:
  // a lower peak at full scale), so that the memory can go; or left there (inPlace)
  if (inPlace) return trained;
  return { ...trained, userFactors: trained.userFactors.slice(), itemFactors: trained.itemFactors.slice() };
}

/**
 * The first row with a factor that cannot be scored (firstBadFactor: not finite, or beyond
 * ±MAX_FACTOR) (-1: none), and whether any factor is not 0 (found at once, but for a side
 * whose factors all underflowed).
 */
function scan(factors: Float32Array, f: number, kernels: Kernels): { badRow: number; bad: number; nonzero: boolean } {
  let nonzero = false;
  for (let n = 0; n < factors.length && !nonzero; n++) nonzero = factors[n] !== 0;
  const n = kernels.firstBadFactor(factors);
  return n === -1 ? { badRow: -1, bad: 0, nonzero } : { badRow: Math.floor(n / f), bad: factors[n], nonzero };
}

/**
 * Throws AlsError('input') when the factors (or the loss) of this iteration are not all finite
 * (implicit's `_check_factors`), or a factor is too large to score (beyond ±MAX_FACTOR), or when one side's factors are all 0 (λ so large that every
 * factor underflowed: ALS never leaves 0, and every score would be 0). Such a model would rank
 * nothing and must never be saved.
 */
function checkIteration(
  step: HalfStep,
  other: HalfStep,
  rows: [number, number],
  iteration: number,
  options: TrainOptions,
  kernels: Kernels,
  loss?: number,
): void {
  const sides: [string, Float32Array][] = [
    ['user', step.X],
    ['item', other.X],
  ];
  let what = '';
  let zero = '';
  for (const [side, X] of sides) {
    const { badRow, bad, nonzero } = scan(X, options.factors, kernels);
    if (badRow !== -1) {
      what = `the ${side} factors of row ${badRow} hold ${num(bad)}, ${Number.isFinite(bad) ? badFactorWords(bad) : 'not a finite number'}`;
      break;
    }
    if (!nonzero && X.length > 0) zero ||= side;
  }
  if (what === '' && loss !== undefined && !Number.isFinite(loss)) what = `the loss is ${loss}, not a finite number`;
  if (what === '' && zero === '') return;
  // only for the message: a pass over every confidence, made when training has failed
  let largest = 0;
  for (let n = 0; n < step.confidence.length; n++) if (step.confidence[n] > largest) largest = step.confidence[n];
  const where = `training failed in iteration ${iteration} of ${options.iterations} (${rows[0]} users, ${rows[1]} items)`;
  if (what !== '') {
    throw new AlsError(
      'input',
      `${where}: ${what}. The arithmetic overflowed with weighting ${options.weighting}, alpha ${num(options.alpha)} ` +
        `(largest confidence ${num(Number(largest.toPrecision(3)))}), lambda ${num(options.regularization)}${scaledWords(options)} and solver ${options.solver}: ` +
        'lower alpha or lambda, use weighting log, or try the other solver. No model was made.',
    );
  }
  if (zero !== '') {
    throw new AlsError(
      'input',
      `${where}: every ${zero} factor is 0, so every score would be 0. lambda ${num(options.regularization)}${scaledWords(options)} is too large for confidences ` +
        `of at most ${num(Number(largest.toPrecision(3)))} (weighting ${options.weighting}, alpha ${num(options.alpha)}): lower lambda. No model was made.`,
    );
  }
}

/** " (scaled by (n + α₀·rows)^ν, ν = …, α₀ = …)" when rows have their own λ, else nothing */
function scaledWords(options: TrainOptions): string {
  if (!scalesRegularization(options)) return '';
  return ` (per row λ·(n + α₀·others)^ν, ν ${num(options.regularizationExponent)}, α₀ ${num(options.regularizationAlpha0)})`;
}

async function alternate(
  plays: CsrMatrix,
  options: TrainOptions,
  callbacks: TrainCallbacks,
  kernels: Kernels,
): Promise<Factors> {
  const started = performance.now();
  const f = options.factors;
  const users = plays.rows;
  const items = plays.cols;

  const userConfidence = weigh(plays, options, kernels.float32(plays.data.length));
  checkConfidences(userConfidence, plays.data, options, 'input');
  // randomFactors(·, seededRandom(seed)) for the users, then on with the same draws for the items
  const userFactors = kernels.float32(users * f);
  kernels.uniformFill(userFactors, options.seed, 0, 0.01);
  const itemFactors = kernels.float32(items * f);
  kernels.uniformFill(itemFactors, options.seed, users * f, 0.01);
  // the plays' structure in kernel memory first: the transpose reads it there, on every thread
  const userIndptr = kernelCopy(kernels, plays.indptr);
  const userIndices = kernelCopy(kernels, plays.indices);
  const itemUsers = kernels.transpose(users, items, userIndptr, userIndices, userConfidence);
  // frequency-scaled λ: one per row, added by the solvers; otherwise λ goes into YᵀY once, as always
  const perRow = scalesRegularization(options);
  const userStep: HalfStep = {
    X: userFactors,
    Y: itemFactors,
    factors: f,
    indptr: userIndptr,
    indices: userIndices,
    confidence: userConfidence,
    YtY: new Float64Array(f * f),
  };
  const itemStep: HalfStep = {
    X: itemFactors,
    Y: userFactors,
    factors: f,
    indptr: itemUsers.indptr,
    indices: itemUsers.indices,
    confidence: itemUsers.data,
    YtY: new Float64Array(f * f),
  };
  if (perRow) {
    userStep.rowRegularization = rowRegularizations(options, userStep.indptr, items, kernels.float32(users));
    itemStep.rowRegularization = rowRegularizations(options, itemStep.indptr, users, kernels.float32(items));
  }
  const gramianLambda = perRow ? 0 : options.regularization;

  const total = options.iterations * (users + items);
  let done = 0;
  const halfStep = async (step: HalfStep, rows: number, otherRows: number, iteration: number) => {
    kernels.gramian(step.Y, otherRows, f, gramianLambda, step.YtY);
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
      const regularization =
        userStep.rowRegularization !== undefined && itemStep.rowRegularization !== undefined
          ? { users: userStep.rowRegularization, items: itemStep.rowRegularization }
          : options.regularization;
      report.loss = alsLoss(userStep, items, regularization, kernels);
      losses.push(report.loss);
    }
    checkIteration(userStep, itemStep, [users, items], iteration, options, kernels, report.loss);
    callbacks.onIteration?.(report);
  }
  // still in the kernels' memory: trainFactors copies them out
  return {
    userFactors,
    itemFactors,
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
  return trainOnRead(checkInteractions('data', data), options, callbacks);
}

/**
 * train() of interactions that readInteractions has just returned, unchanged since (the CLI's):
 * the checks of their matrix and names (a pass over every entry: 0.14 s at the 360K shape) are
 * the reader's own guarantees, so they are not made again; options and callbacks are checked.
 *
 * factorsInPlace: the factors stay where training left them, views of the kernels' memory (their
 * worker threads ended), for a caller that saves the model and lets it go: no copy of them while
 * that memory is held (167 MB more at the 360K shape, the train's peak), but the whole memory
 * (0.5 GB there) lives as long as the model does.
 */
export async function trainOnRead(
  data: Interactions,
  options: Partial<TrainOptions> = {},
  callbacks: TrainCallbacks = {},
  { factorsInPlace = false }: { factorsInPlace?: boolean } = {},
): Promise<AlsModel & { seconds: number }> {
  const resolved = resolveTrainOptions(checkOptions('options', options));
  callbacks = checkCallbacks(callbacks);
  const factors = await fitFactors(data.userItems, resolved, callbacks, 'wasm', factorsInPlace);
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
    itemUserCounts: columnCounts(data.userItems),
    options: resolved,
    input: { file, format, rows, used, skipped, zeroCounts, duplicates, header },
    losses: factors.losses,
    seconds: factors.seconds,
  };
}
