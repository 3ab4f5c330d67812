import { lambdaForExponent } from '../als/dataDefaults.js';
import { resolveTrainOptions, WEIGHTINGS, type TrainOptions, type Weighting } from '../als/options.js';
import { seededRandom } from '../als/random.js';
import { trainFactors } from '../als/train.js';
import { checkCallbacks, checkCsr, checkKernels, checkOptions, checkWhole, valueForMessage } from '../validate.js';

/** The most trials a search takes (the time budget ends most searches long before). */
const MAX_TRIALS = 100_000;
import { MAX_CONFIDENCE } from '../als/weighting.js';
import type { CsrMatrix } from '../data/sparse.js';
import { AlsError } from '../errors.js';
import type { Kernels } from '../kernels/index.js';
import { DEFAULT_EVAL_K, scoreSplit } from './evaluate.js';
import type { Metrics } from './metrics.js';
import { DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION, splitByUser, type Split } from './split.js';

export const TUNE_METRICS = ['precision', 'recall', 'map', 'ndcg', 'auc'] as const;
export type TuneMetric = (typeof TUNE_METRICS)[number];

/** The options the search varies; any of them given in `fixed` is held instead. */
export const TUNED_OPTIONS = ['weighting', 'alpha', 'regularization', 'factors', 'iterations'] as const;
export type TunedOption = (typeof TUNED_OPTIONS)[number];

export const DEFAULT_TRIALS = 30;
export const DEFAULT_TIME_BUDGET_SECONDS = 600;
export const DEFAULT_TUNE_METRIC: TuneMetric = 'ndcg';

/**
 * Where α is drawn from, log-uniformly, per weighting: linear multiplies raw play counts (up
 * to hundreds of thousands on Last.fm), so its useful α is far smaller than the paper's 40;
 * log and bm25 compress the counts first.
 */
export const ALPHA_RANGE: Record<Weighting, [number, number]> = {
  linear: [0.001, 100],
  log: [0.1, 100],
  bm25: [0.01, 100],
};
export const LAMBDA_RANGE: [number, number] = [0.01, 100];
export const FACTOR_CHOICES = [16, 32, 64, 128] as const;
export const ITERATION_CHOICES = [5, 10, 15, 20] as const;

export interface TuneOptions {
  /** how many settings to try at most (default 30; the first is the defaults) */
  trials?: number;
  /** no trial starts that would end after this many seconds of searching (default 600) */
  timeBudgetSeconds?: number;
  /** length of the recommendation lists scored (default 10) */
  k?: number;
  /** what the search maximises (default ndcg) */
  metric?: TuneMetric;
  /** share of each user's items held out, for the test split and again for validation (default 0.2) */
  testFraction?: number;
  /** seeds the splits and the search; the same seed gives the same trials (default 1) */
  seed?: number;
  /** options held fixed; those among TUNED_OPTIONS are then not searched */
  fixed?: Partial<TrainOptions>;
  kernels?: Kernels;
}

export interface Trial {
  /** 1-based */
  number: number;
  options: TrainOptions;
  /** on the validation split */
  metrics: Metrics;
  /** training alone */
  trainSeconds: number;
  /** training and scoring */
  seconds: number;
}

export interface TuneResult {
  metric: TuneMetric;
  k: number;
  trials: Trial[];
  /** the trial with the highest metric (the earliest of equals) */
  best: Trial;
  /** the popularity baseline on the validation split */
  popularity: Metrics;
  /**
   * The best settings and the defaults, each trained on the whole train part and scored on the
   * test split, which the search never saw: an honest estimate of what tuning gained.
   */
  test: { best: Metrics; defaults: Metrics; popularity: Metrics };
  stoppedBy: 'trials' | 'time';
  /**
   * Drawn settings whose training failed on these data (AlsError 'input': a confidence above
   * MAX_CONFIDENCE, factors that were not finite or all 0); the search went on without them.
   */
  failed: { number: number; options: TrainOptions; reason: string }[];
  /** the search (all trials), without the final check */
  searchSeconds: number;
  /** interactions in each part, and users with held-out items in validation and test */
  sizes: { fit: number; validation: number; test: number; validationUsers: number; testUsers: number };
}

export interface TuneCallbacks {
  /** before a trial trains; `number` is 1-based */
  onTrialStart?(number: number, options: TrainOptions): void;
  /** training progress of the current trial or check */
  onProgress?(done: number, total: number): void;
  onTrial?(trial: Trial, best: Trial): void;
  /** before the final check on the test split */
  onCheck?(): void;
}

