import { checkNumber, checkOptions, checkWhole } from '../validate.js';
import type { TrainOptions } from './options.js';

/** The options that set each row's λ. */
export type RegularizationOptions = Pick<
  TrainOptions,
  'regularization' | 'regularizationExponent' | 'regularizationAlpha0'
>;

/**
 * Whether the options give rows different λ (frequency-scaled regularization): ν ≠ 0 and λ ≠ 0.
 * Otherwise every row has λ itself and training adds it once to YᵀY, as it always has.
 */
export function scalesRegularization(options: RegularizationOptions): boolean {
  checkRegularizationOptions(options);
  return options.regularizationExponent !== 0 && options.regularization !== 0;
}

/** Checks the three options as numbers (AlsError('usage')); their ranges are resolveTrainOptions'. */
function checkRegularizationOptions(options: RegularizationOptions): void {
  checkOptions('options', options);
  checkNumber('options.regularization', options.regularization);
  checkNumber('options.regularizationExponent', options.regularizationExponent);
  checkNumber('options.regularizationAlpha0', options.regularizationAlpha0);
}

/**
 * The λ of one row with `observed` entries on a side whose other side has `others` rows
 * (Rendle, Krichene, Zhang & Koren, RecSys 2022, §3): λ·(observed + α₀·others)^ν, computed in
 * float64 and rounded to float32, the precision training keeps it in (so that a fold-in adds
 * the very number training added). 0 when observed = 0 and α₀ = 0 with ν > 0: such a row has
 * no data, and its factors are 0 (the solvers set them so; see HalfStep.rowRegularization).
 */
export function rowRegularization(options: RegularizationOptions, observed: number, others: number): number {
  checkRegularizationOptions(options);
  checkWhole('observed', observed, 0);
  checkWhole('others', others, 0);
  return lambdaOf(options, observed, others);
}

function lambdaOf(options: RegularizationOptions, observed: number, others: number): number {
  const { regularization: lambda, regularizationExponent: nu, regularizationAlpha0: alpha0 } = options;
  if (nu === 0) return lambda;
  return Math.fround(lambda * Math.pow(observed + alpha0 * others, nu));
}

/**
 * `out`[r] = rowRegularization for every row r of a CSR side (`indptr` with rows + 1 entries)
 * whose other side has `others` rows. `out` comes from the kernels, so that they read it in place.
 */
export function rowRegularizations(
  options: RegularizationOptions,
  indptr: Int32Array,
  others: number,
  out: Float32Array,
): Float32Array {
  checkRegularizationOptions(options);
  for (let r = 0; r + 1 < indptr.length; r++) out[r] = lambdaOf(options, indptr[r + 1] - indptr[r], others);
  return out;
}
