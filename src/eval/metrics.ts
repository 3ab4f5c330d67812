import { checkList, checkRow, checkSet, checkWhole, valueForMessage } from '../validate.js';
import { AlsError } from '../errors.js';
import { lowerBound, upperBound } from '../query/sortedSearch.js';

/** Ranking quality of one user's top-k list against the user's held-out items. */
export interface UserMetrics {
  hits: number;
  /** hits / k */
  precision: number;
  /** hits / min(k, |test|) */
  recall: number;
  /** Σ over hit positions i of precision@i, / min(k, |test|) */
  averagePrecision: number;
  /** binary-gain DCG / ideal DCG over min(k, |test|) hits */
  ndcg: number;
}

/**
 * The metrics@k of `recommended` (item indices, best first; only the first k count) against
 * the set of test items. A user without test items has no metrics: all are NaN.
 */
export function rankingMetrics(recommended: ArrayLike<number>, test: ReadonlySet<number>, k: number): UserMetrics {
  checkWhole('k', k, 1);
  if (typeof recommended !== 'object' || recommended === null || typeof recommended.length !== 'number') {
    throw new AlsError('usage', `recommended must be an array of item rows, not ${valueForMessage(recommended)}`);
  }
  if (!(test instanceof Set))
    throw new AlsError('usage', `test must be a Set of item rows, not ${valueForMessage(test)}`);
  const relevant = Math.min(k, test.size);
  if (relevant === 0) return { hits: 0, precision: NaN, recall: NaN, averagePrecision: NaN, ndcg: NaN };
  let hits = 0;
  let precisionSum = 0;
  let dcg = 0;
  const length = Math.min(k, recommended.length);
  for (let i = 0; i < length; i++) {
    if (!test.has(recommended[i])) continue;
    hits++;
    precisionSum += hits / (i + 1);
    dcg += 1 / Math.log2(i + 2);
  }
  let idcg = 0;
  for (let i = 0; i < relevant; i++) idcg += 1 / Math.log2(i + 2);
  return {
    hits,
    precision: hits / k,
    recall: hits / relevant,
    averagePrecision: precisionSum / relevant,
    ndcg: dcg / idcg,
  };
}

/**
 * AUC of one user: over every pair (test item, item neither in train nor in test), the share
 * in which the test item scores higher, ties counting ½. Items with skip[i] = 1 (the user's
 * train items) take no part. NaN when there are no test items or no other candidates.
 */
export function userAuc(scores: ArrayLike<number>, test: ReadonlySet<number>, skip?: ArrayLike<number>): number {
  checkList('scores', scores, 'scores (one per item)');
  checkSet('test', test);
  checkList('skip', skip, 'flags (one per item)', true);
  const items = scores.length;
  const positives = new Float64Array(test.size);
  let p = 0;
  for (const i of test) {
    if (!(Number.isInteger(i) && i >= 0 && i < items))
      throw new AlsError('usage', `test must hold item rows from 0 to ${items - 1}, not ${valueForMessage(i)}`, {
        field: 'test',
      });
    if (!(skip !== undefined && skip[i] === 1)) positives[p++] = scores[i];
  }
  const sorted = positives.subarray(0, p).sort();
  // one pass over every candidate c (test items included): Σ over positives above c, ties ½
  let correct = 0;
  let candidates = 0;
  const lowest = sorted[0];
  for (let i = 0; i < items; i++) {
    if (skip !== undefined && skip[i] === 1) continue;
    candidates++;
    const s = scores[i];
    if (s < lowest) {
      correct += p;
      continue;
    }
    const notAbove = upperBound(sorted, s);
    correct += p - notAbove + 0.5 * (notAbove - lowerBound(sorted, s));
  }
  // the positive–positive pairs (self included) add exactly p²/2 to that sum: take them out
  correct -= (p * p) / 2;
  const negatives = candidates - p;
  if (p === 0 || negatives === 0) return NaN;
  return correct / (p * negatives);
}

/** The means over the test users, and the catalogue coverage. */
export interface Metrics {
  k: number;
  /** users averaged over */
  users: number;
  precision: number;
  recall: number;
  /** mean average precision@k */
  map: number;
  ndcg: number;
  /** mean per-user AUC (users with a defined AUC) */
  auc: number;
  /** distinct recommended items / items */
  coverage: number;
}

