import { availableParallelism } from 'node:os';
import { AlsError, quoteForMessage } from '../errors.js';
import { num, valueForMessage } from '../validate.js';

export const WEIGHTINGS = ['linear', 'log', 'bm25'] as const;
export type Weighting = (typeof WEIGHTINGS)[number];
export const SOLVERS = ['cg', 'naive'] as const;
export type Solver = (typeof SOLVERS)[number];

export interface TrainOptions {
  /** latent factors per user and item */
  factors: number;
  /** alternating iterations (one user half-step and one item half-step each) */
  iterations: number;
  /**
   * λ in the loss Σᵤ λᵤ‖xᵤ‖² + Σᵢ λᵢ‖yᵢ‖², where each row's λ is scaled by its frequency
   * (regularizationExponent, regularizationAlpha0); with the default exponent 0 every row has λ.
   * @default 10
   */
  regularization: number;
  /**
   * ν of frequency-scaled regularization (Rendle, Krichene, Zhang & Koren, RecSys 2022, "Revisiting
   * the Performance of iALS on Item Recommendation Benchmarks", §3): user u gets
   * λᵤ = λ·(|Iᵤ| + α₀·|I|)^ν and item i gets λᵢ = λ·(|Uᵢ| + α₀·|U|)^ν, |Iᵤ| the user's observed
   * items, |I| the number of items (and alike for items). 0 gives every row λ (bit for bit the
   * constant λ); 1 with α₀ = 0 is Spark's ALS-WR (λ·nᵤ). From 0 to 2.
   * @default 0
   */
  regularizationExponent: number;
  /** α₀ of frequency-scaled regularization (see regularizationExponent), from 0 to 1000. @default 0 */
  regularizationAlpha0: number;
  /** α in c = 1 + α·w(r), w given by `weighting` */
  alpha: number;
  weighting: Weighting;
  /** BM25's saturation K1 and length normalisation B (weighting bm25 only) */
  bm25K1: number;
  bm25B: number;
  solver: Solver;
  /** conjugate-gradient steps per row and half-step (solver cg only) */
  cgSteps: number;
  /** seeds the random initial factors */
  seed: number;
  /** worker threads for the row updates (WebAssembly kernels) */
  threads: number;
  /** compute the loss after every iteration (costs about one CG step) */
  computeLoss: boolean;
}

/**
 * Upper limits of α, λ and BM25's K1. No useful setting comes near them (tune searches α and λ in
 * 0.001..100); they keep every option a number that float32 holds with room to spare, so that
 * YᵀY + λI stays finite and the confidences 1 + α·w(r) can be checked against
 * MAX_CONFIDENCE (weighting.ts) without overflowing first.
 */
/** The most latent factors a model has (training refuses more, loading a model with more is refused). */
export const MAX_FACTORS = 1024;

export const MAX_ALPHA = 1e6;
export const MAX_LAMBDA = 1e6;
export const MAX_BM25_K1 = 1e6;
/**
 * Limits of ν and α₀ (regularizationExponent, regularizationAlpha0). The paper's grids stay within
 * ν ≤ 1 and α₀ ≤ 1; with these limits a row's λ stays below λ·(2³¹ + 1000·2³¹)² ≈ 4.6e24·λ, which
 * float32 holds for every λ ≤ MAX_LAMBDA.
 */
export const MAX_LAMBDA_EXPONENT = 2;
export const MAX_LAMBDA_ALPHA0 = 1000;

/**
 * α by weighting. log's 2, with λ = 10, did best in the worst case over three data sets in
 * scripts/grid.js (the Last.fm sample, the sample with every count set to 1, 1M synthetic rows):
 * within 7% of each set's best precision@10, where log α=2 λ=1 came within 12%, bm25 α=1 fell to
 * 44% of the best (synthetic) and the paper's linear α=40 to 12%. docs/choosing-settings.md:
 * "Choosing the defaults".
 */
export const DEFAULT_ALPHA: Record<Weighting, number> = { linear: 40, log: 2, bm25: 1 };

export function defaultTrainOptions(): TrainOptions {
  return {
    factors: 64,
    iterations: 15,
    regularization: 10,
    regularizationExponent: 0,
    regularizationAlpha0: 0,
    alpha: DEFAULT_ALPHA.log,
    weighting: 'log',
    bm25K1: 100,
    bm25B: 0.8,
    solver: 'cg',
    cgSteps: 3,
    seed: 1,
    threads: availableParallelism(),
    computeLoss: false,
  };
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new AlsError('usage', message);
}

