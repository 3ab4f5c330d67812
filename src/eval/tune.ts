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

/** The options the search varies; any of them given in `fixed` is held instead (ν also when λ is given). */
export const TUNED_OPTIONS = [
  'weighting',
  'alpha',
  'regularization',
  'regularizationExponent',
  'factors',
  'iterations',
] as const;
export type TunedOption = (typeof TUNED_OPTIONS)[number];

/** Settings drawn (the defaults and 7 brackets of 9): the work of about 22 full trainings with halving. */
export const DEFAULT_TRIALS = 64;
export const DEFAULT_TIME_BUDGET_SECONDS = 600;
export const DEFAULT_TUNE_METRIC: TuneMetric = 'ndcg';

/**
 * Where α is drawn from, log-uniformly, per weighting. log and bm25 compress the counts first.
 * linear multiplies the raw counts, so its range is divided by the median count of the data: on
 * 0/1 data it reaches α = 300 (linear wants a larger α than log for the same confidence: log
 * gives a count of 1 the weight ln 2), on Last.fm play counts (median 260) α ≈ 0.0004 to 1.2.
 */
export const ALPHA_RANGE: Record<Weighting, [number, number]> = {
  linear: [0.1, 300],
  log: [0.1, 100],
  bm25: [0.01, 100],
};
/** λ for ν = 0; for ν = 1 (λ·n) both ends are multiplied by 0.03, as lambdaForExponent rescales. */
export const LAMBDA_RANGE: [number, number] = [0.01, 100];
/** ν drawn when neither λ nor ν is given: the constant λ, or λ·n (Rendle et al. 2022's best). */
export const EXPONENT_CHOICES = [0, 1] as const;
/** About log-uniform from 32 to 256 (Rendle et al. 2022 double the dimension until it plateaus). */
export const FACTOR_CHOICES = [32, 48, 64, 96, 128, 192, 256] as const;
export const ITERATION_CHOICES = [5, 10, 15, 20] as const;

export interface TuneOptions {
  /** how many settings to try at most (default 64; the first is the defaults); most train with few iterations only */
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
  /**
   * the first trial's settings, beneath `fixed`: the defaults that the best is compared with
   * (default: the library's; als tune passes its data rule's, as als train would choose them)
   */
  defaults?: Partial<TrainOptions>;
  kernels?: Kernels;
}

export interface Trial {
  /** 1-based: the order in which the settings were drawn (1 is the defaults) */
  number: number;
  /** the setting; `options.iterations` is its full count, which the last rung trains */
  options: TrainOptions;
  /** on the validation split, after `trainedIterations` iterations (its highest rung so far) */
  metrics: Metrics;
  /** the iterations of the last training: fewer than `options.iterations` if it was not promoted to the top */
  trainedIterations: number;
  /** every rung trained, lowest first */
  rungs: { iterations: number; metrics: Metrics; seconds: number }[];
  /** training alone, summed over the rungs */
  trainSeconds: number;
  /** training and scoring, summed over the rungs */
  seconds: number;
}

/** The best metric at full iterations after each training of the search (the curve of `als tune`). */
export interface BestSoFar {
  /** settings drawn so far */
  settings: number;
  /** trainings so far, rungs included */
  trainings: number;
  /** seconds of searching so far */
  seconds: number;
  /** the best metric of a setting trained to its full iterations so far */
  best: number;
  /** the number of that setting */
  bestNumber: number;
}

export interface TuneResult {
  metric: TuneMetric;
  k: number;
  /** one per setting tried, in the order drawn; see Trial.trainedIterations for how far each went */
  trials: Trial[];
  /** the setting with the highest metric among those trained to their full iterations (the earliest of equals) */
  best: Trial;
  /** after every training of the search */
  bestSoFar: BestSoFar[];
  /**
   * The best was drawn in the last quarter of the settings tried, or the time budget ended the
   * search: more trials would likely find better settings.
   */
  moreTrialsLikelyHelp: boolean;
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
  /** before a training; `number` is the setting's (1-based), `iterations` those of this rung */
  onTrialStart?(number: number, options: TrainOptions, iterations: number): void;
  /** training progress of the current trial or check */
  onProgress?(done: number, total: number): void;
  /** after every training, rungs included; `best` is the best at full iterations so far */
  onTrial?(trial: Trial, best: Trial): void;
  /** before the final check on the test split */
  onCheck?(): void;
}

/**
 * Successive halving (Jamieson & Talwalkar, AISTATS 2016; one bracket of Hyperband, Li et al.,
 * JMLR 2018): the settings after the defaults come in brackets of up to HALVING_RATE² = 9. A
 * bracket trains all of them with a ninth of their iterations, the best third again with a third,
 * and the best of those with all: 9 + 3 + 1 trainings that cost about 3 full ones. A bracket of
 * n < 9 settings has fewer rungs. Returns how many settings each rung trains, lowest rung first.
 */
export function halvingSchedule(settings: number): number[] {
  checkWhole('settings', settings, 1);
  let rungs = 0;
  while (rungs < HALVING_RUNGS && HALVING_RATE ** (rungs + 1) <= settings) rungs++;
  const counts = [settings];
  for (let r = 0; r < rungs; r++) counts.push(Math.max(1, Math.floor(counts[r] / HALVING_RATE)));
  return counts;
}

