import { callNow, callOffThread, cosineTopK, scoredAndSelected, type KernelCall } from './blockCalls.js';
import { candidateFactors, candidateRows, type CandidateRows } from './candidates.js';
import {
  checkArray,
  checkCount,
  checkFinite,
  checkKernels,
  checkModel,
  checkRow,
  checkWhole,
  valueForMessage,
} from '../validate.js';
import { AlsError } from '../errors.js';
import type { Kernels } from '../kernels/index.js';
import { quantizeRows, type QuantizedRows } from '../kernels/quantize.js';
import type { AlsModel } from '../model/model.js';
import { checkMinListeners, DEFAULT_MIN_ITEM_USERS, listenerCountsKnown } from './listeners.js';
import { QUERY_BLOCK } from './allBlocks.js';
import { minMaxScale } from './scale.js';
import type { ScoredItem } from './similar.js';
import { lowerBound } from './sortedSearch.js';

/**
 * Many unrelated queries on one model scored QUERY_BLOCK at a time (a server's concurrent
 * requests): one scoresBlock pass over the item factors per block, then selectBlock with each
 * query's own exclusions, as the --all writers do; similar queries on the candidates that default
 * queries list go through cosineBlock instead (an int8 copy of their factors scored first, the
 * float factors only where that leaves the answer open: the same answers, in about two thirds
 * of the time). Every answer is the single query's, number for number (rankSimilarToRow,
 * recommendForVector with the query's exclusions left out).
 */

/** Items most similar to one item; see rankSimilarToRow. */
export interface SimilarBlockQuery {
  /** item row of the query */
  item: number;
  /** how many (at most the items there are) */
  count: number;
  /** item rows never listed and not counted among the candidates (the min-max range) */
  exclude: ArrayLike<number>;
  /** neighbours with fewer distinct users are left out (1: none) */
  minListeners: number;
}

/** The best items for a vector x[xOffset .. xOffset + factors); see recommendForVector. */
export interface VectorBlockQuery {
  x: Float32Array;
  xOffset: number;
  count: number;
  /** item rows never listed and not counted among the candidates (a user's played items, a request's exclusions) */
  exclude: ArrayLike<number>;
}

/**
 * The rows a similar query may list, their factors contiguous (compacted) so that a block scores
 * only them, with their listener counts in ascending order to leave out more by a prefix.
 */
interface CandidateBase extends CandidateRows {
  /** every candidate has at least this many listeners */
  minListeners: number;
  factors: Float32Array;
  norms: Float32Array;
  /** candidate slots by listener count, ascending; and those counts */
  byListeners: Int32Array;
  sortedListeners: Int32Array;
  /** the candidates' factors quantized (cosineBlock), for the set that default queries score; else null */
  quantized: QuantizedRows | null;
}

/** A kernel-memory array that doubles when a block needs more, up to `cap` (kernel memory is never freed). */
class Growing<T extends Float32Array | Int32Array> {
  private array: T | null = null;
  constructor(
    private readonly make: (length: number) => T,
    private readonly cap: number,
  ) {}
  get(length: number): T {
    length = Math.min(length, this.cap);
    if (this.array === null || this.array.length < length) {
      const current = this.array?.length ?? 0;
      this.array = this.make(Math.min(this.cap, Math.max(length, 2 * current, 64)));
    }
    return this.array;
  }
}

/** How many of the base's candidates a minimum of `minListeners` leaves out (a prefix of byListeners). */
function leftOutBelow(base: CandidateBase, minListeners: number): number {
  return minListeners > 1 ? lowerBound(base.sortedListeners, minListeners) : 0;
}

/**
 * Block scoring for one model on kernels of its own (arrays are allocated in kernel memory once
 * and reused; a model's factors are best handed over already in that memory). Candidates of a
 * similar query are compacted once for DEFAULT_MIN_ITEM_USERS (the common filter; unless
 * `compact` is false: at 292K items × 64 factors the copy takes 45 MB and saves 40% of a
 * similar query's scoring). When those candidates are the model's first rows (prepareServing
 * renumbers the items so) nothing is copied: they are scored in place, a prefix of the item
 * factors (and of their norms), so the factors must then live in the kernels' memory. A query with a smaller minimum is scored over every item, and a
 * larger minimum leaves out the candidates below it through its exclusion list, so kernel memory
 * stays bounded whatever minimum is asked.
 */