/**
 * Searches training settings for the best `metric` on a validation split: the data are split per
 * user into train and test (as `evaluate` does); the train part is split again into fit and
 * validation. Each trial trains on fit and is scored on validation. The first trial is the
 * defaults (with `fixed` applied), the first half of the rest are drawn at random from the search
 * space, the second half perturb the best so far. Finally the best and the defaults are trained
 * on the whole train part and scored on test.
 */
export async function tune(
  plays: CsrMatrix,
  options: TuneOptions = {},
  callbacks: TuneCallbacks = {},
): Promise<TuneResult> {
  checkCsr('plays', plays);
  options = checkOptions('options', options);
  callbacks = checkCallbacks(callbacks);
  checkKernels(options.kernels);
  const trials = options.trials ?? DEFAULT_TRIALS;
  const budget = options.timeBudgetSeconds ?? DEFAULT_TIME_BUDGET_SECONDS;
  const k = options.k ?? DEFAULT_EVAL_K;
  const metric = options.metric ?? DEFAULT_TUNE_METRIC;
  const seed = options.seed ?? DEFAULT_SPLIT_SEED;
  const testFraction = options.testFraction ?? DEFAULT_TEST_FRACTION;
  // trials are "at most": the time budget ends a search; far more than a budget allows is a typo
  checkWhole('trials', trials, 1, MAX_TRIALS);
  if (typeof budget !== 'number' || !(budget > 0))
    throw new AlsError('usage', `the time budget must be more than 0 seconds, not ${valueForMessage(budget)}`);
  checkWhole('k', k, 1);
  checkWhole('seed', seed, 0, 2 ** 32 - 2);
  if (!TUNE_METRICS.includes(metric))
    throw new AlsError(
      'usage',
      `unknown metric ${valueForMessage(metric)} (expected one of: ${TUNE_METRICS.join(', ')})`,
    );
  const fixed = checkOptions('fixed', options.fixed);
  // a fixed ν without a fixed λ: the defaults trial takes the λ of that scale, not 10·n (issue 12)
  const scaled =
    fixed.regularizationExponent !== undefined &&
    fixed.regularization === undefined &&
    typeof fixed.regularizationExponent === 'number';
  const defaults = resolveTrainOptions(
    scaled ? { ...fixed, regularization: lambdaForExponent(fixed.regularizationExponent as number) } : fixed,
  );

  const outer = splitByUser(plays, { testFraction, seed });
  // a different seed, so that validation is not the same users' "first" items again
  const inner = splitByUser(outer.train, { testFraction, seed: seed + 1 });
  if (inner.testUsers.length === 0)
    throw new AlsError('input', 'no user has enough interactions (at least 5) to hold some out');

  const score = async (split: Split, trainOptions: TrainOptions, popularity: boolean) => {
    const started = performance.now();
    const factors = await trainFactors(split.train, trainOptions, { onProgress: callbacks.onProgress });
    const scored = scoreSplit(split, factors, {
      k,
      factors: trainOptions.factors,
      kernels: options.kernels,
      popularity,
    });
    return { ...scored, trainSeconds: factors.seconds, seconds: (performance.now() - started) / 1000 };
  };

  const sampler = new SettingsSampler(seededRandom(seed), fixed, alphaRanges(plays));
  const done: Trial[] = [];
  const failed: TuneResult['failed'] = [];
  let best: Trial | null = null;
  let popularity: Metrics | null = null;
  let stoppedBy: TuneResult['stoppedBy'] = 'trials';
  let secondsPerUnit = 0;
  const searchStarted = performance.now();
  for (let number = 1; number <= trials; number++) {
    const trialOptions =
      number === 1
        ? defaults
        : sampler.next(number <= 1 + Math.ceil((trials - 1) / 2) ? null : (best as Trial).options);
    const elapsed = (performance.now() - searchStarted) / 1000;
    // the defaults always run; later trials only if they are expected to end within the budget
    if (number > 1 && elapsed + secondsPerUnit * workUnits(trialOptions) > budget) {
      stoppedBy = 'time';
      break;
    }
    callbacks.onTrialStart?.(number, trialOptions);
    let result: Awaited<ReturnType<typeof score>>;
    try {
      result = await score(inner, trialOptions, number === 1);
    } catch (error) {
      // the defaults are the caller's settings: their failure is the caller's to see
      if (number === 1 || !(error instanceof AlsError) || error.code !== 'input') throw error;
      failed.push({ number, options: trialOptions, reason: error.message });
      continue;
    }
    if (number === 1) popularity = result.popularity;
    const trial: Trial = {
      number,
      options: trialOptions,
      metrics: result.model,
      trainSeconds: result.trainSeconds,
      seconds: result.seconds,
    };
    done.push(trial);
    if (best === null || trial.metrics[metric] > best.metrics[metric]) best = trial;
    secondsPerUnit =
      done.reduce((sum, t) => sum + t.seconds, 0) / done.reduce((sum, t) => sum + workUnits(t.options), 0);
    callbacks.onTrial?.(trial, best);
  }
  const searchSeconds = (performance.now() - searchStarted) / 1000;
  const winner = best as Trial;

  callbacks.onCheck?.();
  const bestOnTest = await score(outer, winner.options, true);
  const defaultsOnTest = winner.number === 1 ? bestOnTest : await score(outer, defaults, false);
  return {
    metric,
    k,
    trials: done,
    best: winner,
    popularity: popularity as Metrics,
    test: { best: bestOnTest.model, defaults: defaultsOnTest.model, popularity: bestOnTest.popularity },
    stoppedBy,
    failed,
    searchSeconds,
    sizes: {
      fit: nnz(inner.train),
      validation: nnz(inner.test),
      test: nnz(outer.test),
      validationUsers: inner.testUsers.length,
      testUsers: outer.testUsers.length,
    },
  };
}

