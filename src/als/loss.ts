import type { HalfStep, Kernels } from '../kernels/index.js';
import { checkHalfStep, checkKernels, checkNumber, checkWhole } from '../validate.js';

function squaredNorm(values: Float32Array): number {
  let sum = 0;
  for (let n = 0; n < values.length; n++) sum += values[n] * values[n];
  return sum;
}

/**
 * The objective of Hu, Koren & Volinsky (eq. 3),
 *   Σᵤᵢ cᵤᵢ (pᵤᵢ − xᵤᵀyᵢ)² + λ(Σᵤ‖xᵤ‖² + Σᵢ‖yᵢ‖²),
 * over every user–item pair, divided by the total confidence (Σ c over observed pairs plus one
 * for each unobserved pair) so that it reads as a mean squared error. `users` is the users'
 * half-step (X = user factors, Y = item factors); its YtY is ignored.
 */
export function alsLoss(users: HalfStep, items: number, regularization: number, kernels: Kernels): number {
  checkHalfStep('users', users);
  checkWhole('items', items, 0);
  checkNumber('regularization', regularization);
  checkKernels(kernels, true);
  const { X, Y, factors: f, indptr, confidence } = users;
  const rows = indptr.length - 1;
  const YtY = new Float64Array(f * f);
  kernels.gramian(Y, items, f, 0, YtY);
  const data = kernels.dataLoss({ ...users, YtY }, 0, rows);
  let totalConfidence = 0;
  for (let n = 0; n < confidence.length; n++) totalConfidence += confidence[n];
  const weight = totalConfidence + rows * items - confidence.length;
  return (data + regularization * (squaredNorm(X) + squaredNorm(Y))) / weight;
}
