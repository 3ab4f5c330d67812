import { kernelModule, kernelBuild } from './wasm.js';

/**
 * The inner loops of an HNSW graph (src/query/hnsw.ts): the similarity of two rows, and the
 * best-first search of one layer. graphSearch and graphDots in the WebAssembly kernels
 * (assembly/kernels.ts) do it on arrays in a GraphMemory; graphDot and searchGraphLayer here are
 * the TypeScript reference with the same steps, ties and numbers, so that an index and a search's
 * answer are the same, byte for byte, whichever ran.
 */

const PAGE = 65536;

/** lanes of graphDot: the float32 accumulators of the kernels' dot (four f32x4) */
const lanes = new Float32Array(16);

/**
 * a · b over dim floats as the kernels' (unfused) dot computes it in float32: sixteen partial
 * sums, one per lane of four f32x4 accumulators over blocks of 16, the last whole fours into the
 * first accumulator; the accumulators added as (a0 + a1) + (a2 + a3), its lanes in order, then
 * the last dim % 4 floats. A Float32Array element rounds each sum as the f32 add does (a sum or
 * product of two float32 values rounded from float64 is the float32 one).
 */
export function graphDot(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  lanes.fill(0);
  const blockEnd = dim & ~15;
  let k = 0;
  for (; k < blockEnd; k += 16) {
    for (let l = 0; l < 16; l++) lanes[l] += Math.fround(a[ao + k + l] * b[bo + k + l]);
  }
  const vectorEnd = dim & ~3;
  for (; k < vectorEnd; k += 4) {
    for (let l = 0; l < 4; l++) lanes[l] += Math.fround(a[ao + k + l] * b[bo + k + l]);
  }
  const v0 = Math.fround(Math.fround(lanes[0] + lanes[4]) + Math.fround(lanes[8] + lanes[12]));
  const v1 = Math.fround(Math.fround(lanes[1] + lanes[5]) + Math.fround(lanes[9] + lanes[13]));
  const v2 = Math.fround(Math.fround(lanes[2] + lanes[6]) + Math.fround(lanes[10] + lanes[14]));
  const v3 = Math.fround(Math.fround(lanes[3] + lanes[7]) + Math.fround(lanes[11] + lanes[15]));
  let sum = Math.fround(Math.fround(Math.fround(v0 + v1) + v2) + v3);
  for (; k < dim; k++) sum = Math.fround(sum + Math.fround(a[ao + k] * b[bo + k]));
  return sum;
}

/**
 * Int8 copies of the rows and of a query for the walk of a search: row j ≈ scales[j] · codes of
 * row j, the query ≈ queryScale · queryCodes, each scale its largest magnitude / 127. A row's
 * codes take a quarter of its float bytes: the walk is bound by fetching rows from memory (on
 * the 292K × 64 factors of the full-scale model, a random float row costs about 160 ns, a random
 * row of 64 bytes about 20), and the rows it keeps are scored again with the floats.
 */
export interface GraphCodes {
  /** rows × stride codes, the bytes past dim zero */
  codes: Int8Array;
  /** bytes per row of codes: dim rounded up to 16 */
  stride: number;
  scales: Float32Array;
  /** stride codes of the query */
  queryCodes: Int8Array;
  queryScale: number;
}

/** the code stride of dim numbers: whole 16-byte vectors */
export function graphCodeStride(dim: number): number {
  return Math.max(16, (dim + 15) & ~15);
}

/**
 * Codes of `count` numbers of `from` (from `offset`) into `codes` (from `at`): each the number
 * over the scale, rounded, the scale the largest magnitude / 127 in float32; returns the scale
 * (0 for a row of zeros, whose codes are 0).
 */
export function quantizeGraphRow(
  from: Float32Array,
  offset: number,
  count: number,
  codes: Int8Array,
  at: number,
): number {
  let largest = 0;
  for (let k = offset; k < offset + count; k++) {
    const x = from[k];
    if (x > largest) largest = x;
    else if (-x > largest) largest = -x;
  }
  const scale = Math.fround(largest / 127);
  if (scale === 0) {
    codes.fill(0, at, at + count);
    return 0;
  }
  // |x| / scale ≤ 127 up to the rounding of the scale: Math.round keeps it within ±127
  for (let k = 0; k < count; k++) codes[at + k] = Math.round(from[offset + k] / scale);
  return scale;
}