/**
 * ALPHA_RANGE, with linear's top lowered so that the largest count's confidence stays within
 * MAX_CONFIDENCE (counts of 1e8 with α = 100 would make every such trial fail).
 */
function alphaRanges(plays: CsrMatrix): Record<Weighting, [number, number]> {
  let largest = 0;
  for (let n = 0; n < plays.data.length; n++) if (plays.data[n] > largest) largest = plays.data[n];
  const [low, high] = ALPHA_RANGE.linear;
  const top = Math.max(low, Math.min(high, (MAX_CONFIDENCE - 1) / largest / 2));
  return { ...ALPHA_RANGE, linear: [low, top] };
}

function nnz(matrix: CsrMatrix): number {
  return matrix.indptr[matrix.rows];
}

/** Training time grows about linearly with iterations × factors at these sizes: the budget's estimate. */
function workUnits(options: TrainOptions): number {
  return options.iterations * options.factors;
}

/** Two significant digits: the search is not finer than that, and the command line stays readable. */
function round2(x: number): number {
  return Number(x.toPrecision(2));
}

/** Draws settings: uniformly over the space, or near given settings. */
class SettingsSampler {
  constructor(
    private readonly random: () => number,
    private readonly fixed: Partial<TrainOptions>,
    private readonly alphaRange: Record<Weighting, [number, number]> = ALPHA_RANGE,
  ) {}

  /** Random settings when `near` is null, otherwise a perturbation of `near`. */
  next(near: TrainOptions | null): TrainOptions {
    const drawn = near === null ? this.uniform() : this.perturb(near);
    // held options win; alpha follows a held weighting only through the draw above
    return resolveTrainOptions({ ...drawn, ...definedOnly(this.fixed) });
  }

  private uniform(): Partial<TrainOptions> {
    const weighting = this.fixed.weighting ?? this.pick(WEIGHTINGS);
    return {
      weighting,
      alpha: this.logUniform(this.alphaRange[weighting]),
      regularization: this.logUniform(LAMBDA_RANGE),
      factors: this.pick(FACTOR_CHOICES),
      iterations: this.pick(ITERATION_CHOICES),
    };
  }

  private perturb(near: TrainOptions): Partial<TrainOptions> {
    // now and then another weighting, so that one lucky early draw does not decide it
    if (this.fixed.weighting === undefined && this.random() < 0.15) return this.uniform();
    const [alphaLow, alphaHigh] = this.alphaRange[near.weighting];
    return {
      weighting: near.weighting,
      alpha: round2(clamp(near.alpha * Math.exp(0.7 * this.normal()), alphaLow, alphaHigh)),
      regularization: round2(
        clamp(near.regularization * Math.exp(0.7 * this.normal()), LAMBDA_RANGE[0], LAMBDA_RANGE[1]),
      ),
      factors: this.step(FACTOR_CHOICES, near.factors),
      iterations: this.step(ITERATION_CHOICES, near.iterations),
    };
  }

  private pick<T>(choices: readonly T[]): T {
    return choices[Math.floor(this.random() * choices.length)];
  }

  /** The neighbour below or above `value` in `choices` a third of the time each. */
  private step(choices: readonly number[], value: number): number {
    const at = choices.indexOf(value);
    if (at < 0) return value;
    const r = this.random();
    const to = r < 1 / 3 ? at - 1 : r < 2 / 3 ? at + 1 : at;
    return choices[Math.min(choices.length - 1, Math.max(0, to))];
  }

  private logUniform([low, high]: [number, number]): number {
    return round2(Math.exp(Math.log(low) + this.random() * (Math.log(high) - Math.log(low))));
  }

  /** Standard normal (Box–Muller). */
  private normal(): number {
    const u = 1 - this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
  }
}

function clamp(x: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, x));
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
