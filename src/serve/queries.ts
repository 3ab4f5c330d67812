import { setImmediate as nextTurn } from 'node:timers/promises';
import { availableParallelism } from 'node:os';
import { keepItemOrder } from '../als/foldIn.js';
import { AlsError } from '../errors.js';
import { createWasmKernels, type Kernels } from '../kernels/index.js';
import { rowsInMemory, type FactorRows } from '../model/fileRows.js';
import { closeModel } from '../model/load.js';
import type { AlsModel } from '../model/model.js';
import { indexNames } from '../query/lookup.js';
import { BlockQueries, queryCount, type SimilarBlockQuery, type VectorBlockQuery } from '../query/blockQueries.js';
import type { ScoredItem } from '../query/similar.js';
import { DEFAULT_MIN_ITEM_USERS } from '../query/listeners.js';
import { checkBoolean, checkModel, checkOptions, checkWhole, valueForMessage } from '../validate.js';

/** One top-k query: rows to leave out besides the query's own, and how many to return. */
export interface TopKRequest {
  count: number;
  /** item rows never to return, and not counted among the candidates (the request's `exclude`, a user's played items) */
  exclude: ArrayLike<number>;
}

/**
 * Scoring for one served model. Methods return promises so that an implementation may gather
 * the queries of requests that arrive together into one pass over the item factors.
 */
export interface ModelQueries {
  /** items most similar to item row `item` (cosine), neighbours with fewer than minItemUsers users left out */
  similarToRow(
    item: number,
    request: TopKRequest & { minItemUsers: number },
  ): Promise<{ similar: ScoredItem[]; leftOut: number }>;
  /** best items for the vector x[0 .. factors) (a user's factors or a folded-in one) */
  recommendForVector(x: Float32Array, request: TopKRequest): Promise<ScoredItem[]>;
  /**
   * The kernels the model's factors live in, for looking at (their memory). They score blocks
   * off the event loop's thread, and refuse other calls meanwhile: use them through withKernels.
   */
  readonly kernels: Kernels;
  /**
   * Runs `use` with the kernels between two blocks, and resolves with what it returns: pass them
   * (options.kernels) to a core query run on this model alone (explainedRecommendations,
   * recommendForVector), which otherwise copies the factors into the process-wide default
   * kernels, a copy never freed.
   */
  withKernels<T>(use: (kernels: Kernels) => T): Promise<T>;
  /**
   * the factors of user row `user` (a new array): read from the model's file when the model came
   * from a directory (see userFactorRows), so the served model's userFactors is not there to read
   */
  userVector(user: number): Promise<Float32Array>;
  /** frees what the queries hold (kernel threads and memory); waiting queries are refused. Called once no request uses the model */
  dispose(): void;
}

export interface ServingOptions {
  /** threads for scoring (default: every CPU) */
  threads?: number;
  /** queries scored together at most (default SERVING_BLOCK, 16) */
  block?: number;
  /** queries that may wait to be scored; one more is refused with QueueFullError (default 1024) */
  maxWaiting?: number;
  /**
   * similar answers kept for repeated queries, counted in listed items, an empty answer as 1 (default 20,000, about
   * 2 MB: the 2,000 most recent answers of 10; 0: none). They belong to this model: a reload
   * prepares a new one.
   */
  cacheItems?: number;
  /**
   * put the items with DEFAULT_MIN_ITEM_USERS users first (renumbering the served model's items,
   * see candidatesFirst), so that similar queries score only them, in place (default true; false:
   * the items keep their rows and every similar query scores every item; see BlockQueries)
   */
  compact?: boolean;
}

/** Listed items of similar answers kept by default. */
export const DEFAULT_CACHE_ITEMS = 20_000;
/** Queries with longer exclude lists are not cached (their keys would be long, and repeats rare). */
const CACHED_EXCLUDES = 32;

/**
 * Queries scored together by default. The scoring kernel takes two item rows against four
 * queries at a time (scoreTile); at 64 factors on one thread a block of 16 costs 0.89× the time
 * per query of a block of 8 (3.43 against 3.84 ns per query and item row, one run), for 9 MB more
 * score rows; under 64 connections the server answered 1,655–1,814 similar requests a second
 * with 16 against 1,462–1,626 with 8 (alternating runs). A small load makes small blocks anyway.
 */
export const SERVING_BLOCK = 16;

/** Queries that may wait by default: at about 1,500 a second, under a second of work. */
export const DEFAULT_MAX_WAITING = 1024;

/**
 * Too many queries wait to be scored: the request is refused now (HTTP 429) rather than
 * answered late. Its code is 'model' so that a handler that does not know it still answers 503.
 */