/** One layer's search: the graph, the query, and the search's marks, heaps and output. */
export interface GraphLayerSearch {
  /** rows × dim, row-major */
  vectors: Float32Array;
  dim: number;
  /** a row's list: links[list · stride ..], counts[list] entries */
  links: Int32Array;
  counts: Uint16Array;
  stride: number;
  /** layer ≥ 1: list = upperStart[row] + layer − 1; layer 0: list = row */
  upperStart: Int32Array;
  layer: number;
  /** the query: dim numbers of `query` from queryOffset */
  query: Float32Array;
  queryOffset: number;
  start: number;
  startSim: number;
  ef: number;
  /** a row is visited when visited[row] === generation (a byte: the marks of 292K rows fit a core's cache) */
  visited: Uint8Array;
  generation: number;
  /** rows with excluded[row] === excludeMark are walked through, never kept; null: none */
  excluded: Uint32Array | null;
  excludeMark: number;
  /** heaps: candidates for up to every row, found for ef + 1 */
  candidateKeys: Float64Array;
  candidateIds: Int32Array;
  foundKeys: Float64Array;
  foundIds: Int32Array;
  /** out: the rows kept, best first, and their similarities (ef entries at least) */
  ids: Int32Array;
  sims: Float64Array;
  /** scratch of the WebAssembly search: one list's rows and similarities (stride entries) */
  batchIds: Int32Array;
  batchSims: Float32Array;
  /** null: similarity is graphDot of the query and a row; else the int8 one of these codes */
  approx: GraphCodes | null;
}

/** Σ a[ao + k] · b[bo + k] over n codes: an integer, exact */
function dotCodes(a: Int8Array, ao: number, b: Int8Array, bo: number, n: number): number {
  let sum = 0;
  for (let k = 0; k < n; k++) sum += a[ao + k] * b[bo + k];
  return sum;
}

/** The similarity of the search's query and `row`: the kernels' similarity (float, or int8 with approx). */
export function graphSimilarity(s: GraphLayerSearch, row: number): number {
  const { approx } = s;
  if (approx === null) return graphDot(s.query, s.queryOffset, s.vectors, row * s.dim, s.dim);
  const { stride } = approx;
  return dotCodes(approx.queryCodes, 0, approx.codes, row * stride, stride) * approx.scales[row] * approx.queryScale;
}

/** heaps of (key, id): smaller key first, of equal keys the higher id first */
function less(keys: Float64Array, ids: Int32Array, a: number, b: number): boolean {
  return keys[a] < keys[b] || (keys[a] === keys[b] && ids[a] > ids[b]);
}

function swap(keys: Float64Array, ids: Int32Array, a: number, b: number): void {
  const k = keys[a];
  keys[a] = keys[b];
  keys[b] = k;
  const i = ids[a];
  ids[a] = ids[b];
  ids[b] = i;
}

/** Adds (key, id) to a heap of `size` entries held in keys/ids (the caller counts it). */
export function heapPush(keys: Float64Array, ids: Int32Array, size: number, key: number, id: number): void {
  let n = size;
  keys[n] = key;
  ids[n] = id;
  while (n > 0) {
    const parent = (n - 1) >> 1;
    if (!less(keys, ids, n, parent)) break;
    swap(keys, ids, n, parent);
    n = parent;
  }
}

/** Removes the smallest entry of a heap of `size` entries (the caller counts it; read it first at index 0). */
export function heapPop(keys: Float64Array, ids: Int32Array, size: number): void {
  const last = size - 1;
  if (last === 0) return;
  keys[0] = keys[last];
  ids[0] = ids[last];
  let n = 0;
  for (;;) {
    const left = 2 * n + 1;
    if (left >= last) break;
    const right = left + 1;
    const child = right < last && less(keys, ids, right, left) ? right : left;
    if (!less(keys, ids, child, n)) break;
    swap(keys, ids, n, child);
    n = child;
  }
}