export class BlockQueries {
  /** queries scored together (at most) */
  readonly block: number;
  /** the model's factors per vector */
  readonly factors: number;
  private readonly bases: CandidateBase[] = [];
  private readonly allListeners: Int32Array;
  /** ‖y‖ of every item row */
  private readonly norms: Float32Array;
  private readonly scores: Float32Array;
  private readonly queryRows: Float32Array;
  private readonly queryNorms: Float32Array;
  private readonly excludeStart: Int32Array;
  private readonly found: Int32Array;
  private readonly range: Float32Array;
  private readonly exclude: Growing<Int32Array>;
  private readonly best: Growing<Int32Array>;
  /** a mark per item row, all zero between queries: duplicates dropped from exclusion lists */
  private readonly marks: Uint8Array;

  constructor(
    private readonly model: AlsModel,
    private readonly kernels: Kernels,
    options: { block?: number; compact?: boolean; quantize?: boolean } = {},
  ) {
    checkModel('model', model);
    checkKernels(kernels, true);
    this.block = checkWhole('options.block', options.block ?? QUERY_BLOCK, 1, 256);
    this.factors = model.factors;
    const { items, factors: f } = model;
    const block = this.block;
    this.scores = kernels.float32(block * Math.max(1, items));
    this.queryRows = kernels.float32(block * f);
    this.queryNorms = kernels.float32(block);
    this.excludeStart = kernels.int32(block + 1);
    this.found = kernels.int32(block);
    this.range = kernels.float32(2 * block);
    // a query's list holds each item row at most once
    this.exclude = new Growing((n) => kernels.int32(n), block * Math.max(1, items));
    this.best = new Growing((n) => kernels.int32(n), block * Math.max(1, items));
    this.marks = new Uint8Array(items);
    this.allListeners = Int32Array.from(model.itemUserCounts).sort();
    this.norms = kernels.float32(Math.max(1, items));
    kernels.rowNorms(model.itemFactors, items, f, this.norms);
    this.bases.push(this.base(1));
    // compact: false trades similar's speed for memory (the copy of the candidates' factors)
    if (options.compact !== false) {
      const common = this.base(DEFAULT_MIN_ITEM_USERS);
      // no compacted copy when the filter leaves every item in
      if (common.count < items) this.bases.push(common);
    }
    this.similarGroups = this.bases.length;
    if (options.quantize !== false) this.quantize();
  }

  /**
   * Similar queries of the candidate set that default queries score (the last) go through
   * cosineBlock from now on: an int8 copy of their factors, f rounded up to 16 bytes and 8 more a
   * candidate (12.5 MB for the 174K candidates of the 360K-shape model, 64 factors), scored first.
   * Done by the constructor unless options.quantize is false (a server does it in a turn of its
   * own: ~0.2 s at that shape). Only with WebAssembly kernels; once.
   */
  quantize(): void {
    const last = this.bases[this.bases.length - 1];
    if (this.kernels.name !== 'wasm' || last.quantized !== null) return;
    last.quantized = quantizeRows(this.kernels, last.factors, last.count, this.factors, last.norms);
  }

  private base(minListeners: number): CandidateBase {
    const { itemFactors: Y, factors: f, itemUserCounts: listeners } = this.model;
    const candidates = candidateRows(listeners, minListeners);
    const { count, rows, slot } = candidates;
    const { factors, norms } = candidateFactors(this.kernels, Y, f, this.norms, candidates);
    const byListeners = Int32Array.from(rows.keys()).sort((a, b) => listeners[rows[a]] - listeners[rows[b]] || a - b);
    const sortedListeners = Int32Array.from(byListeners, (c) => listeners[rows[c]]);
    return { minListeners, count, rows, slot, factors, norms, byListeners, sortedListeners, quantized: null };
  }

  /**
   * The minimum listener count a similar query of `minListeners` filters by: `minListeners`
   * itself, or 1 (no filter) for a model whose listener counts are unknown (listeners.ts,
   * listenerCountsKnown: one imported without play counts), where any filter would leave every
   * item out. A value that is no minimum is returned as it is, for checkSimilar to refuse.
   */
  effectiveMinimum(minListeners: number): number {
    this.countsKnown ??= listenerCountsKnown(this.model.itemUserCounts);
    return this.countsKnown || !(Number.isInteger(minListeners) && minListeners >= 1) ? minListeners : 1;
  }

  private countsKnown: boolean | undefined;

  /** Checks one similar query (AlsError('usage') naming the field). */
  checkSimilar(query: SimilarBlockQuery): void {
    checkQuery('query', query);
    checkRow('item', query.item, this.model.items);
    checkWhole('count', query.count, 1);
    checkMinListeners(query.minListeners);
    checkExclude(query.exclude, this.model.items);
  }

