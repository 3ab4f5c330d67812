import { seededRandom } from '../als/random.js';
import { AlsError } from '../errors.js';
import { checkArray, checkFinite, checkList, checkOptions, checkWhole, valueForMessage } from '../validate.js';
import {
  arrayMaker,
  GraphMemory,
  graphCodeStride,
  graphDot,
  graphSimilarity,
  heapPop,
  heapPush,
  quantizeGraphRow,
  searchGraphLayer,
  type GraphCodes,
  type GraphLayerSearch,
} from '../kernels/graphSearch.js';
import type { KernelBackend } from '../kernels/index.js';

/**
 * An approximate nearest-neighbour index: a hierarchical navigable small world graph (HNSW;
 * Malkov & Yashunin, "Efficient and robust approximate nearest neighbor search using
 * Hierarchical Navigable Small World graphs", TPAMI 2018) over the rows of a row-major
 * Float32Array, similarity = the inner product of the rows as given (unit rows for cosine;
 * augmentForInnerProduct for the inner product itself).
 *
 * Everything lives in typed arrays. Row i reaches layers 0..levels[i]. Its layer-0 list is
 * links0[i · 2m ..], counts0[i] entries of it used; its list at layer l ≥ 1 is upper list
 * u = upperStart[i] + l − 1, at linksUpper[u · m ..], countsUpper[u] entries used. Unused slots
 * hold −1. upperStart is the running sum of levels, so it is never stored.
 */
export interface HnswIndex {
  readonly rows: number;
  readonly dim: number;
  /** links per row on layers ≥ 1 (2m on layer 0) */
  readonly m: number;
  /** the search depth the index was built with (kept for description; a search does not need it) */
  readonly efConstruction: number;
  readonly seed: number;
  /** the top layer: levels[entryPoint] (0 when there are no rows) */
  readonly maxLevel: number;
  /** where every search starts; −1 when there are no rows */
  readonly entryPoint: number;
  /** the top layer of each row, rows entries */
  readonly levels: Uint8Array;
  /** rows × 2m neighbour rows, best-kept first as the heuristic chose them; −1 past counts0 */
  readonly links0: Int32Array;
  readonly counts0: Uint16Array;
  /** rows + 1 entries: row i's first upper list; upperStart[rows] lists in all */
  readonly upperStart: Int32Array;
  /** upper lists × m neighbour rows; −1 past countsUpper */
  readonly linksUpper: Int32Array;
  readonly countsUpper: Uint16Array;
}

/** Links per row on the upper layers (2m on layer 0): the paper's M = 16 for data of moderate dimension (§4.2, fig. 10). */
export const DEFAULT_M = 16;
/**
 * The candidate list of an insertion. hnswlib's example setting is 200; 400 builds a graph that
 * needs a shorter search for the same recall, at twice the build's cost: on the 174,334 artists
 * with at least 3 listeners of bench/data/model-full (m 16, 2,000 seeded query artists against
 * the exact top 10 of similar), recall@10 at ef 384 was 0.9862 with 200 and 0.9963 with 400
 * (0.9911 and 0.9979 at ef 512); the build took 24 s and 51 s on one core.
 */
export const DEFAULT_EF_CONSTRUCTION = 400;
/**
 * The candidate list of a search (at least k). With the index of DEFAULT_EF_CONSTRUCTION above,
 * recall@10 was 0.9935 at ef 256 and 0.9963 at 384: 0.9878 and 0.9936 for the rarer artists'
 * queries (fewer than 3 listeners, not in the index themselves). 384 keeps both over 0.99.
 */
export const DEFAULT_EF = 384;
/** m from 2 to MAX_M: 2m links on layer 0 must fit the Uint16 counts with room to spare */
export const MAX_M = 256;
/**
 * The highest layer. A level is ⌊−ln U · 1/ln m⌋ with U ≥ 2⁻³² (seededRandom's step), at most 32
 * for m = 2; the clamp makes it a rule rather than a consequence, and bounds what a file may hold.
 */
export const MAX_LEVEL = 32;
/** dim from 1 to MAX_DIM (a model has at most 1024 factors; one more for augmentForInnerProduct) */
export const MAX_DIM = 65536;
/** rows of an index: ids are int32 */
export const MAX_ROWS = 2 ** 31 - 1;