export class QueueFullError extends AlsError {
  /** the HTTP status to answer with */
  readonly statusCode = 429;
  constructor(waiting: number) {
    super('model', `too many queries are waiting (${waiting}); try again shortly`);
    this.name = 'QueueFullError';
  }
}

/**
 * Prepares `model` for serving: every part read and checked now (a bad model fails here, not in
 * a request), kernels of its own (WebAssembly on `threads` threads) that dispose() ends, and the
 * item factors moved into their memory, where every query scores them (left outside, the
 * kernels would stage a copy of their own on first use: the matrix held twice). The user
 * factors stay where they were read: a query copies one row of them, and a copy would only add
 * their size to the peak of a load. Returns the model to answer from, a plain AlsModel with
 * every part materialised and the item factors replaced by the kernel copy (so drop the given
 * model: its arrays are then freed; loadedVersion() knows only the given model), and its
 * queries, batched. `userRows`: the user factors as the caller keeps them (ModelHolder reads them
 * a row at a time from the file of a model it loaded itself, see userFactorRows); the queries own
 * them from then on (dispose() closes them, and so does a failure here). Default: the model's array.
 */
export async function prepareServing(
  model: AlsModel,
  options: ServingOptions = {},
  userRows?: FactorRows,
): Promise<{ model: AlsModel; queries: ModelQueries }> {
  try {
    return await prepare(model, options, userRows);
  } catch (error) {
    void userRows?.close();
    throw error;
  }
}

async function prepare(
  model: AlsModel,
  options: ServingOptions,
  userRows: FactorRows | undefined,
): Promise<{ model: AlsModel; queries: ModelQueries }> {
  checkModel('model', model);
  options = checkOptions('options', options);
  const threads = checkWhole('options.threads', options.threads ?? availableParallelism(), 1, 1024);
  const block = checkWhole('options.block', options.block ?? SERVING_BLOCK, 1, 256);
  const maxWaiting = checkWhole('options.maxWaiting', options.maxWaiting ?? DEFAULT_MAX_WAITING, 1);
  const cacheItems = checkWhole('options.cacheItems', options.cacheItems ?? DEFAULT_CACHE_ITEMS, 0);
  checkBoolean('options.compact', options.compact);
  userRows ??= rowsInMemory(model.userFactors, model.factors);
  // every part read (and checked by the loader) before anything else
  const { itemFactors, userIds, itemNames, userItems, itemUserCounts } = model;
  closeModel(model);
  // a server answers requests while it prepares a new model: each step below takes 0.1–0.5 s at
  // the 360K shape, so the event loop gets a turn between them
  indexNames(userIds);
  await nextTurn();
  // every scoring thread a worker: the event loop reads and answers requests while a block is scored
  const kernels = await createWasmKernels(threads, { offThread: true });
  try {
    const items =
      options.compact === false
        ? { itemNames, itemUserCounts, userItems, itemFactors: inKernel(kernels, itemFactors) }
        : candidatesFirst(kernels, model.factors, { itemNames, itemUserCounts, userItems, itemFactors });
    await nextTurn();
    // name lookups answer in microseconds from the first request on (two sorts of 0.2–0.3 s each)
    indexNames(items.itemNames);
    await nextTurn();
    indexNames(items.itemNames, true);
    await nextTurn();
    const served = servedModel(model, { userIds, ...items }, userRows);
    const blocks = new BlockQueries(served, kernels, { block, compact: options.compact, quantize: false });
    await nextTurn();
    blocks.quantize();
    return {
      model: served,
      queries: new BatchedQueries(blocks, kernels, userRows, maxWaiting, new AnswerCache(cacheItems)),
    };
  } catch (error) {
    kernels.dispose();
    throw error;
  }
}

/**
 * The model to answer from: `model`'s settings with the given parts (its own getters are not
 * called: they would read the parts again). userFactors is the array when the rows are in
 * memory; when they are in the model's file, reading it throws (a request reads its row with
 * ModelQueries.userVector).
 */
function servedModel(
  model: AlsModel,
  parts: Omit<AlsModel, 'users' | 'items' | 'factors' | 'options' | 'input' | 'losses' | 'updates' | 'userFactors'>,
  userRows: FactorRows,
): AlsModel {
  const { users, items, factors, options, input, losses, updates } = model;
  const inMemory = userRows.inMemory;
  return {
    users,
    items,
    factors,
    options,
    input,
    losses,
    ...(updates === undefined ? {} : { updates }),
    ...parts,
    get userFactors(): Float32Array {
      if (inMemory !== null) return inMemory;
      throw new AlsError('model', 'a served model reads its user factors a row at a time (ModelQueries.userVector)');
    },
  };
}