  /** Checks one vector query (AlsError('usage') naming the field). */
  checkVector(query: VectorBlockQuery): void {
    checkQuery('query', query);
    const f = this.model.factors;
    checkArray('x', query.x, Float32Array);
    checkWhole('xOffset', query.xOffset, 0, query.x.length - f);
    checkFinite('x', query.x, query.xOffset, query.xOffset + f);
    checkWhole('count', query.count, 1);
    checkExclude(query.exclude, this.model.items);
  }

  /** Similar queries in different groups are never scored in one block (their candidate sets differ). */
  readonly similarGroups: number;

  /** The group of a similar query with this minimum: the smallest candidate set that holds all its candidates. */
  similarGroup(minListeners: number): number {
    let b = this.bases.length - 1;
    while (this.bases[b].minListeners > minListeners) b--;
    return b;
  }

  /** The answers of similar queries, in order: what rankSimilarToRow gives each with its exclusions. */
  similar(queries: readonly SimilarBlockQuery[]): { similar: ScoredItem[]; leftOut: number }[] {
    return callNow(this.similarSteps(queries));
  }

  /**
   * similar(), the kernels' work off this thread where they can (kernels made with offThread):
   * the event loop turns meanwhile. One call at a time: the kernels and this object's arrays
   * are in use until the promise settles.
   */
  similarAsync(queries: readonly SimilarBlockQuery[]): Promise<{ similar: ScoredItem[]; leftOut: number }[]> {
    return callOffThread(this.similarSteps(queries));
  }

  private *similarSteps(
    queries: readonly SimilarBlockQuery[],
  ): Generator<KernelCall, { similar: ScoredItem[]; leftOut: number }[], void> {
    if (!Array.isArray(queries))
      throw new AlsError('usage', `queries must be an array, not ${valueForMessage(queries)}`);
    for (const query of queries) this.checkSimilar(query);
    const answers = new Array<{ similar: ScoredItem[]; leftOut: number }>(queries.length);
    // each query goes to the smallest candidate set that holds all its candidates
    const byBase = this.bases.map(() => [] as number[]);
    queries.forEach((query, n) => byBase[this.similarGroup(query.minListeners)].push(n));
    for (let b = 0; b < byBase.length; b++) {
      const members = byBase[b];
      for (let first = 0; first < members.length; first += this.block) {
        yield* this.similarBlock(this.bases[b], members.slice(first, first + this.block), queries, answers);
      }
    }
    return answers;
  }

  private *similarBlock(
    base: CandidateBase,
    members: number[],
    queries: readonly SimilarBlockQuery[],
    answers: { similar: ScoredItem[]; leftOut: number }[],
  ): Generator<KernelCall, void, void> {
    const { itemFactors: Y, factors: f, itemNames, itemUserCounts } = this.model;
    const { count, rows, slot } = base;
    const n = members.length;
    const allNorms = this.norms;
    let k = 1;
    let excluded = 0;
    for (let q = 0; q < n; q++) {
      const query = queries[members[q]];
      this.queryRows.set(Y.subarray(query.item * f, query.item * f + f), q * f);
      this.queryNorms[q] = allNorms[query.item];
      k = Math.max(k, Math.min(query.count, count));
      // the candidates below the query's own minimum: a prefix of the listener order
      const below = leftOutBelow(base, query.minListeners);
      excluded += below + 1 + query.exclude.length;
    }
    // each list holds a candidate at most once
    const exclude = this.exclude.get(Math.min(excluded, n * count));
    excluded = 0;
    for (let q = 0; q < n; q++) {
      const query = queries[members[q]];
      this.excludeStart[q] = excluded;
      const below = leftOutBelow(base, query.minListeners);
      exclude.set(base.byListeners.subarray(0, below), excluded);
      excluded += below;
      // the item itself and the request's rows, once each, when they are candidates not already left out
      const marks = this.marks;
      const add = (row: number) => {
        const c = slot[row];
        if (c >= 0 && marks[row] === 0 && (query.minListeners <= 1 || itemUserCounts[row] >= query.minListeners)) {
          marks[row] = 1;
          exclude[excluded++] = c;
        }
      };
      add(query.item);
      for (let e = 0; e < query.exclude.length; e++) add(query.exclude[e]);
      for (let e = this.excludeStart[q] + below; e < excluded; e++) marks[rows[exclude[e]]] = 0;
    }
    this.excludeStart[n] = excluded;
    const best = this.best.get(n * k);
    const selection = {
      scores: this.scores,
      rows: count,
      queries: n,
      k,
      excludeStart: this.excludeStart,
      exclude,
      norms: base.norms,
      queryNorms: this.queryNorms,
      best,
      found: this.found,
      range: this.range,
    };
    yield* cosineTopK(this.kernels, base.factors, f, base.quantized, this.queryRows, 0, selection);
    for (let q = 0; q < n; q++) {
      const query = queries[members[q]];
      const scale = { min: this.range[2 * q], max: this.range[2 * q + 1] };
      const similar: ScoredItem[] = [];
      const listed = Math.min(this.found[q], query.count);
      for (let r = 0; r < listed; r++) {
        const c = best[q * k + r];
        const raw = this.scores[q * count + c];
        similar.push({ index: rows[c], name: itemNames[rows[c]], score: minMaxScale(raw, scale), raw });
      }
      // as rankSimilarToRow counts it: every item below the minimum but the query item itself
      const t = query.minListeners;
      const leftOut = t > 1 ? lowerBound(this.allListeners, t) - (itemUserCounts[query.item] < t ? 1 : 0) : 0;
      answers[members[q]] = { similar, leftOut };
    }
  }

