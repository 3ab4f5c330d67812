import type { TrainOptions } from '../../als/options.js';
import { AlsError } from '../../errors.js';
import { num } from '../../validate.js';

/** How the Spark job turns als's λ into Spark's regParam. */
export type SparkRegularization =
  /** regParam = λ: Spark's λ·n_u is als's λ·|I_u|, the same objective (ν = 1, α₀ = 0) */
  | 'frequency'
  /**
   * regParam = λ·(users + items) / (2·nnz): Spark's λ_s·n_u summed over both sides is
   * 2·λ_s·nnz, the same total weight as als's constant λ over users + items rows. The same
   * strength on average, not the same objective (ν = 0)
   */
  | 'constant';

/**
 * How als's λ maps onto Spark's implicit ALS, whose row u is regularized by regParam·n_u
 * (ALS-WR: `regParam * numExplicits` in Spark's `ALS.computeFactors`, n_u the row's ratings
 * above 0):
 *   ν = 1, α₀ = 0   regParam = λ, exactly als's frequency-scaled objective;
 *   ν = 0           regParam = λ·(users + items)/(2·nnz) (computed by the job once the matrix is
 *                   known): the same total regularization as als's constant λ;
 *   anything else   refused (AlsError('usage')): Spark has no λ·(n_u + α₀·|I|)^ν.
 */
export function sparkRegularization(
  options: Pick<TrainOptions, 'regularization'> &
    Partial<Pick<TrainOptions, 'regularizationExponent' | 'regularizationAlpha0'>>,
): { mode: SparkRegularization; lambda: number } {
  // the built-in engine's frequency-scaled λ (issue 12): λ_u = λ·(|I_u| + α₀·|I|)^ν, ν = 0 the constant λ
  const exponent = options.regularizationExponent ?? 0;
  const alpha0 = options.regularizationAlpha0 ?? 0;
  if (exponent === 0) return { mode: 'constant', lambda: options.regularization };
  if (exponent === 1 && alpha0 === 0) return { mode: 'frequency', lambda: options.regularization };
  throw new AlsError(
    'usage',
    `regularizationExponent ${num(exponent)} with regularizationAlpha0 ${num(alpha0)} has no Spark equivalent: Spark regularizes each row by λ·n ` +
      '(regularizationExponent 1, regularizationAlpha0 0); give those, or regularizationExponent 0 for a constant λ mapped to the same total regularization',
  );
}