/**
 * Algorithm 2 of Malkov & Yashunin (TPAMI 2018): the best `ef` rows of one layer reachable from
 * `start`, best first into ids/sims; returns how many. The walk stops when the best candidate
 * left is worse than the worst of ef kept rows. Similarities are rounded to float32 (the
 * kernels pack them with the row in one integer). The reference of the kernels' graphSearch.
 */
export function searchGraphLayer(s: GraphLayerSearch): number {
  const { links, counts, stride, upperStart, layer, ef } = s;
  const { visited, generation, excluded, excludeMark, candidateKeys, candidateIds, foundKeys, foundIds } = s;
  const startSim = Math.fround(s.startSim);
  visited[s.start] = generation;
  heapPush(candidateKeys, candidateIds, 0, -startSim, s.start);
  let candidates = 1;
  let found = 0;
  let worst = -Infinity;
  if (excluded === null || excluded[s.start] !== excludeMark) {
    heapPush(foundKeys, foundIds, 0, startSim, s.start);
    found = 1;
    worst = startSim;
  }
  while (candidates > 0) {
    const sim = -candidateKeys[0];
    const row = candidateIds[0];
    if (sim < worst && found >= ef) break;
    heapPop(candidateKeys, candidateIds, candidates--);
    const list = layer === 0 ? row : upperStart[row] + layer - 1;
    const base = list * stride;
    const end = base + counts[list];
    for (let n = base; n < end; n++) {
      const next = links[n];
      if (visited[next] === generation) continue;
      visited[next] = generation;
      const sim = Math.fround(graphSimilarity(s, next));
      if (found < ef || sim > worst) {
        heapPush(candidateKeys, candidateIds, candidates++, -sim, next);
        if (excluded === null || excluded[next] !== excludeMark) {
          heapPush(foundKeys, foundIds, found++, sim, next);
          if (found > ef) heapPop(foundKeys, foundIds, found--);
          worst = foundKeys[0];
        }
      }
    }
  }
  for (let n = found - 1; n >= 0; n--) {
    s.ids[n] = foundIds[0];
    s.sims[n] = foundKeys[0];
    heapPop(foundKeys, foundIds, n + 1);
  }
  return found;
}

interface GraphExports {
  graphSearch(...args: number[]): number;
  graphGreedy(...args: number[]): number;
  graphDots(Y: number, dim: number, a: number, ids: number, count: number, out: number): void;
}

export interface TypedArrayType<T> {
  new (length: number): T;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

/** Makes a new zeroed typed array: in a GraphMemory, or an ordinary one. */
export type ArrayMaker = <T extends ArrayBufferView>(Type: TypedArrayType<T>, length: number) => T;

/** New arrays in `memory`, or ordinary ones when it is null. */
export function arrayMaker(memory: GraphMemory | null): ArrayMaker {
  return memory === null ? (Type, length) => new Type(length) : (Type, length) => memory.array(Type, length);
}

/**
 * A WebAssembly memory of one graph, with its own instance of the kernels: the graph's arrays,
 * the vectors and a search's scratch live here, and the memory goes when the graph does (the
 * kernels' shared arena never gives arrays back). One thread: a search is short and sequential.
 */
export class GraphMemory {
  private readonly memory: WebAssembly.Memory;
  private readonly exports: GraphExports;
  private top = PAGE;

  constructor(bytes: number) {
    this.memory = new WebAssembly.Memory({
      initial: Math.ceil((bytes + 2 * PAGE) / PAGE),
      maximum: 65536,
      shared: true,
    });
    this.exports = new WebAssembly.Instance(kernelModule(kernelBuild()), { env: { memory: this.memory } })
      .exports as unknown as GraphExports;
  }

