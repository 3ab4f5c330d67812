import type { HalfStep, Kernels } from '../kernels/index.js';
import { AlsError } from '../errors.js';
import { checkArray, checkHalfStep, checkKernels, checkNumber, checkWhole, valueForMessage } from '../validate.js';

function squaredNorm(values: Float32Array): number {
  let sum = 0;
  for (let n = 0; n < values.length; n++) sum += values[n] * values[n];
  return sum;
}

/** The λ of every row of each side (frequency-scaled regularization: regularization.ts). */
export interface RowRegularization {
  /** one λ per user row */
  users: Float32Array;
  /** one λ per item row */
  items: Float32Array;
}

/** Σᵣ λᵣ‖rowᵣ‖² over the rows of a factor matrix with f numbers per row. */
function weightedSquaredNorm(values: Float32Array, f: number, lambdas: Float32Array): number {
  let sum = 0;
  for (let r = 0; r < lambdas.length; r++) {
    let row = 0;
    for (let a = r * f; a < (r + 1) * f; a++) row += values[a] * values[a];
    sum += lambdas[r] * row;
  }
  return sum;
}

/**
 * The objective of Hu, Koren & Volinsky (eq. 3),
 *   Σᵤᵢ cᵤᵢ (pᵤᵢ − xᵤᵀyᵢ)² + λ(Σᵤ‖xᵤ‖² + Σᵢ‖yᵢ‖²),
 * over every user–item pair, divided by the total confidence (Σ c over observed pairs plus one
 * for each unobserved pair) so that it reads as a mean squared error. `users` is the users'
 * half-step (X = user factors, Y = item factors); its YtY and rowRegularization are ignored.
 * `regularization` is λ, or each row's λ (frequency-scaled: Σᵤ λᵤ‖xᵤ‖² + Σᵢ λᵢ‖yᵢ‖²).
 */
export function alsLoss(
  users: HalfStep,
  items: number,
  regularization: number | RowRegularization,
  kernels: Kernels,
): number {
  checkHalfStep('users', users);
  checkWhole('items', items, 0);
  const rows = users.indptr.length - 1;
  if (typeof regularization === 'number') checkNumber('regularization', regularization);
  else {
    if (typeof regularization !== 'object' || regularization === null) {
      throw new AlsError(
        'usage',
        `regularization must be a number or { users, items } (Float32Arrays of each row's λ), not ${valueForMessage(regularization)}`,
      );
    }
    checkArray('regularization.users', regularization.users, Float32Array, rows);
    checkArray('regularization.items', regularization.items, Float32Array, items);
  }
  checkKernels(kernels, true);
  const { X, Y, factors: f, confidence } = users;
  const YtY = new Float64Array(f * f);
  kernels.gramian(Y, items, f, 0, YtY);
  const data = kernels.dataLoss({ ...users, YtY }, 0, rows);
  let totalConfidence = 0;
  for (let n = 0; n < confidence.length; n++) totalConfidence += confidence[n];
  const weight = totalConfidence + rows * items - confidence.length;
  const penalty =
    typeof regularization === 'number'
      ? regularization * (squaredNorm(X) + squaredNorm(Y))
      : weightedSquaredNorm(X, f, regularization.users) + weightedSquaredNorm(Y, f, regularization.items);
  return (data + penalty) / weight;
}
