import { seededRandom } from '../als/random.js';
import type { CsrMatrix } from '../data/sparse.js';
import { checkCsr, checkOptions, checkWhole, valueForMessage } from '../validate.js';
import { AlsError } from '../errors.js';

export interface SplitOptions {
  /** share of each eligible user's entries held out (default 0.2), 0 < x < 1 */
  testFraction?: number;
  /** seed of the shuffle that picks the held-out entries (default 1) */
  seed?: number;
  /** users with fewer interactions keep them all in train (default 5) */
  minInteractions?: number;
}

export interface Split {
  /** users × items, what the model is trained on */
  train: CsrMatrix;
  /** users × items, the held-out entries (same shape; empty rows for users not tested) */
  test: CsrMatrix;
  /** rows with at least one test entry, ascending */
  testUsers: Int32Array;
}

export const DEFAULT_TEST_FRACTION = 0.2;
export const DEFAULT_SPLIT_SEED = 1;
export const MIN_TEST_INTERACTIONS = 5;

export function checkTestFraction(testFraction: number): void {
  if (!(typeof testFraction === 'number' && Number.isFinite(testFraction) && testFraction > 0 && testFraction < 1)) {
    throw new AlsError(
      'usage',
      `test fraction must be between 0 and 1 (exclusive), not ${valueForMessage(testFraction)}`,
    );
  }
}

/**
 * A per-user holdout: every user with at least `minInteractions` entries gives
 * round(n · testFraction) of them (at least 1, and never all) to the test matrix, chosen by a
 * seeded Fisher–Yates shuffle; everything else stays in train. Train and test are disjoint
 * and together are the input; the same input and seed give the same split.
 */
export function splitByUser(plays: CsrMatrix, options: SplitOptions = {}): Split {
  checkCsr('plays', plays);
  options = checkOptions('options', options);
  const testFraction = options.testFraction ?? DEFAULT_TEST_FRACTION;
  checkTestFraction(testFraction);
  const minInteractions = checkWhole('minInteractions', options.minInteractions ?? MIN_TEST_INTERACTIONS, 2);
  const random = seededRandom(checkWhole('seed', options.seed ?? DEFAULT_SPLIT_SEED, 0));
  const { rows, cols, indptr, indices, data } = plays;
  const nnz = indptr[rows];

  // which entries go to test
  const held = new Uint8Array(nnz);
  let order = new Int32Array(0);
  let testNnz = 0;
  const testUsers: number[] = [];
  for (let u = 0; u < rows; u++) {
    const start = indptr[u];
    const n = indptr[u + 1] - start;
    if (n < minInteractions) continue;
    const take = Math.min(n - 1, Math.max(1, Math.round(n * testFraction)));
    if (order.length < n) order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    // partial Fisher–Yates: the first `take` positions are a uniform random sample
    for (let i = 0; i < take; i++) {
      const j = i + Math.floor(random() * (n - i));
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
      held[start + order[i]] = 1;
    }
    testNnz += take;
    testUsers.push(u);
  }

  const train = emptyCsr(rows, cols, nnz - testNnz);
  const test = emptyCsr(rows, cols, testNnz);
  let a = 0;
  let b = 0;
  for (let u = 0; u < rows; u++) {
    for (let n = indptr[u]; n < indptr[u + 1]; n++) {
      if (held[n]) {
        test.indices[b] = indices[n];
        test.data[b++] = data[n];
      } else {
        train.indices[a] = indices[n];
        train.data[a++] = data[n];
      }
    }
    train.indptr[u + 1] = a;
    test.indptr[u + 1] = b;
  }
  return { train, test, testUsers: Int32Array.from(testUsers) };
}

function emptyCsr(rows: number, cols: number, nnz: number): CsrMatrix {
  return { rows, cols, indptr: new Int32Array(rows + 1), indices: new Int32Array(nnz), data: new Float32Array(nnz) };
}