function isInteger(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

function inRange(value: number, min: number, max: number): boolean {
  return typeof value === 'number' && value >= min && value <= max;
}

/**
 * Fills in defaults and checks every value; throws AlsError('usage') naming the first bad one.
 * When `alpha` is not given it follows the weighting (DEFAULT_ALPHA).
 */
export function resolveTrainOptions(given: Partial<TrainOptions> = {}): TrainOptions {
  if (typeof given !== 'object' || given === null || Array.isArray(given))
    throw new AlsError('usage', `training options must be an object, not ${given === null ? 'null' : typeof given}`);
  const defaults = defaultTrainOptions();
  // a misspelt option (lambda, alhpa) would otherwise train with the default, silently
  for (const key of Object.keys(given)) {
    if (!Object.hasOwn(defaults, key)) {
      const hint = key === 'lambda' ? ' (λ is regularization)' : '';
      throw new AlsError(
        'usage',
        `unknown training option ${quoteForMessage(key)}${hint}; the options are ${Object.keys(defaults).join(', ')}`,
      );
    }
  }
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const options: TrainOptions = { ...defaults, ...defined };
  if (given.alpha === undefined && WEIGHTINGS.includes(options.weighting))
    options.alpha = DEFAULT_ALPHA[options.weighting];

  check(
    WEIGHTINGS.includes(options.weighting),
    `unknown weighting ${valueForMessage(options.weighting)} (expected one of: ${WEIGHTINGS.join(', ')})`,
  );
  check(
    SOLVERS.includes(options.solver),
    `unknown solver ${valueForMessage(options.solver)} (expected one of: ${SOLVERS.join(', ')})`,
  );
  check(
    isInteger(options.factors, 1, MAX_FACTORS),
    `factors must be a whole number from 1 to ${MAX_FACTORS}, not ${valueForMessage(options.factors)}`,
  );
  check(
    isInteger(options.iterations, 1, 10000),
    `iterations must be a whole number from 1 to 10000, not ${valueForMessage(options.iterations)}`,
  );
  check(
    isInteger(options.cgSteps, 1, 1024),
    `cg-steps must be a whole number from 1 to 1024, not ${valueForMessage(options.cgSteps)}`,
  );
  check(
    isInteger(options.threads, 1, 1024),
    `threads must be a whole number from 1 to 1024, not ${valueForMessage(options.threads)}`,
  );
  check(
    isInteger(options.seed, 0, 2 ** 32 - 1),
    `seed must be a whole number from 0 to 4294967295, not ${valueForMessage(options.seed)}`,
  );
  check(
    inRange(options.regularization, 0, MAX_LAMBDA),
    `lambda must be a number from 0 to ${num(MAX_LAMBDA)}, not ${valueForMessage(options.regularization)}`,
  );
  check(
    inRange(options.regularizationExponent, 0, MAX_LAMBDA_EXPONENT),
    `regularizationExponent (ν) must be a number from 0 to ${MAX_LAMBDA_EXPONENT}, not ${valueForMessage(options.regularizationExponent)}`,
  );
  check(
    inRange(options.regularizationAlpha0, 0, MAX_LAMBDA_ALPHA0),
    `regularizationAlpha0 (α₀) must be a number from 0 to ${MAX_LAMBDA_ALPHA0}, not ${valueForMessage(options.regularizationAlpha0)}`,
  );
  check(
    inRange(options.alpha, 0, MAX_ALPHA),
    `alpha must be a number from 0 to ${num(MAX_ALPHA)}, not ${valueForMessage(options.alpha)}`,
  );
  check(
    inRange(options.bm25K1, 0, MAX_BM25_K1),
    `bm25K1 must be a number from 0 to ${num(MAX_BM25_K1)}, not ${valueForMessage(options.bm25K1)}`,
  );
  check(
    Number.isFinite(options.bm25B) && options.bm25B >= 0 && options.bm25B <= 1,
    `bm25 B must be a number from 0 to 1, not ${valueForMessage(options.bm25B)}`,
  );
  check(typeof options.computeLoss === 'boolean', 'computeLoss must be true or false');
  return options;
}

/**
 * The solvers that solve each row's f × f system exactly (Cholesky, and for a singular system
 * ml-matrix's SVD in JavaScript, about a second per row at 1024 factors); CG only iterates on it
 * and never inverts it.
 */
export const EXACT_SOLVERS: readonly Solver[] = ['naive'];

/** How a message names the options of singularSystems (the CLI: --factors, --lambda, --solver). */
export interface OptionNames {
  factors: string;
  lambda: string;
  solver: string;
}

const LIBRARY_NAMES: OptionNames = { factors: 'factors', lambda: 'lambda', solver: 'solver' };

/**
 * Why training `users` × `items` with these options would solve singular systems by construction,
 * or null. A user's system YᵀCᵤY + λI has rank at most min(items, f) when λ = 0 (and an item's
 * min(users, f)), so with more factors than min(users, items) every row of one side is singular,
 * and an exact solver sends each to the SVD fallback: a 3-row file at 1024 factors took 2 min 52 s
 * per iteration, and 3,000 rows at 256 factors over 11 minutes for 5 iterations.
 *
 * @param names how the message names the options
 */
export function singularSystems(
  users: number,
  items: number,
  options: Pick<TrainOptions, 'factors' | 'regularization' | 'solver'>,
  names: OptionNames = LIBRARY_NAMES,
): string | null {
  const rank = Math.min(users, items);
  if (options.regularization !== 0 || !EXACT_SOLVERS.includes(options.solver) || options.factors <= rank) return null;
  const side = users <= items ? 'item' : 'user';
  return (
    `${names.factors} ${options.factors} with ${names.lambda} 0 and ${names.solver} ${options.solver}: the data have ${users} users and ${items} items, ` +
    `so every ${side}'s least-squares system is singular (rank at most ${rank}) and would be solved the slow way; ` +
    `give ${names.factors} ${rank} or fewer, a ${names.lambda} above 0, or ${names.solver} cg`
  );
}