export interface HnswBuildOptions {
  /**
   * Links per row on layers ≥ 1; layer 0 has 2m (§4, "Mmax0 = 2·M"). 2 to MAX_M.
   * @default DEFAULT_M (16)
   */
  m?: number;
  /**
   * How many candidates an insertion keeps while it looks for its neighbours (≥ 1).
   * @default DEFAULT_EF_CONSTRUCTION (400)
   */
  efConstruction?: number;
  /**
   * Seed of the layer draws (seededRandom), a whole number from 0 to 2³² − 1: the same vectors,
   * options and seed give the same index, byte for byte.
   * @default 1
   */
  seed?: number;
  /** called with the rows inserted so far, every 4,096 rows and at the end */
  onProgress?: (inserted: number, rows: number) => void;
  /**
   * 'wasm': the searches and similarities of the insertions in WebAssembly, the graph built in
   * the memory its searches then use; 'js': the TypeScript reference. Both build the same index,
   * byte for byte.
   * @default 'wasm'
   */
  backend?: KernelBackend;
}

export interface HnswSearchOptions {
  /**
   * Candidates kept during the search on layer 0; raised to k when smaller. Larger: better
   * recall, slower.
   * @default max(k, DEFAULT_EF)
   */
  ef?: number;
  /**
   * Rows never returned (the query item itself, a user's items). They are still walked
   * through, and the search goes on until it holds ef rows that are not excluded, so that
   * excluding many rows still gives k results.
   */
  exclude?: ArrayLike<number>;
  /**
   * 'wasm': the layer search in WebAssembly, in a memory of the index's own (a copy of the
   * vectors and lists there, made on its first search); 'js': the TypeScript reference. Both
   * give the same answer, number for number.
   * @default 'wasm'
   */
  backend?: KernelBackend;
}

export interface HnswResult {
  /** rows, best first (ties: the lower row first) */
  ids: Int32Array;
  /** their inner product with the query, as float32 */
  scores: Float32Array;
}

/** the exclusion mark of a search that excludes nothing: no Uint32 entry equals it */
const NO_EXCLUSION = -1;

/** the indexes buildHnsw and readHnsw made: a search trusts only those (their lists are checked) */
const made = new WeakSet<HnswIndex>();

/** Marks an index whose every list was checked (buildHnsw, readHnsw); for hnswFormat.ts only. */
export function registerHnsw(index: HnswIndex): HnswIndex {
  made.add(index);
  return index;
}

function usage(message: string, field: string): never {
  throw new AlsError('usage', message, { field });
}

/** the similarity of two rows: the kernels' float32 dot, the same number in TypeScript and WebAssembly */
const dot = graphDot;

/** capacity of a search's found heap and output before it grows (ef + 1 entries are needed) */
const FIRST_EF_CAPACITY = 512;

/**
 * What one graph needs to search it without allocating: the layer search's arrays (visited marks
 * by generation, so that a search clears nothing; the two heaps; the sorted result of the last
 * layer search) and, with the WebAssembly backend, the memory they and the graph live in.
 */
class Searcher {
  /** the graph's own memory (wasm backend), holding the graph's arrays, the vectors and the scratch */
  readonly memory: GraphMemory | null;
  /** the arrays of one layer search, its fields set per call */
  readonly layer: GraphLayerSearch;
  readonly excluded: Uint32Array;
  excludeGeneration = 0;
  /** the vectors last copied into memory (wasm backend) */
  private source: Float32Array | null = null;
  /** the query's copy in memory (wasm backend) */
  private readonly query: Float32Array;
  count = 0;

  /**
   * `memory`: given when the graph's arrays and `vectors` are already in it (the builder made
   * them there); else the wasm backend copies them into a memory of its own, and js searches
   * them where they are.
   */
  constructor(
    readonly graph: Graph,
    vectors: Float32Array,
    backend: KernelBackend,
    memory: GraphMemory | null = null,
  ) {
    const { rows, dim } = graph;
    this.memory = backend === 'wasm' ? (memory ?? new GraphMemory(searchBytes(graph))) : null;
    const make = arrayMaker(this.memory);
    const placed = memory !== null;
    const take = <T extends Int32Array | Uint16Array>(array: T): T =>
      this.memory === null || placed ? array : this.memory.copy(array);
    this.query = make(Float32Array, dim);
    this.excluded = make(Uint32Array, rows);
    this.layer = {
      vectors: placed || this.memory === null ? vectors : make(Float32Array, rows * dim),
      dim,
      links: take(graph.links0),
      counts: take(graph.counts0),
      stride: 2 * graph.m,
      upperStart: take(graph.upperStart),
      layer: 0,
      query: this.query,
      queryOffset: 0,
      start: 0,
      startSim: 0,
      ef: 1,
      visited: make(Uint8Array, rows),
      generation: 0,
      excluded: null,
      excludeMark: 0,
      candidateKeys: make(Float64Array, rows + 1),
      candidateIds: make(Int32Array, rows + 1),
      foundKeys: make(Float64Array, FIRST_EF_CAPACITY + 1),
      foundIds: make(Int32Array, FIRST_EF_CAPACITY + 1),
      ids: make(Int32Array, FIRST_EF_CAPACITY + 1),
      sims: make(Float64Array, FIRST_EF_CAPACITY + 1),
      batchIds: make(Int32Array, 2 * graph.m),
      batchSims: make(Float32Array, 2 * graph.m),
      approx: null,
    };
    this.lower = { links: this.layer.links, counts: this.layer.counts };
    this.upper = { links: take(graph.linksUpper), counts: take(graph.countsUpper) };
    this.source = placed || this.memory === null ? vectors : null;
  }