function inKernel(kernels: Kernels, array: Float32Array): Float32Array {
  const copy = kernels.float32(array.length);
  copy.set(array);
  return copy;
}

type ItemParts = Pick<AlsModel, 'itemNames' | 'itemUserCounts' | 'userItems' | 'itemFactors'>;

/**
 * The item parts renumbered so that the items a similar query lists by default (at least
 * DEFAULT_MIN_ITEM_USERS users) are rows [0, candidates), in their order, and the others follow
 * in theirs: BlockQueries then scores those candidates in place, a prefix of the item factors,
 * instead of a copy of their factors. Names, listener counts and factor rows move together (the
 * factors written straight into kernel memory); each user's row of userItems keeps its plays,
 * its item rows renumbered and still ascending: both groups keep their order, so the row is a
 * stable partition of the old one (candidates, then the others), O(nnz) without a sort.
 * Nothing else is per item row, and names are the identity of an item in every answer.
 */
export function candidatesFirst(kernels: Kernels, f: number, parts: ItemParts): ItemParts {
  const { itemNames, itemUserCounts, userItems, itemFactors } = parts;
  const items = itemUserCounts.length;
  const isCandidate = (i: number) => itemUserCounts[i] >= DEFAULT_MIN_ITEM_USERS;
  // old row of each new row, and new row of each old row
  const order = new Int32Array(items);
  let next = 0;
  for (let i = 0; i < items; i++) if (isCandidate(i)) order[next++] = i;
  const candidates = next;
  for (let i = 0; i < items; i++) if (!isCandidate(i)) order[next++] = i;
  const factors = kernels.float32(items * f);
  for (let n = 0; n < items; n++) factors.set(itemFactors.subarray(order[n] * f, order[n] * f + f), n * f);
  // every item a candidate, or none: the order is unchanged
  if (candidates === items || candidates === 0) return { itemNames, itemUserCounts, userItems, itemFactors: factors };
  const row = new Int32Array(items);
  for (let n = 0; n < items; n++) row[order[n]] = n;
  const { indptr, indices, data } = userItems;
  const newIndices = new Int32Array(indices.length);
  const newData = new Float32Array(data.length);
  for (let u = 0; u < userItems.rows; u++) {
    const start = indptr[u];
    const end = indptr[u + 1];
    let front = 0;
    for (let n = start; n < end; n++) if (row[indices[n]] < candidates) front++;
    let low = start;
    let high = start + front;
    for (let n = start; n < end; n++) {
      const i = row[indices[n]];
      const at = i < candidates ? low++ : high++;
      newIndices[at] = i;
      newData[at] = data[n];
    }
  }
  const permuted = {
    itemNames: Array.from(order, (i) => itemNames[i]),
    itemUserCounts: Int32Array.from(order, (i) => itemUserCounts[i]),
    userItems: { rows: userItems.rows, cols: userItems.cols, indptr, indices: newIndices, data: newData },
    itemFactors: factors,
  };
  // the fold-in sums over items in the original order: the original model's numbers, bit for bit
  keepItemOrder(permuted, order, row);
  return permuted;
}

interface Waiting<Q, A> {
  query: Q;
  resolve(answer: A): void;
  reject(error: unknown): void;
}

type SimilarAnswer = { similar: ScoredItem[]; leftOut: number };

/**
 * What an answer counts against cacheItems: its listed items, and at least 1, so that empty
 * answers (minItemUsers above every item's users, in ever new values) cannot pile up unbounded.
 */
function weight(answer: SimilarAnswer): number {
  return Math.max(1, answer.similar.length);
}

/** Recent similar answers, least recently used dropped first (a Map keeps insertion order). */
class AnswerCache {
  private readonly answers = new Map<string, SimilarAnswer>();
  private listed = 0;
  constructor(private readonly maxListed: number) {}

  get(key: string): SimilarAnswer | undefined {
    const answer = this.answers.get(key);
    if (answer !== undefined) {
      this.answers.delete(key);
      this.answers.set(key, answer);
    }
    return answer;
  }

  set(key: string, answer: SimilarAnswer): void {
    if (weight(answer) > this.maxListed || this.answers.has(key)) return;
    this.answers.set(key, answer);
    this.listed += weight(answer);
    for (const [oldest, dropped] of this.answers) {
      if (this.listed <= this.maxListed) break;
      this.answers.delete(oldest);
      this.listed -= weight(dropped);
    }
  }

  get enabled(): boolean {
    return this.maxListed > 0;
  }
}