/** Sums per-user metrics as they come, then gives their means. */
export class MetricsAccumulator {
  private users = 0;
  private precision = 0;
  private recall = 0;
  private ap = 0;
  private ndcg = 0;
  private aucUsers = 0;
  private auc = 0;
  private readonly recommended: Uint8Array;

  constructor(
    readonly k: number,
    readonly items: number,
  ) {
    this.recommended = new Uint8Array(items);
  }

  /** Adds one user's metrics; the first k of `recommended` (item rows) count towards the coverage. */
  add(user: UserMetrics, recommended: ArrayLike<number>, auc = NaN): void {
    checkList('recommended', recommended, 'item rows');
    const listed = Math.min(this.k, recommended.length);
    for (let i = 0; i < listed; i++) checkRow(`recommended[${i}]`, recommended[i], this.items);
    for (let i = 0; i < listed; i++) this.recommended[recommended[i]] = 1;
    if (Number.isNaN(user.precision)) return;
    this.users++;
    this.precision += user.precision;
    this.recall += user.recall;
    this.ap += user.averagePrecision;
    this.ndcg += user.ndcg;
    if (!Number.isNaN(auc)) {
      this.aucUsers++;
      this.auc += auc;
    }
  }

  result(): Metrics {
    const mean = (sum: number, n: number) => (n === 0 ? NaN : sum / n);
    return {
      k: this.k,
      users: this.users,
      precision: mean(this.precision, this.users),
      recall: mean(this.recall, this.users),
      map: mean(this.ap, this.users),
      ndcg: mean(this.ndcg, this.users),
      auc: mean(this.auc, this.aucUsers),
      coverage: catalogueCoverage(this.recommended),
    };
  }
}

/** Share of items marked 1 in `recommended` (one flag per item). */
export function catalogueCoverage(recommended: ArrayLike<number>): number {
  checkList('recommended', recommended, 'flags (one per item)');
  let distinct = 0;
  for (let i = 0; i < recommended.length; i++) if (recommended[i]) distinct++;
  return recommended.length === 0 ? 0 : distinct / recommended.length;
}

/** The numeric fields of Metrics that are averaged over runs (k and users are counts). */
export const SUMMARIZED_METRICS = ['precision', 'recall', 'map', 'ndcg', 'auc', 'coverage'] as const;

/**
 * Metrics of several runs (one per split seed) summed up: `mean`, the sample standard deviation
 * `std` (divided by runs − 1; 0 for one run) and the smallest and largest value, field by field.
 * `users` is the mean number of users; k must be the same in every run. A NaN in any run
 * (no user with a defined AUC) gives NaN.
 *
 * @throws {AlsError} 'usage' for an empty list or runs of different k
 */
export function summarizeMetrics(runs: Metrics[]): { mean: Metrics; std: Metrics; min: Metrics; max: Metrics } {
  if (!Array.isArray(runs) || runs.length === 0)
    throw new AlsError('usage', 'runs must be a non-empty array of Metrics');
  const k = runs[0].k;
  if (runs.some((run) => run.k !== k))
    throw new AlsError('usage', `runs must all have the same k, not ${runs.map((run) => run.k).join(', ')}`);
  const n = runs.length;
  const users = runs.reduce((sum, run) => sum + run.users, 0) / n;
  const mean: Metrics = { k, users, precision: 0, recall: 0, map: 0, ndcg: 0, auc: 0, coverage: 0 };
  const std: Metrics = { ...mean };
  const min: Metrics = { ...mean };
  const max: Metrics = { ...mean };
  for (const field of SUMMARIZED_METRICS) {
    const values = runs.map((run) => run[field]);
    const average = values.reduce((a, b) => a + b, 0) / n;
    mean[field] = average;
    std[field] =
      n === 1
        ? Number.isNaN(average)
          ? NaN
          : 0
        : Math.sqrt(values.reduce((a, v) => a + (v - average) ** 2, 0) / (n - 1));
    min[field] = values.some(Number.isNaN) ? NaN : Math.min(...values);
    max[field] = values.some(Number.isNaN) ? NaN : Math.max(...values);
  }
  return { mean, std, min, max };
}