  /** layer 0's lists and the upper layers', where the layer search reads them */
  private readonly lower: { links: Int32Array; counts: Uint16Array };
  private readonly upper: { links: Int32Array; counts: Uint16Array };

  /** The vectors searched: a search may give other ones of the same size (copied in with the wasm backend). */
  useVectors(vectors: Float32Array): void {
    if (vectors === this.source) return;
    if (this.memory === null) this.layer.vectors = vectors;
    else this.layer.vectors.set(vectors);
    this.source = vectors;
    this.quantizeVectors();
  }

  /** Takes `vectors` as the ones already in memory (the builder copied them there): no copy on the next search. */
  adopt(vectors: Float32Array): void {
    this.source = vectors;
  }

  get vectors(): Float32Array {
    return this.layer.vectors;
  }

  get ids(): Int32Array {
    return this.layer.ids;
  }

  get sims(): Float64Array {
    return this.layer.sims;
  }

  nextExcludeGeneration(): number {
    if (this.excludeGeneration === 0xffffffff) {
      this.excluded.fill(0);
      this.excludeGeneration = 0;
    }
    return ++this.excludeGeneration;
  }

  /**
   * The row reached by moving to a better neighbour on `layer` while there is one (ef = 1), by
   * the similarity of the walk (int8 codes once a query made them: setQuery).
   */
  greedy(q: Float32Array, qo: number, start: number, startSim: number, layer: number): number {
    const s = this.layer;
    s.query = q;
    s.queryOffset = qo;
    s.approx = this.codes;
    if (this.memory !== null) {
      const row = this.memory.greedy(s, this.upper.links, this.upper.counts, this.graph.m, layer, start, startSim);
      this.greedySim = this.memory.greedySim;
      return row;
    }
    const { m, upperStart, linksUpper, countsUpper } = this.graph;
    let best = start;
    let bestSim = startSim;
    for (let moved = true; moved;) {
      moved = false;
      const list = upperStart[best] + layer - 1;
      const base = list * m;
      const end = base + countsUpper[list];
      for (let n = base; n < end; n++) {
        const row = linksUpper[n];
        const sim = graphSimilarity(s, row);
        if (sim > bestSim || (sim === bestSim && row < best)) {
          bestSim = sim;
          best = row;
          moved = true;
        }
      }
    }
    this.greedySim = bestSim;
    return best;
  }

  /** The similarity of the walk between the query last given and `row`. */
  walkSimilarity(q: Float32Array, qo: number, row: number): number {
    const s = this.layer;
    s.query = q;
    s.queryOffset = qo;
    s.approx = this.codes;
    return graphSimilarity(s, row);
  }

  /** the similarity of greedy's row to the query */
  greedySim = 0;

  /**
   * The best `ef` rows on `layer` reachable from `start` (searchGraphLayer), into ids/sims (best
   * first) and count. With `excludeMark`, rows whose excluded mark equals it are walked through
   * but never kept, and the walk goes on until ef kept rows bound it. `q` is a query of this
   * searcher's (setQuery) or the vectors searched.
   */
  searchLayer(
    q: Float32Array,
    qo: number,
    start: number,
    startSim: number,
    ef: number,
    layer: number,
    excludeMark: number,
  ): void {
    const s = this.layer;
    if (s.foundKeys.length < ef + 1) this.grow(ef + 1);
    if (s.generation === 0xff) {
      s.visited.fill(0);
      s.generation = 0;
    }
    s.generation++;
    s.layer = layer;
    const upper = layer > 0;
    const links = upper ? this.upper.links : this.lower.links;
    const counts = upper ? this.upper.counts : this.lower.counts;
    s.links = links;
    s.counts = counts;
    s.stride = upper ? this.graph.m : 2 * this.graph.m;
    s.query = q;
    s.queryOffset = qo;
    s.start = start;
    s.startSim = startSim;
    s.ef = ef;
    s.excluded = excludeMark === NO_EXCLUSION ? null : this.excluded;
    s.excludeMark = excludeMark;
    s.approx = this.codes;
    this.count = this.memory === null ? searchGraphLayer(s) : this.memory.search(s);
  }