/** Each rung keeps the best 1/HALVING_RATE of the settings below it. */
export const HALVING_RATE = 3;
/** Rungs below the full iterations: a bracket trains with 1/9, 1/3, then all the iterations. */
export const HALVING_RUNGS = 2;

/** The iterations of rung `rung` (0-based) of `rungs` for a setting of `iterations` in full. */
function rungIterations(iterations: number, rung: number, rungs: number): number {
  return Math.max(1, Math.ceil(iterations / HALVING_RATE ** (rungs - rung)));
}

/** The options the search varies, given what is held fixed: ν only when neither λ nor ν is given. */
export function searchedOptions(fixed: Partial<TrainOptions>): TunedOption[] {
  return TUNED_OPTIONS.filter((name) =>
    name === 'regularizationExponent'
      ? fixed.regularizationExponent === undefined && fixed.regularization === undefined
      : fixed[name] === undefined,
  );
}

/**
 * Searches training settings for the best `metric` on a validation split: the data are split per
 * user into train and test (as `evaluate` does); the train part is split again into fit and
 * validation. Each training fits on fit and is scored on validation. The first trial is the
 * defaults (with `fixed` applied), trained in full. The rest come in brackets of successive
 * halving (halvingSchedule): many settings trained with few iterations, the best third promoted
 * to more, the best of those to their full iterations. The first bracket draws at random from the
 * search space; later ones draw half at random and half near the best settings so far. Only
 * settings trained in full compete for the best. Finally the best and the defaults are trained on
 * the whole train part and scored on test. The same seed gives the same trials.
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
  const first = checkOptions('defaults', options.defaults ?? {});
  const defaults = resolveTrainOptions({
    ...first,
    ...(scaled ? { ...fixed, regularization: lambdaForExponent(fixed.regularizationExponent as number) } : fixed),
  });

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
  const bestSoFar: BestSoFar[] = [];
  let best: Trial | null = null;
  let popularity: Metrics | null = null;
  let stoppedBy = 'trials' as TuneResult['stoppedBy'];
  let trainings = 0;
  let spentSeconds = 0;
  let spentUnits = 0;
  const searchStarted = performance.now();

  /** Trains `trial` with `iterations`; false if it failed (left out) or the budget ran out (stoppedBy). */
  const run = async (trial: Trial, iterations: number): Promise<boolean> => {
    const trainOptions = { ...trial.options, iterations };
    const elapsed = (performance.now() - searchStarted) / 1000;
    // the defaults always run; later trainings only if they are expected to end within the budget
    const secondsPerUnit = spentUnits > 0 ? spentSeconds / spentUnits : 0;
    if (trial.number > 1 && elapsed + secondsPerUnit * workUnits(trainOptions) > budget) {
      stoppedBy = 'time';
      return false;
    }
    callbacks.onTrialStart?.(trial.number, trial.options, iterations);
    let result: Awaited<ReturnType<typeof score>>;
    try {
      result = await score(inner, trainOptions, trial.number === 1);
    } catch (error) {
      // the defaults are the caller's settings: their failure is the caller's to see
      if (trial.number === 1 || !(error instanceof AlsError) || error.code !== 'input') throw error;
      failed.push({ number: trial.number, options: trial.options, reason: error.message });
      return false;
    }
    if (trial.number === 1) popularity = result.popularity;
    trainings++;
    spentSeconds += result.seconds;
    spentUnits += workUnits(trainOptions);
    trial.metrics = result.model;
    trial.trainedIterations = iterations;
    trial.rungs.push({ iterations, metrics: result.model, seconds: result.seconds });
    trial.trainSeconds += result.trainSeconds;
    trial.seconds += result.seconds;
    if (!done.includes(trial)) done.push(trial);
    if (iterations === trial.options.iterations && (best === null || trial.metrics[metric] > best.metrics[metric]))
      best = trial;
    const winner = best as Trial;
    bestSoFar.push({
      settings: done.length,
      trainings,
      seconds: (performance.now() - searchStarted) / 1000,
      best: winner.metrics[metric],
      bestNumber: winner.number,
    });
    callbacks.onTrial?.(trial, winner);
    return true;
  };
  const newTrial = (number: number, trialOptions: TrainOptions): Trial => ({
    number,
    options: trialOptions,
    metrics: {} as Metrics,
    trainedIterations: 0,
    rungs: [],
    trainSeconds: 0,
    seconds: 0,
  });

  await run(newTrial(1, defaults), defaults.iterations);
  let drawn = 1;
  search: while (drawn < trials) {
    const size = Math.min(HALVING_RATE ** HALVING_RUNGS, trials - drawn);
    const schedule = halvingSchedule(size);
    // the first bracket explores; later ones draw half near the best settings trained in full so far
    const near = drawn === 1 ? [] : topFull(done, metric, HALVING_RATE);
    let rung: Trial[] = [];
    for (let n = 0; n < size; n++) rung.push(newTrial(drawn + n + 1, sampler.next(near)));
    drawn += size;
    for (let r = 0; r < schedule.length; r++) {
      if (r > 0) rung = ranked(rung, metric).slice(0, schedule[r]);
      const trained: Trial[] = [];
      for (const trial of rung) {
        const iterations = rungIterations(trial.options.iterations, r, schedule.length - 1);
        // a rung with the iterations of the one below (few iterations in full) needs no new training
        if (trial.trainedIterations === iterations || (await run(trial, iterations))) trained.push(trial);
        else if (stoppedBy === 'time') break search;
      }
      rung = trained;
      if (rung.length === 0) break;
    }
  }
  const searchSeconds = (performance.now() - searchStarted) / 1000;
  const winner = best as unknown as Trial;

  callbacks.onCheck?.();
  const bestOnTest = await score(outer, winner.options, true);
  const defaultsOnTest = winner.number === 1 ? bestOnTest : await score(outer, defaults, false);
  return {
    metric,
    k,
    trials: done.sort((a, b) => a.number - b.number),
    best: winner,
    bestSoFar,
    moreTrialsLikelyHelp: stoppedBy === 'time' || (drawn >= 8 && winner.number > 0.75 * drawn),
    popularity: popularity as unknown as Metrics,
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

/** Best first by `metric` at the rung each was last trained at; the earlier setting of equals first. */
function ranked(trials: Trial[], metric: TuneMetric): Trial[] {
  return [...trials].sort((a, b) => b.metrics[metric] - a.metrics[metric] || a.number - b.number);
}

/** The best `count` settings trained to their full iterations. */
function topFull(trials: Trial[], metric: TuneMetric, count: number): TrainOptions[] {
  return ranked(
    trials.filter((t) => t.trainedIterations === t.options.iterations),
    metric,
  )
    .slice(0, count)
    .map((t) => t.options);
}

/**
 * ALPHA_RANGE, with linear's divided by the median count, and its top lowered so that the largest
 * count's confidence stays within MAX_CONFIDENCE (counts of 1e8 with α = 100 would make every such
 * trial fail).
 */
function alphaRanges(plays: CsrMatrix): Record<Weighting, [number, number]> {
  let largest = 0;
  for (let n = 0; n < plays.data.length; n++) if (plays.data[n] > largest) largest = plays.data[n];
  const median = Math.max(1, medianOf(plays.data));
  const [low, high] = ALPHA_RANGE.linear.map((a) => a / median);
  const top = Math.max(low, Math.min(high, (MAX_CONFIDENCE - 1) / largest / 2));
  return { ...ALPHA_RANGE, linear: [low, top] };
}

function medianOf(values: Float32Array): number {
  if (values.length === 0) return 1;
  const sorted = Float32Array.from(values).sort();
  return sorted[sorted.length >> 1];
}

/** LAMBDA_RANGE rescaled for ν as lambdaForExponent is: 10·0.03^ν in the middle (geometrically). */
function lambdaRange(nu: number): [number, number] {
  const scale = 0.03 ** nu;
  return [LAMBDA_RANGE[0] * scale, LAMBDA_RANGE[1] * scale];
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

  /** Random settings, or (half the time, when `near` has any) a perturbation of one of `near`. */
  next(near: readonly TrainOptions[]): TrainOptions {
    const drawn = near.length === 0 || this.random() < 0.5 ? this.uniform() : this.perturb(this.pick(near));
    // held options win; alpha follows a held weighting only through the draw above
    return resolveTrainOptions({ ...drawn, ...definedOnly(this.fixed) });
  }

  /** ν as held, as drawn (when neither ν nor λ is held), or 0 (a held λ is a constant λ). */
  private exponent(): number {
    if (this.fixed.regularizationExponent !== undefined) return this.fixed.regularizationExponent;
    return this.fixed.regularization === undefined ? this.pick(EXPONENT_CHOICES) : 0;
  }

  private uniform(): Partial<TrainOptions> {
    const weighting = this.fixed.weighting ?? this.pick(WEIGHTINGS);
    const nu = this.exponent();
    return {
      weighting,
      alpha: this.logUniform(this.alphaRange[weighting]),
      regularization: this.logUniform(lambdaRange(nu)),
      regularizationExponent: nu,
      factors: this.pick(FACTOR_CHOICES),
      iterations: this.pick(ITERATION_CHOICES),
    };
  }

  private perturb(near: TrainOptions): Partial<TrainOptions> {
    // now and then another weighting, so that one lucky early draw does not decide it
    if (this.fixed.weighting === undefined && this.random() < 0.15) return this.uniform();
    const [alphaLow, alphaHigh] = this.alphaRange[near.weighting];
    const [lambdaLow, lambdaHigh] = lambdaRange(near.regularizationExponent);
    return {
      weighting: near.weighting,
      alpha: round2(clamp(near.alpha * Math.exp(0.7 * this.normal()), alphaLow, alphaHigh)),
      regularization: round2(clamp(near.regularization * Math.exp(0.7 * this.normal()), lambdaLow, lambdaHigh)),
      regularizationExponent: near.regularizationExponent,
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
