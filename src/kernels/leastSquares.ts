import { createRequire } from 'node:module';
import type * as MlMatrix from 'ml-matrix';

let ml: typeof MlMatrix | null = null;

/**
 * The least-squares (minimum-norm) solution of the f × f system A x = b (A row-major) through
 * ml-matrix's SVD, for the singular systems Cholesky refuses. ml-matrix takes about 25 ms to load
 * and is loaded on first use: few runs solve a singular system, and a one-shot query never does.
 */
export function leastSquares(A: Float64Array, b: ArrayLike<number>, f: number): Float64Array {
  ml ??= createRequire(import.meta.url)('ml-matrix') as typeof MlMatrix;
  const rows: number[][] = [];
  for (let i = 0; i < f; i++) rows.push(Array.from(A.subarray(i * f, i * f + f)));
  const x = ml.solve(new ml.Matrix(rows), ml.Matrix.columnVector(Array.from(b)), true);
  return Float64Array.from(x.getColumn(0));
}