  /** the int8 codes of the vectors that a query's walk uses, made on the first query (setQuery); a build walks with the floats */
  private codes: GraphCodes | null = null;

  /**
   * Copies `query` (dim numbers) to where the layer search reads a query, with its codes; the
   * first query makes the vectors' codes, and from then on the walk compares codes.
   */
  setQuery(query: Float32Array): Float32Array {
    this.query.set(query);
    if (this.codes === null) {
      const { rows, dim } = this.graph;
      const make = arrayMaker(this.memory);
      const stride = graphCodeStride(dim);
      this.codes = {
        codes: make(Int8Array, rows * stride),
        stride,
        scales: make(Float32Array, rows),
        queryCodes: make(Int8Array, stride),
        queryScale: 0,
      };
      this.quantizeVectors();
    }
    this.codes.queryScale = quantizeGraphRow(query, 0, this.graph.dim, this.codes.queryCodes, 0);
    return this.query;
  }

  private quantizeVectors(): void {
    const codes = this.codes;
    if (codes === null) return;
    const { rows, dim } = this.graph;
    const Y = this.layer.vectors;
    for (let j = 0; j < rows; j++) codes.scales[j] = quantizeGraphRow(Y, j * dim, dim, codes.codes, j * codes.stride);
  }

  /**
   * Scores the first `count` rows of the last layer search (ids, best first by the walk's
   * similarity) with the float dot and leaves them in ids/sims best first by it (ties: the lower
   * row), count of them.
   */
  rescore(q: Float32Array, count: number): void {
    const s = this.layer;
    const { dim } = this.graph;
    const rows = s.foundIds;
    const sims = s.foundKeys;
    rows.set(s.ids.subarray(0, count));
    if (this.memory !== null) this.memory.dots(s.vectors, dim, q, 0, rows, count, sims);
    else for (let n = 0; n < count; n++) sims[n] = dot(q, 0, s.vectors, rows[n] * dim, dim);
    const order = Array.from({ length: count }, (_, n) => n).sort((a, b) => sims[b] - sims[a] || rows[a] - rows[b]);
    for (let n = 0; n < count; n++) {
      s.ids[n] = rows[order[n]];
      s.sims[n] = sims[order[n]];
    }
    this.count = count;
  }

  private grow(capacity: number): void {
    const s = this.layer;
    const make = arrayMaker(this.memory);
    const size = Math.max(capacity, 2 * s.foundKeys.length);
    s.foundKeys = make(Float64Array, size);
    s.foundIds = make(Int32Array, size);
    s.ids = make(Int32Array, size);
    s.sims = make(Float64Array, size);
  }
}

/** bytes a searcher's memory holds: the vectors, the lists and a search's scratch */
function searchBytes(graph: Graph): number {
  const { rows, dim } = graph;
  return (
    rows * dim * 4 +
    graph.links0.byteLength +
    graph.counts0.byteLength +
    graph.upperStart.byteLength +
    graph.linksUpper.byteLength +
    graph.countsUpper.byteLength +
    rows * (1 + 4 + 12) +
    FIRST_EF_CAPACITY * 24 +
    16 * 1024
  );
}

/** The graph arrays of an HnswIndex, mutable while it is built. */
type Graph = Omit<HnswIndex, 'maxLevel' | 'entryPoint'> & { maxLevel: number; entryPoint: number };

/** a Searcher per index, made on its first search and kept with it */
const searchers: Record<KernelBackend, WeakMap<HnswIndex, Searcher>> = { wasm: new WeakMap(), js: new WeakMap() };

/** backend must be one of KERNEL_BACKENDS */
function checkBackend(backend: unknown): asserts backend is KernelBackend {
  if (backend !== 'wasm' && backend !== 'js')
    usage(`backend must be 'wasm' or 'js', not ${valueForMessage(backend)}`, 'backend');
}

/**
 * The index of the `rows` rows of `vectors` (row-major, `dim` numbers a row), built by inserting
 * the rows one at a time in a seeded random order (algorithm 1 of the paper; insertionOrder): each
 * row draws its top layer ⌊−ln U / ln m⌋ (U uniform in (0, 1]; both from seededRandom(seed)),
 * walks down greedily from the entry point to that
 * layer, and on each layer below finds its efConstruction nearest rows (algorithm 2), keeps m of
 * them by the neighbour heuristic (algorithm 4) and links both ways; a row whose list is then
 * over its capacity (m, or 2m on layer 0) keeps the heuristic's choice of its old links and the
 * new one. Similarity is the inner product; give unit rows for cosine.
 *
 * Deterministic: the same vectors, options and seed give the same index, byte for byte
 * (writeHnsw). About rows × 2m × 4 bytes on layer 0, a fraction 1/(m − 1) of that above.
 *
 * @throws {AlsError} 'usage' naming the field: vectors not a Float32Array of rows × dim finite
 * numbers, rows or dim out of range, a bad option
 */