  /** The answers of vector queries, in order: what recommendForVector gives each with `exclude` as played. */
  recommend(queries: readonly VectorBlockQuery[]): ScoredItem[][] {
    return callNow(this.recommendSteps(queries));
  }

  /** recommend(), off this thread where the kernels can; see similarAsync. */
  recommendAsync(queries: readonly VectorBlockQuery[]): Promise<ScoredItem[][]> {
    return callOffThread(this.recommendSteps(queries));
  }

  private *recommendSteps(queries: readonly VectorBlockQuery[]): Generator<KernelCall, ScoredItem[][], void> {
    if (!Array.isArray(queries))
      throw new AlsError('usage', `queries must be an array, not ${valueForMessage(queries)}`);
    for (const query of queries) this.checkVector(query);
    const answers = new Array<ScoredItem[]>(queries.length);
    for (let first = 0; first < queries.length; first += this.block) {
      yield* this.recommendBlock(queries, first, Math.min(this.block, queries.length - first), answers);
    }
    return answers;
  }

  private *recommendBlock(
    queries: readonly VectorBlockQuery[],
    first: number,
    n: number,
    answers: ScoredItem[][],
  ): Generator<KernelCall, void, void> {
    const { itemFactors: Y, items, factors: f, itemNames } = this.model;
    let k = 1;
    let excluded = 0;
    for (let q = 0; q < n; q++) {
      const query = queries[first + q];
      this.queryRows.set(query.x.subarray(query.xOffset, query.xOffset + f), q * f);
      k = Math.max(k, Math.min(query.count, items));
      excluded += query.exclude.length;
    }
    const exclude = this.exclude.get(Math.min(excluded, n * items));
    const marks = this.marks;
    excluded = 0;
    for (let q = 0; q < n; q++) {
      const list = queries[first + q].exclude;
      this.excludeStart[q] = excluded;
      for (let e = 0; e < list.length; e++) {
        const row = list[e];
        if (marks[row] === 0) {
          marks[row] = 1;
          exclude[excluded++] = row;
        }
      }
      for (let e = this.excludeStart[q]; e < excluded; e++) marks[exclude[e]] = 0;
    }
    this.excludeStart[n] = excluded;
    const best = this.best.get(n * k);
    const selection = {
      scores: this.scores,
      rows: items,
      queries: n,
      k,
      excludeStart: this.excludeStart,
      exclude,
      best,
      found: this.found,
      range: this.range,
    };
    yield* scoredAndSelected(this.kernels, Y, f, this.queryRows, 0, selection);
    for (let q = 0; q < n; q++) {
      const query = queries[first + q];
      const scale = { min: this.range[2 * q], max: this.range[2 * q + 1] };
      const listed = Math.min(this.found[q], query.count);
      const recommendations: ScoredItem[] = [];
      for (let r = 0; r < listed; r++) {
        const i = best[q * k + r];
        const raw = this.scores[q * items + i];
        recommendations.push({ index: i, name: itemNames[i], score: minMaxScale(raw, scale), raw });
      }
      answers[first + q] = recommendations;
    }
  }
}

function checkQuery(name: string, value: unknown): void {
  if (typeof value !== 'object' || value === null)
    throw new AlsError('usage', `${name} must be an object, not ${valueForMessage(value)}`);
}

/** Item rows to leave out: whole numbers within the model's items. */
function checkExclude(exclude: ArrayLike<number>, items: number): void {
  if (typeof exclude !== 'object' || exclude === null || typeof exclude.length !== 'number') {
    throw new AlsError('usage', `exclude must be an array of item rows, not ${valueForMessage(exclude)}`);
  }
  for (let n = 0; n < exclude.length; n++) checkRow(`exclude[${n}]`, exclude[n], items);
}

/** checkCount's rule for a query's count: a whole number ≥ 1, lists never longer than the items. */
export function queryCount(count: unknown, items: number): number {
  return checkCount('count', count, 10, items);
}