  /** A new zeroed array of `length` elements in this memory (page 0 stays unused). */
  array<T extends ArrayBufferView>(Type: TypedArrayType<T>, length: number): T {
    const bytes = (length * Type.BYTES_PER_ELEMENT + 15) & ~15;
    const at = this.top;
    this.top += bytes;
    const needed = Math.ceil(this.top / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (needed > 0) this.memory.grow(needed);
    return new Type(this.memory.buffer, at, length);
  }

  /** A copy of `from` in this memory. */
  copy<T extends Float32Array | Int32Array | Uint16Array>(from: T): T {
    const to = this.array(from.constructor as TypedArrayType<T>, from.length);
    to.set(from as never);
    return to;
  }

  /** the kernels' view of a search's codes: {codes, stride, scales, query codes} int32, then the query scale */
  private approxInts: Int32Array | null = null;
  private approxScale: Float64Array | null = null;

  /** The address of `approx` as the kernels take it (0: none); its arrays in this memory. */
  private approxAt(approx: GraphCodes | null): number {
    if (approx === null) return 0;
    if (this.approxInts === null) {
      const ints = this.array(Int32Array, 6);
      this.approxInts = ints;
      this.approxScale = new Float64Array(ints.buffer, ints.byteOffset + 16, 1);
    }
    const ints = this.approxInts;
    ints[0] = approx.codes.byteOffset;
    ints[1] = approx.stride;
    ints[2] = approx.scales.byteOffset;
    ints[3] = approx.queryCodes.byteOffset;
    (this.approxScale as Float64Array)[0] = approx.queryScale;
    return ints.byteOffset;
  }

  /** searchGraphLayer in WebAssembly: every array of `s` must be one of this memory's (array, copy). */
  search(s: GraphLayerSearch): number {
    return this.exports.graphSearch(
      s.vectors.byteOffset,
      s.dim,
      s.links.byteOffset,
      s.counts.byteOffset,
      s.stride,
      s.upperStart.byteOffset,
      s.layer,
      s.query.byteOffset + s.queryOffset * 4,
      s.start,
      s.startSim,
      s.ef,
      s.visited.byteOffset,
      s.generation,
      s.excluded === null ? 0 : s.excluded.byteOffset,
      s.excluded === null ? 0 : s.excludeMark,
      // the kernels' heaps pack a key and a row in 8 bytes: candidateKeys and foundKeys hold them
      s.candidateKeys.byteOffset,
      s.foundKeys.byteOffset,
      s.ids.byteOffset,
      s.sims.byteOffset,
      s.batchIds.byteOffset,
      s.batchSims.byteOffset,
      this.approxAt(s.approx),
    );
  }

  /** where graphGreedy leaves the similarity of its row (greedySim) */
  private greedyOut: Float64Array | null = null;

  /** the similarity of the row the last greedy call reached */
  get greedySim(): number {
    return (this.greedyOut as Float64Array)[0];
  }

  /**
   * The row reached from `start` on upper layer `layer` (lists `links`/`counts`, m a row) by
   * moving to a better neighbour while there is one, ties to the lower row (hnsw.ts's greedy);
   * its similarity is greedySim. Arrays in this memory.
   */
  greedy(
    s: GraphLayerSearch,
    links: Int32Array,
    counts: Uint16Array,
    m: number,
    layer: number,
    start: number,
    startSim: number,
  ): number {
    this.greedyOut ??= this.array(Float64Array, 1);
    return this.exports.graphGreedy(
      s.vectors.byteOffset,
      s.dim,
      links.byteOffset,
      counts.byteOffset,
      m,
      s.upperStart.byteOffset,
      layer,
      s.query.byteOffset + s.queryOffset * 4,
      start,
      startSim,
      this.greedyOut.byteOffset,
      this.approxAt(s.approx),
    );
  }

  /** out[n] = graphDot(query from queryOffset, row ids[n] of vectors) for n < count; arrays in this memory. */
  dots(
    vectors: Float32Array,
    dim: number,
    query: Float32Array,
    queryOffset: number,
    ids: Int32Array,
    count: number,
    out: Float64Array,
  ): void {
    this.exports.graphDots(
      vectors.byteOffset,
      dim,
      query.byteOffset + queryOffset * 4,
      ids.byteOffset,
      count,
      out.byteOffset,
    );
  }
}