export function buildHnsw(vectors: Float32Array, rows: number, dim: number, options: HnswBuildOptions = {}): HnswIndex {
  checkWhole('rows', rows, 0, MAX_ROWS);
  checkWhole('dim', dim, 1, MAX_DIM);
  checkArray('vectors', vectors, Float32Array);
  if (vectors.length !== rows * dim)
    usage(`vectors must hold rows × dim = ${rows * dim} numbers, not ${vectors.length}`, 'vectors');
  checkFinite('vectors', vectors);
  const {
    m = DEFAULT_M,
    efConstruction = DEFAULT_EF_CONSTRUCTION,
    seed = 1,
    onProgress,
    backend = 'wasm',
  } = checkOptions('options', options);
  checkBackend(backend);
  checkWhole('m', m, 2, MAX_M);
  checkWhole('efConstruction', efConstruction, 1);
  checkWhole('seed', seed, 0, 0xffffffff);
  if (onProgress !== undefined && typeof onProgress !== 'function')
    usage(`onProgress must be a function, not ${valueForMessage(onProgress)}`, 'onProgress');

  const random = seededRandom(seed);
  const levels = new Uint8Array(rows);
  const upperStart = new Int32Array(rows + 1);
  const scale = 1 / Math.log(m);
  for (let i = 0; i < rows; i++) {
    levels[i] = Math.min(MAX_LEVEL, Math.floor(-Math.log(1 - random()) * scale));
    upperStart[i + 1] = upperStart[i] + levels[i];
  }
  const lists = upperStart[rows];
  // the wasm backend builds the graph in the memory its searches will use
  const memory =
    backend === 'wasm' ? new GraphMemory(rows * (dim * 4 + 2 * m * 4 + 26) + lists * (m * 4 + 2) + 1024 * 1024) : null;
  const make = arrayMaker(memory);
  const graph: Graph = {
    rows,
    dim,
    m,
    efConstruction,
    seed,
    maxLevel: 0,
    entryPoint: -1,
    levels,
    links0: make(Int32Array, rows * 2 * m).fill(-1),
    counts0: make(Uint16Array, rows),
    upperStart: memory === null ? upperStart : memory.copy(upperStart),
    linksUpper: make(Int32Array, lists * m).fill(-1),
    countsUpper: make(Uint16Array, lists),
  };
  const builder = new Builder(graph, memory === null ? vectors : memory.copy(vectors), backend, memory);
  const order = insertionOrder(rows, random);
  for (let i = 0; i < rows; i++) {
    builder.insert(order[i]);
    if (onProgress !== undefined && ((i + 1) % 4096 === 0 || i + 1 === rows)) onProgress(i + 1, rows);
  }
  // its searches go on in the memory the graph was built in
  builder.searcher.adopt(vectors);
  searchers[backend].set(graph, builder.searcher);
  return registerHnsw(graph);
}

/**
 * The rows in a seeded random order (Fisher–Yates), the order buildHnsw inserts them in. Rows of
 * a model come in the order the input first named them, so neighbouring rows are often alike
 * (the rare items of one user); inserted in that order, a clump of them is linked up before its
 * surroundings exist, and the heuristic then keeps few links into it. On the 292,383 × 64 item
 * factors of bench/data/model-full (m 16, efConstruction 200; scripts/annbench.js, 300 queries)
 * recall@10 at ef 64 was 0.913 in row order and 0.966 in random order; 0.99 took an ef between
 * 1,024 and 2,048 in row order, about 300 in random order (bench/annbench.md).
 */
