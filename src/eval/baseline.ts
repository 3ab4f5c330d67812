import { checkArray, checkCsr } from '../validate.js';
import type { CsrMatrix } from '../data/sparse.js';

/** The popularity baseline: each item's score is the number of users who played it in `plays`. */
export function popularityScores(plays: CsrMatrix, out?: Float32Array): Float32Array {
  checkCsr('plays', plays);
  out = out === undefined ? new Float32Array(plays.cols) : checkArray('out', out, Float32Array, plays.cols);
  out.fill(0);
  const nnz = plays.indptr[plays.rows];
  for (let n = 0; n < nnz; n++) if (plays.data[n] !== 0) out[plays.indices[n]]++;
  return out;
}
