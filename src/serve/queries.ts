import { availableParallelism } from 'node:os';
import { AlsError } from '../errors.js';
import { createWasmKernels, type Kernels } from '../kernels/index.js';
import { closeModel } from '../model/load.js';
import type { AlsModel } from '../model/model.js';
import { BlockQueries, queryCount, type SimilarBlockQuery, type VectorBlockQuery } from '../query/blockQueries.js';
import { QUERY_BLOCK } from '../query/recommendAll.js';
import type { ScoredItem } from '../query/similar.js';
import { checkModel, checkOptions, checkWhole, valueForMessage } from '../validate.js';

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
  similarToRow(item: number, request: TopKRequest & { minItemUsers: number }): Promise<{ similar: ScoredItem[]; leftOut: number }>;
  /** best items for the vector x[0 .. factors) (a user's factors or a folded-in one) */
  recommendForVector(x: Float32Array, request: TopKRequest): Promise<ScoredItem[]>;
  /**
   * The kernels the model's factors live in: pass them (options.kernels) to a core query run
   * on this model alone (explainedRecommendations, recommendForVector), which otherwise copies
   * the factors into the process-wide default kernels, a copy never freed.
   */
  readonly kernels: Kernels;
  /** frees what the queries hold (kernel threads and memory); waiting queries are refused. Called once no request uses the model */
  dispose(): void;
}

export interface ServingOptions {
  /** threads for scoring (default: every CPU) */
  threads?: number;
  /** queries scored together at most (default QUERY_BLOCK, 16) */
  block?: number;
  /** queries that may wait to be scored; one more is refused with QueueFullError (default 1024) */
  maxWaiting?: number;
}

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
 * factors moved into their memory. Returns the model to answer from, a plain AlsModel with every
 * part materialised and the factors replaced by the kernel copies (so drop the given model: the
 * loaded arrays are then freed and the factors are held once; loadedVersion() knows only the
 * given model), and its queries, batched.
 */
export async function prepareServing(model: AlsModel, options: ServingOptions = {}): Promise<{ model: AlsModel; queries: ModelQueries }> {
  checkModel('model', model);
  options = checkOptions('options', options);
  const threads = checkWhole('options.threads', options.threads ?? availableParallelism(), 1, 1024);
  const block = checkWhole('options.block', options.block ?? QUERY_BLOCK, 1, 256);
  const maxWaiting = checkWhole('options.maxWaiting', options.maxWaiting ?? DEFAULT_MAX_WAITING, 1);
  // every part read (and checked by the loader) before anything else
  const { userFactors, itemFactors, userIds, itemNames, userItems, itemListeners } = model;
  closeModel(model);
  const kernels = await createWasmKernels(threads);
  try {
    const served: AlsModel = {
      ...model,
      userIds,
      itemNames,
      userItems,
      itemListeners,
      userFactors: inKernel(kernels, userFactors),
      itemFactors: inKernel(kernels, itemFactors),
    };
    return { model: served, queries: new BatchedQueries(new BlockQueries(served, kernels, { block }), kernels, maxWaiting) };
  } catch (error) {
    kernels.dispose();
    throw error;
  }
}

function inKernel(kernels: Kernels, array: Float32Array): Float32Array {
  const copy = kernels.float32(array.length);
  copy.set(array);
  return copy;
}

interface Waiting<Q, A> {
  query: Q;
  resolve(answer: A): void;
  reject(error: unknown): void;
}

type SimilarAnswer = { similar: ScoredItem[]; leftOut: number };

/**
 * Queries gathered while the event loop turns: everything asked before the next check phase
 * (setImmediate) is scored together, one block of each kind per turn, so that answers of a block
 * are written before the next block starts and requests read meanwhile join the queue.
 */
class BatchedQueries implements ModelQueries {
  /** similar queries by candidate group (BlockQueries.similarGroup), so that a block shares one pass */
  private similarWaiting: Waiting<SimilarBlockQuery, SimilarAnswer>[][];
  private vectorWaiting: Waiting<VectorBlockQuery, ScoredItem[]>[] = [];
  private scheduled = false;
  private disposed = false;

  constructor(
    private readonly blocks: BlockQueries,
    readonly kernels: Kernels,
    private readonly maxWaiting: number,
  ) {
    this.similarWaiting = Array.from({ length: blocks.similarGroups }, () => []);
  }

  private waiting(): number {
    let waiting = this.vectorWaiting.length;
    for (const group of this.similarWaiting) waiting += group.length;
    return waiting;
  }

  similarToRow(item: number, request: TopKRequest & { minItemUsers: number }): Promise<SimilarAnswer> {
    return this.enqueue<SimilarBlockQuery, SimilarAnswer>((query) => this.similarWaiting[this.blocks.similarGroup(query.minListeners)], () => {
      checkRequest(request);
      const query: SimilarBlockQuery = { item, count: queryCount(request.count, Number.MAX_SAFE_INTEGER), exclude: request.exclude, minListeners: request.minItemUsers };
      this.blocks.checkSimilar(query);
      // the list is copied: the caller may change its array once this returns
      return { ...query, exclude: Int32Array.from(request.exclude) };
    });
  }

  recommendForVector(x: Float32Array, request: TopKRequest): Promise<ScoredItem[]> {
    return this.enqueue<VectorBlockQuery, ScoredItem[]>(() => this.vectorWaiting, () => {
      checkRequest(request);
      const query: VectorBlockQuery = { x, xOffset: 0, count: queryCount(request.count, Number.MAX_SAFE_INTEGER), exclude: request.exclude };
      this.blocks.checkVector(query);
      // the vector and list are copied: the caller may change its arrays once this returns
      return { ...query, x: x.slice(0, this.blocks.factors), exclude: Int32Array.from(request.exclude) };
    });
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

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** One block of each group; again on the next turn while queries wait. */
  private flush(): void {
    this.scheduled = false;
    if (this.disposed) return;
    for (const group of this.similarWaiting) run(group.splice(0, this.blocks.block), (queries) => this.blocks.similar(queries));
    run(this.vectorWaiting.splice(0, this.blocks.block), (queries) => this.blocks.recommend(queries));
    if (this.waiting() > 0) this.schedule();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const error = unloaded();
    for (const waiting of [...this.similarWaiting.flat(), ...this.vectorWaiting]) waiting.reject(error);
    this.similarWaiting = this.similarWaiting.map(() => []);
    this.vectorWaiting = [];
    this.kernels.dispose();
  }
}

function run<Q, A>(batch: Waiting<Q, A>[], score: (queries: Q[]) => A[]): void {
  if (batch.length === 0) return;
  let answers: A[];
  try {
    answers = score(batch.map((w) => w.query));
  } catch (error) {
    for (const waiting of batch) waiting.reject(error);
    return;
  }
  batch.forEach((waiting, n) => waiting.resolve(answers[n]));
}

function checkRequest(request: unknown): void {
  if (typeof request !== 'object' || request === null) throw new AlsError('usage', `request must be an object, not ${valueForMessage(request)}`);
}

function unloaded(): AlsError {
  return new AlsError('model', 'the model was unloaded before the query was answered');
}