function insertionOrder(rows: number, random: () => number): Int32Array {
  const order = Int32Array.from({ length: rows }, (_, i) => i);
  for (let i = rows - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** The insertion of rows, with its scratch. */
class Builder {
  readonly searcher: Searcher;
  /** the heuristic's choice of a new row's links, and of a full list's */
  readonly chosen: Int32Array;
  readonly kept: Int32Array;
  /** the links of a full list and the new one, best first */
  readonly pool: Int32Array;
  readonly poolSims: Float64Array;
  /** rows whose similarities to one row the kernels compute at once, and those (wasm backend) */
  readonly batch: Int32Array;
  readonly batchSims: Float64Array;

  constructor(
    readonly graph: Graph,
    readonly vectors: Float32Array,
    backend: KernelBackend,
    readonly memory: GraphMemory | null,
  ) {
    this.searcher = new Searcher(graph, vectors, backend, memory);
    const make = arrayMaker(memory);
    this.chosen = make(Int32Array, graph.m);
    this.kept = make(Int32Array, 2 * graph.m);
    this.pool = new Int32Array(2 * graph.m + 1);
    this.poolSims = new Float64Array(2 * graph.m + 1);
    this.batch = make(Int32Array, 2 * graph.m + 1);
    this.batchSims = make(Float64Array, 2 * graph.m + 1);
  }

  insert(q: number): void {
    const { graph, vectors: Y, searcher } = this;
    const { dim, m, levels } = graph;
    const level = levels[q];
    const qo = q * dim;
    if (graph.entryPoint === -1) {
      graph.entryPoint = q;
      graph.maxLevel = level;
      return;
    }
    let ep = graph.entryPoint;
    let epSim = dot(Y, qo, Y, ep * dim, dim);
    for (let layer = graph.maxLevel; layer > level; layer--) {
      ep = searcher.greedy(Y, qo, ep, epSim, layer);
      epSim = searcher.greedySim;
    }
    for (let layer = Math.min(level, graph.maxLevel); layer >= 0; layer--) {
      searcher.searchLayer(Y, qo, ep, epSim, graph.efConstruction, layer, NO_EXCLUSION);
      ep = searcher.ids[0];
      epSim = searcher.sims[0];
      const chosen = this.heuristic(searcher.ids, searcher.sims, searcher.count, m, this.chosen);
      // q's own list is empty: m ≤ its capacity on every layer
      if (layer === 0) {
        graph.links0.set(this.chosen.subarray(0, chosen), q * 2 * m);
        graph.counts0[q] = chosen;
      } else {
        const list = graph.upperStart[q] + layer - 1;
        graph.linksUpper.set(this.chosen.subarray(0, chosen), list * m);
        graph.countsUpper[list] = chosen;
      }
      for (let n = 0; n < chosen; n++) this.link(this.chosen[n], q, layer);
    }
    if (level > graph.maxLevel) {
      graph.maxLevel = level;
      graph.entryPoint = q;
    }
  }

  /** Adds the link from → to on `layer`; a full list keeps the heuristic's choice of its links and `to`. */
  link(from: number, to: number, layer: number): void {
    const { graph, vectors: Y, pool, poolSims } = this;
    const { dim, m } = graph;
    const links = layer === 0 ? graph.links0 : graph.linksUpper;
    const counts = layer === 0 ? graph.counts0 : graph.countsUpper;
    const cap = layer === 0 ? 2 * m : m;
    const list = layer === 0 ? from : graph.upperStart[from] + layer - 1;
    const base = list * cap;
    const count = counts[list];
    if (count < cap) {
      links[base + count] = to;
      counts[list] = count + 1;
      return;
    }
    // the old links and the new one, best first by similarity to `from` (at most 2m + 1)
    const { memory, batch, batchSims } = this;
    if (memory !== null) {
      batch.set(links.subarray(base, base + count));
      batch[count] = to;
      memory.dots(Y, dim, Y, from * dim, batch, count + 1, batchSims);
      for (let n = 0; n <= count; n++) this.insertSorted(n, batch[n], batchSims[n]);
    } else {
      const fo = from * dim;
      for (let n = 0; n <= count; n++) {
        const row = n < count ? links[base + n] : to;
        this.insertSorted(n, row, dot(Y, fo, Y, row * dim, dim));
      }
    }
    const kept = this.heuristic(pool, poolSims, count + 1, cap, this.kept);
    for (let n = 0; n < cap; n++) links[base + n] = n < kept ? this.kept[n] : -1;
    counts[list] = kept;
  }

  /** Puts (row, s) into pool[0 .. size] sorted best first, ties to the lower row (insertion sort). */
  insertSorted(size: number, row: number, s: number): void {
    const { pool, poolSims } = this;
    let n = size;
    while (n > 0 && (poolSims[n - 1] < s || (poolSims[n - 1] === s && pool[n - 1] > row))) {
      pool[n] = pool[n - 1];
      poolSims[n] = poolSims[n - 1];
      n--;
    }
    pool[n] = row;
    poolSims[n] = s;
  }

  /**
   * Algorithm 4 of the paper (without extending the candidates or keeping pruned links): of
   * `count` candidates sorted best first by their similarity `sims` to the row being linked, keep
   * one when it is more similar to that row than to every one kept before it, until `keep` are
   * kept. This spreads links over directions instead of into one cluster. Into `chosen`; returns how many.
   */
  heuristic(ids: Int32Array, sims: Float64Array, count: number, keep: number, chosen: Int32Array): number {
    const Y = this.vectors;
    const dim = this.graph.dim;
    let kept = 0;
    for (let n = 0; n < count && kept < keep; n++) {
      const row = ids[n];
      const s = sims[n];
      let good = true;
      if (this.memory !== null) {
        // every kept row at once: more products than stopping at the first closer one, each far cheaper
        this.memory.dots(Y, dim, Y, row * dim, chosen, kept, this.batchSims);
        for (let j = 0; j < kept && good; j++) good = this.batchSims[j] <= s;
      } else {
        const ro = row * dim;
        for (let j = 0; j < kept && good; j++) good = dot(Y, ro, Y, chosen[j] * dim, dim) <= s;
      }
      if (good) chosen[kept++] = row;
    }
    return kept;
  }
}

/**
 * The k rows of `vectors` with the largest inner product with `query` that the index finds,
 * best first, leaving out `exclude`: the greedy walk down the upper layers, then a best-first
 * search of layer 0 keeping ef candidates (algorithm 5 of the paper). k larger than the rows not
 * excluded gives all of those. When the walk reaches fewer than that (a part of the graph cut off
 * by exclusions), the rows are found by an exact scan instead, so a search never comes back short.
 *
 * `vectors` must be the ones the index was built on (only their size is checked); `query` has dim
 * numbers. Allocates only the result; once per index and backend, its marks and heaps (17 bytes
 * a row) and, with the wasm backend, a copy of the vectors and lists in the index's own
 * WebAssembly memory (none for an index buildHnsw made there).
 *
 * @throws {AlsError} 'usage' naming the field: an index not from buildHnsw or readHnsw, vectors
 * or a query of the wrong size, k or ef not whole numbers, an excluded row out of range
 */
export function searchHnsw(
  index: HnswIndex,
  vectors: Float32Array,
  query: Float32Array,
  k: number,
  options: HnswSearchOptions = {},
): HnswResult {
  if (!made.has(index))
    usage(`index must be an HnswIndex from buildHnsw or readHnsw, not ${valueForMessage(index)}`, 'index');
  const { rows, dim } = index;
  checkArray('vectors', vectors, Float32Array);
  if (vectors.length !== rows * dim)
    usage(`vectors must hold the index's rows × dim = ${rows * dim} numbers, not ${vectors.length}`, 'vectors');
  checkArray('query', query, Float32Array, dim);
  checkFinite('query', query);
  checkWhole('k', k, 0);
  const { ef: givenEf, exclude, backend = 'wasm' } = checkOptions('options', options);
  if (givenEf !== undefined) checkWhole('ef', givenEf, 1);
  checkList('exclude', exclude, 'rows', true);
  checkBackend(backend);

  let searcher = searchers[backend].get(index);
  if (searcher === undefined) {
    searcher = new Searcher(index, vectors, backend);
    searchers[backend].set(index, searcher);
  }
  searcher.useVectors(vectors);
  let mark = NO_EXCLUSION;
  let excludedRows = 0;
  if (exclude !== undefined && exclude.length > 0) {
    mark = searcher.nextExcludeGeneration();
    const excluded = searcher.excluded;
    for (let n = 0; n < exclude.length; n++) {
      const row = exclude[n];
      if (typeof row !== 'number' || !Number.isInteger(row) || row < 0 || row >= rows) {
        // leave no half-made marks for the next search
        searcher.nextExcludeGeneration();
        usage(`exclude[${n}] must be a row from 0 to ${rows - 1}, not ${valueForMessage(row)}`, 'exclude');
      }
      if (excluded[row] !== mark) {
        excluded[row] = mark;
        excludedRows++;
      }
    }
  }
  const wanted = Math.min(k, rows - excludedRows);
  if (wanted === 0) return { ids: new Int32Array(0), scores: new Float32Array(0) };
  const ef = Math.max(wanted, givenEf ?? DEFAULT_EF);

  const q = searcher.setQuery(query);
  let ep = index.entryPoint;
  let epSim = searcher.walkSimilarity(q, 0, ep);
  for (let layer = index.maxLevel; layer > 0; layer--) {
    ep = searcher.greedy(q, 0, ep, epSim, layer);
    epSim = searcher.greedySim;
  }
  searcher.searchLayer(q, 0, ep, epSim, ef, 0, mark);
  if (searcher.count < wanted) exactScan(searcher, q, wanted, mark);
  else searcher.rescore(q, Math.min(searcher.count, rescored(wanted)));
  const ids = new Int32Array(wanted);
  const scores = new Float32Array(wanted);
  for (let n = 0; n < wanted; n++) {
    ids[n] = searcher.ids[n];
    scores[n] = searcher.sims[n];
  }
  return { ids, scores };
}

const RESCORE_FLOOR = 40;

/**
 * How many of the walk's best rows are scored again with the floats for a search of k: the int8
 * similarity is within about 0.01 of the float one (unit rows of 64 numbers), so the float top k
 * lies well inside the int8 top 4k. RESCORE_FLOOR rows at least.
 */
function rescored(k: number): number {
  return Math.max(RESCORE_FLOOR, 4 * k);
}

/** The exact best `wanted` rows not excluded, into the searcher's ids/sims (the fallback of searchHnsw). */
function exactScan(searcher: Searcher, query: Float32Array, wanted: number, mark: number): void {
  const { vectors: Y, excluded } = searcher;
  const { rows, dim } = searcher.graph;
  // a heap of the best `wanted`, the worst on top (searchGraphLayer's)
  const keys = new Float64Array(wanted + 1);
  const ids = new Int32Array(wanted + 1);
  let size = 0;
  for (let row = 0; row < rows; row++) {
    if (excluded[row] === mark) continue;
    const s = dot(query, 0, Y, row * dim, dim);
    if (size < wanted) heapPush(keys, ids, size++, s, row);
    else if (s > keys[0] || (s === keys[0] && row < ids[0])) {
      heapPop(keys, ids, size--);
      heapPush(keys, ids, size++, s, row);
    }
  }
  searcher.count = size;
  for (let n = size - 1; n >= 0; n--) {
    searcher.ids[n] = ids[0];
    searcher.sims[n] = keys[0];
    heapPop(keys, ids, n + 1);
  }
}

/**
 * Item vectors for the maximum inner product by cosine (Bachrach et al., "Speeding up the Xbox
 * recommender system using a Euclidean transformation for inner-product spaces", RecSys 2014,
 * §3): with M = maxᵢ ‖yᵢ‖, item i becomes
 *
 *   ỹᵢ = [yᵢ / M, √(1 − ‖yᵢ‖² / M²)]   (= [yᵢ, √(M² − ‖yᵢ‖²)] / M)
 *
 * a unit vector of dim + 1 numbers, and a query x becomes x̃ = [x, 0] (augmentQuery). Then
 * x̃ · ỹᵢ = xᵀyᵢ / M: the order by the index's similarity is the order by the inner product, and
 * because every ỹᵢ has norm 1 it is also the order by cosine (and by Euclidean distance), the
 * space an HNSW graph navigates well. Scores come back divided by M.
 *
 * @returns rows × (dim + 1) numbers, row-major; and M (0 when every row is 0: rows are [0, 1])
 * @throws {AlsError} 'usage' naming the field
 */
export function augmentForInnerProduct(
  factors: Float32Array,
  rows: number,
  dim: number,
): { vectors: Float32Array; maxNorm: number } {
  checkWhole('rows', rows, 0, MAX_ROWS);
  checkWhole('dim', dim, 1, MAX_DIM - 1);
  checkArray('factors', factors, Float32Array);
  if (factors.length !== rows * dim)
    usage(`factors must hold rows × dim = ${rows * dim} numbers, not ${factors.length}`, 'factors');
  checkFinite('factors', factors);
  // in float64: M and the last coordinate want more than the search's float32 similarity
  const squares = new Float64Array(rows);
  let max = 0;
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = i * dim; j < (i + 1) * dim; j++) s += factors[j] * factors[j];
    squares[i] = s;
    if (s > max) max = s;
  }
  const maxNorm = Math.sqrt(max);
  const out = new Float32Array(rows * (dim + 1));
  for (let i = 0; i < rows; i++) {
    const o = i * (dim + 1);
    if (maxNorm === 0) {
      out[o + dim] = 1;
      continue;
    }
    for (let j = 0; j < dim; j++) out[o + j] = factors[i * dim + j] / maxNorm;
    // rounding may take ‖y‖² a hair above M² for the longest rows
    out[o + dim] = Math.sqrt(Math.max(0, 1 - squares[i] / max));
  }
  return { vectors: out, maxNorm };
}

/** The query of augmentForInnerProduct: x followed by 0 (dim + 1 numbers). */
export function augmentQuery(query: Float32Array): Float32Array {
  checkArray('query', query, Float32Array);
  const out = new Float32Array(query.length + 1);
  out.set(query);
  return out;
}