/** The same query, whatever order or repeats its exclude list has. */
function similarKey(query: SimilarBlockQuery): string | null {
  if (query.exclude.length > CACHED_EXCLUDES) return null;
  const exclude = [...new Set(Array.from(query.exclude))].sort((a, b) => a - b);
  return `${query.item}/${query.count}/${query.minListeners}/${exclude.join(',')}`;
}

/** A copy for one request: a route may change what it is given. */
function copyAnswer(answer: SimilarAnswer): SimilarAnswer {
  return { similar: answer.similar.map((s) => ({ ...s })), leftOut: answer.leftOut };
}

/**
 * Queries gathered while the event loop turns: everything asked before the next check phase
 * (setImmediate) is scored together, a block of each group in turn, one block at a time. The
 * kernels score a block on their workers while the event loop reads requests (they join the
 * queue for the next block) and writes the last block's answers (the next block starts first:
 * an answer's promise settles in a microtask, after the next block's work is handed out).
 */
class BatchedQueries implements ModelQueries {
  /** similar queries by candidate group (BlockQueries.similarGroup), so that a block shares one pass */
  private similarWaiting: Waiting<SimilarBlockQuery, SimilarAnswer>[][];
  private vectorWaiting: Waiting<VectorBlockQuery, ScoredItem[]>[] = [];
  /** withKernels calls: run between two blocks */
  private kernelUses: Waiting<(kernels: Kernels) => unknown, unknown>[] = [];
  private scheduled = false;
  /** a flush is scoring its blocks (it takes what waits until nothing does) */
  private flushing = false;
  /** the group whose block is scored next, if it has queries (similar groups, then vector queries) */
  private turn = 0;
  private disposed = false;
  /** similar queries being scored, by key: a repeat waits for the same answer */
  private readonly pending = new Map<string, Promise<SimilarAnswer>>();

  constructor(
    private readonly blocks: BlockQueries,
    readonly kernels: Kernels,
    private readonly userRows: FactorRows,
    private readonly maxWaiting: number,
    private readonly cache: AnswerCache,
  ) {
    this.similarWaiting = Array.from({ length: blocks.similarGroups }, () => []);
  }

  private waiting(): number {
    let waiting = this.vectorWaiting.length + this.kernelUses.length;
    for (const group of this.similarWaiting) waiting += group.length;
    return waiting;
  }

  similarToRow(item: number, request: TopKRequest & { minItemUsers: number }): Promise<SimilarAnswer> {
    if (!this.cache.enabled || this.disposed) return this.scoreSimilar(item, request);
    let key: string | null;
    try {
      checkRequest(request);
      const query = {
        item,
        count: queryCount(request.count, Number.MAX_SAFE_INTEGER),
        exclude: request.exclude,
        minListeners: this.blocks.effectiveMinimum(request.minItemUsers),
      };
      this.blocks.checkSimilar(query);
      key = similarKey(query);
    } catch (error) {
      return Promise.reject(error);
    }
    if (key === null) return this.scoreSimilar(item, request);
    const cached = this.cache.get(key);
    if (cached !== undefined) return Promise.resolve(copyAnswer(cached));
    let answer = this.pending.get(key);
    if (answer === undefined) {
      const scored = this.scoreSimilar(item, request);
      const settled = () => this.pending.delete(key);
      scored.then((result) => (settled(), this.cache.set(key, result)), settled);
      this.pending.set(key, (answer = scored));
    }
    return answer.then(copyAnswer);
  }

  private scoreSimilar(item: number, request: TopKRequest & { minItemUsers: number }): Promise<SimilarAnswer> {
    return this.enqueue<SimilarBlockQuery, SimilarAnswer>(
      (query) => this.similarWaiting[this.blocks.similarGroup(query.minListeners)],
      () => {
        checkRequest(request);
        const query: SimilarBlockQuery = {
          item,
          count: queryCount(request.count, Number.MAX_SAFE_INTEGER),
          exclude: request.exclude,
          minListeners: this.blocks.effectiveMinimum(request.minItemUsers),
        };
        this.blocks.checkSimilar(query);
        // the list is copied: the caller may change its array once this returns
        return { ...query, exclude: Int32Array.from(request.exclude) };
      },
    );
  }

  recommendForVector(x: Float32Array, request: TopKRequest): Promise<ScoredItem[]> {
    return this.enqueue<VectorBlockQuery, ScoredItem[]>(
      () => this.vectorWaiting,
      () => {
        checkRequest(request);
        const query: VectorBlockQuery = {
          x,
          xOffset: 0,
          count: queryCount(request.count, Number.MAX_SAFE_INTEGER),
          exclude: request.exclude,
        };
        this.blocks.checkVector(query);
        // the vector and list are copied: the caller may change its arrays once this returns
        return { ...query, x: x.slice(0, this.blocks.factors), exclude: Int32Array.from(request.exclude) };
      },
    );
  }

  private enqueue<Q, A>(queue: (query: Q) => Waiting<Q, A>[], make: () => Q): Promise<A> {
    if (this.disposed) return Promise.reject(unloaded());
    let query: Q;
    try {
      query = make();
    } catch (error) {
      return Promise.reject(error);
    }
    const waiting = this.waiting();
    if (waiting >= this.maxWaiting) return Promise.reject(new QueueFullError(waiting));
    const answer = new Promise<A>((resolve, reject) => queue(query).push({ query, resolve, reject }));
    this.schedule();
    return answer;
  }

  withKernels<T>(use: (kernels: Kernels) => T): Promise<T> {
    if (this.disposed) return Promise.reject(unloaded());
    if (typeof use !== 'function')
      return Promise.reject(new AlsError('usage', `use must be a function, not ${valueForMessage(use)}`));
    const answer = new Promise<T>((resolve, reject) =>
      this.kernelUses.push({ query: use, resolve: resolve as (value: unknown) => void, reject }),
    );
    this.schedule();
    return answer;
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }

  /**
   * A block of each group in turn, and the withKernels calls between, until nothing waits. A
   * block's answers are handed over once the next block is being scored, so that the workers
   * score while the event loop writes them.
   */
  private async flush(): Promise<void> {
    this.scheduled = false;
    this.flushing = true;
    let deliver = () => {};
    try {
      while (!this.disposed && this.waiting() > 0) {
        // the kernels are idle between two blocks
        for (const use of this.kernelUses.splice(0)) settle(use, () => use.query(this.kernels));
        const scoring = this.scoreNext();
        deliver();
        deliver = () => {};
        if (scoring !== null) deliver = await scoring;
      }
    } finally {
      deliver();
      this.flushing = false;
      // dispose() came while a block was scored: the kernels are free now
      if (this.disposed) this.kernels.dispose();
    }
  }

  /** Starts scoring the next waiting block (the groups in turn); resolves with how to settle its queries. */
  private scoreNext(): Promise<() => void> | null {
    const groups = this.similarWaiting.length + 1;
    for (let n = 0; n < groups; n++) {
      const group = (this.turn + n) % groups;
      if (group < this.similarWaiting.length) {
        const batch = this.similarWaiting[group].splice(0, this.blocks.block);
        if (batch.length === 0) continue;
        this.turn = group + 1;
        return outcome(batch, this.blocks.similarAsync(batch.map((w) => w.query)));
      }
      const batch = this.vectorWaiting.splice(0, this.blocks.block);
      if (batch.length === 0) continue;
      this.turn = group + 1;
      return outcome(batch, this.blocks.recommendAsync(batch.map((w) => w.query)));
    }
    return null;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const error = unloaded();
    for (const waiting of [...this.similarWaiting.flat(), ...this.vectorWaiting, ...this.kernelUses])
      waiting.reject(error);
    this.similarWaiting = this.similarWaiting.map(() => []);
    this.vectorWaiting = [];
    this.kernelUses = [];
    // a block being scored ends first (its queries are answered): flush() frees the kernels then
    if (!this.flushing) this.kernels.dispose();
    void this.userRows.close();
  }

  userVector(user: number): Promise<Float32Array> {
    if (this.disposed) return Promise.reject(unloaded());
    return this.userRows.row(user);
  }
}

/** Once `scoring` settles: how to settle each query of its batch with its answer, or all with the error. */
async function outcome<Q, A>(batch: Waiting<Q, A>[], scoring: Promise<A[]>): Promise<() => void> {
  try {
    const answers = await scoring;
    return () => batch.forEach((waiting, n) => waiting.resolve(answers[n]));
  } catch (error) {
    return () => batch.forEach((waiting) => waiting.reject(error));
  }
}

/** Settles `waiting` with what `compute` returns or throws. */
function settle<Q, A>(waiting: Waiting<Q, A>, compute: () => A): void {
  try {
    waiting.resolve(compute());
  } catch (error) {
    waiting.reject(error);
  }
}

function checkRequest(request: unknown): void {
  if (typeof request !== 'object' || request === null)
    throw new AlsError('usage', `request must be an object, not ${valueForMessage(request)}`);
}

function unloaded(): AlsError {
  return new AlsError('model', 'the model was unloaded before the query was answered');
}
