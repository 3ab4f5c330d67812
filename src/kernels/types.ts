import type { CsrArrays } from './transpose.js';
import type { ProductRows, QuantizedRows } from './quantize.js';

/**
 * The hot numeric loops of training and querying, over plain typed arrays so that another
 * implementation (WebAssembly SIMD, worker threads) can stand in without touching callers.
 * Factor matrices are row-major Float32Arrays with `factors` numbers per row; f×f matrices are
 * row-major Float64Arrays. Every row-range function touches only rows [start, end) of its
 * output, and each row's result depends only on its inputs, never on how rows are split.
 */

/** One half-step of ALS: new rows of X against the fixed factors Y. */
export interface HalfStep {
  /** the factors being solved for, rows × factors (updated in place) */
  X: Float32Array;
  /** the fixed other side, cols × factors */
  Y: Float32Array;
  factors: number;
  /** CSR rows of X: the observed columns of each row and their confidences c (preference 1) */
  indptr: Int32Array;
  indices: Int32Array;
  confidence: Float32Array;
  /** YᵀY + λI, f × f (YᵀY alone, usually, when rowRegularization is given) */
  YtY: Float64Array;
  /**
   * Frequency-scaled regularization: row u's system adds rowRegularization[u]·I to YtY (one
   * entry per row of X, finite and ≥ 0; from the kernels' float32, so that they read it in
   * place). A row with no observed columns is then solved to 0 without a solve: its right-hand
   * side is 0, so 0 is the solution for any λᵤ > 0 and the least-norm one for λᵤ = 0.
   * Absent: every row's system is YtY as given, computed as before.
   */
  rowRegularization?: Float32Array;
}

/**
 * topK and the score range of every row of a block of query scores at once (see selectBlock).
 * Arrays from the kernels' float32/int32 avoid copies.
 */
export interface BlockSelection {
  /** `queries` rows of `rows` scores, row q from q · rows on (as scoresBlock writes them) */
  scores: Float32Array;
  rows: number;
  queries: number;
  /** how many best per row */
  k: number;
  /** row q leaves out the indices exclude[excludeStart[q] .. excludeStart[q + 1]) (queries + 1 entries) */
  excludeStart: Int32Array;
  exclude: Int32Array;
  /**
   * Cosine similarity: each score of row q is first divided in place by queryNorms[q] · norms[j]
   * (in float64, then stored as float32; 0 where that product is 0). Like a factor matrix,
   * `norms` is read-only and may be copied into kernel memory once per array.
   */
  norms?: Float32Array;
  queryNorms?: Float32Array;
  /** out: row q's best indices as topK gives them, at best[q · k ..], found[q] of them */
  best: Int32Array;
  found: Int32Array;
  /**
   * out: the smallest and largest score over row q's candidates (neither left out nor NaN) at
   * range[2q] and range[2q + 1], as scoreRange gives them (+∞ and −∞ when none)
   */
  range: Float32Array;
}

/**
 * The cosine top-k of a block of queries against rows of Y (see cosineBlock): what scoresBlock
 * then selectBlock with `norms` and `queryNorms` give, through a quantized copy of the rows.
 */
export interface CosineSelection
  extends
    Omit<BlockSelection, 'norms' | 'queryNorms' | 'rows'>,
    Required<Pick<BlockSelection, 'norms' | 'queryNorms'>> {
  /** the float rows, `factors` a row; their norms in `norms` */
  Y: Float32Array;
  rows: number;
  factors: number;
  /** quantizeRows of the same rows (at least `rows` of them) */
  quantized: QuantizedRows;
  /** the queries' float factors, row q at q · factors */
  queryRows: Float32Array;
}

/**
 * The inner-product top-k of a block of queries against rows of Y (see dotBlock): what
 * scoresBlock then selectBlock (no cosine step) give, through a quantized copy of the rows.
 */
export interface DotSelection extends Omit<BlockSelection, 'norms' | 'queryNorms' | 'rows'> {
  /** the float rows, `factors` a row */
  Y: Float32Array;
  rows: number;
  factors: number;
  /** quantizeProductRows of the same rows (at least `rows` of them) */
  quantized: ProductRows;
  /** the queries' float factors, row q at q · factors */
  queryRows: Float32Array;
}

/**
 * A set of rows prepared for cosine queries that are its own rows, each pair's int8 score taken
 * once (Kernels.pairedCosineBlock): every row coded as a query too, and an extremes matrix (a
 * largest and smallest int8 score of every row against every 64 rows) that the blocks fill in
 * as they go. Made by Kernels.cosinePairs; the memory is the kernels' and never given back.
 */
export interface CosinePairs {
  readonly rows: number;
  readonly factors: number;
  /** the rows' int8 copy it was made for */
  readonly quantized: QuantizedRows;
  /** the longest lists the extremes matrix answers (k); longer ones score each query's whole row */
  readonly mostK: number;
  /** tile rows (64 queries each) whose pairs are scored: each block scores those its queries need first */
  tileRowsDone: number;
}

/** cosineBlock of queries that are rows of the pairs' set (or from outside it), through the pairs. */
export interface PairedCosineSelection extends CosineSelection {
  pairs: CosinePairs;
  /** each query's row in the set, its float factors equal to that row's; −1: a query from outside the set */
  querySlots: Int32Array;
}

export interface Kernels {
  readonly name: 'js' | 'wasm';
  /** threads the row-range functions use */
  readonly threads: number;

  /**
   * Zeroed arrays that these kernels work on in place. Arrays handed to the kernels should come
   * from here: others may have to be copied on every call.
   */
  float32(length: number): Float32Array;
  int32(length: number): Int32Array;
  uint8(length: number): Uint8Array;

  /** out (f × f) = YᵀY + regularization·I over the first `rows` rows of Y */
  gramian(Y: Float32Array, rows: number, factors: number, regularization: number, out: Float64Array): void;

  /**
   * Exact update of rows [start, end):
   * x = (YᵀY + λI + Yᵀ(Cᵤ − I)Y)⁻¹ YᵀCᵤp(u), accumulated over the row's observed columns only
   * (λI: in YtY, plus rowRegularization[u]·I when given).
   */
  exactUpdate(step: HalfStep, start: number, end: number): void;

  /**
   * Conjugate-gradient update of rows [start, end) (Takács, Pilászy & Tikk 2011): `steps`
   * iterations on the same linear system as exactUpdate, warm-started from the current X.
   */
  cgUpdate(step: HalfStep, steps: number, start: number, end: number): void;

  /**
   * The data part of the loss over rows [start, end): Σᵤ Σᵢ cᵤᵢ (pᵤᵢ − xᵤᵀyᵢ)² over all columns,
   * unobserved ones with c = 1 and p = 0. `step.YtY` must be YᵀY without λ here, and
   * rowRegularization is ignored.
   */
  dataLoss(step: HalfStep, start: number, end: number): number;

  /** out[j] = Y[j] · x[xOffset .. xOffset + factors) for the first `rows` rows of Y */
  scores(Y: Float32Array, rows: number, factors: number, x: Float32Array, xOffset: number, out: Float32Array): void;

  /**
   * out[q · rows + j] = Y[j] · Q[qFirst + q] for the first `rows` rows of Y and the `queries`
   * rows of Q from row qFirst on (Q has `factors` numbers per row too): `scores` for a block of
   * queries, each row of Y read from memory once for all of them. Every number is the one
   * `scores` gives for that query alone, whatever the thread count.
   */
  scoresBlock(
    Y: Float32Array,
    rows: number,
    factors: number,
    Q: Float32Array,
    qFirst: number,
    queries: number,
    out: Float32Array,
  ): void;

  /** topK and the score range of every row of a block of scores (rows split over the threads) */
  selectBlock(selection: BlockSelection): void;

  /**
   * scoresBlock then selectBlock with the cosine step, in one: the same best, found and range,
   * and the same number at scores[q · rows + j] for every j listed in best (other entries of
   * scores are left undefined). The WebAssembly kernels score the quantized rows first and the
   * float rows only where the quantization error leaves the order open (src/kernels/quantize.ts).
   */
  cosineBlock(selection: CosineSelection): void;

  /**
   * scoresBlock then selectBlock without the cosine step, in one: the same best, found and
   * range, and the same number at scores[q · rows + j] for every j listed in best (other entries
   * of scores are left undefined). The WebAssembly kernels score the quantized rows first and the
   * float rows only where the quantization error leaves the k best or the range open
   * (quantizeProductRows in src/kernels/quantize.ts).
   */
  dotBlock(selection: DotSelection): void;

  /**
   * scoresBlock, selectBlock, cosineBlock and dotBlock, off the calling thread where the kernels can (the
   * WebAssembly kernels made with offThread: their workers score while the caller's event loop
   * turns, and any other call of the same kernels throws until the promise settles); else at
   * once on the calling thread. The same numbers as the synchronous calls.
   */
  scoresBlockAsync(...args: Parameters<Kernels['scoresBlock']>): Promise<void>;
  selectBlockAsync(selection: BlockSelection): Promise<void>;
  cosineBlockAsync(selection: CosineSelection): Promise<void>;
  dotBlockAsync(selection: DotSelection): Promise<void>;

  /**
   * The index of the first value that cannot be scored (not finite, or beyond ±MAX_FACTOR: the
   * rule of validate.ts's firstBadFactor), or -1. Training checks every iteration's factors so.
   */
  firstBadFactor(values: Float32Array): number;

  /**
   * out[n] = (draw skip + n of seededRandom(seed)) · scale in float32, as uniformFill in
   * src/als/random.ts gives them (training's first factors): seed and skip whole numbers below 2³².
   */
  uniformFill(out: Float32Array, seed: number, skip: number, scale: number): void;

  /**
   * The cols × rows transpose of the rows × cols CSR matrix (indptr, indices) with the values
   * `data`, its arrays from these kernels' memory: countingTranspose's arrays (transpose.ts),
   * rows ascending within each of its rows.
   */
  transpose(rows: number, cols: number, indptr: Int32Array, indices: Int32Array, data: Float32Array): CsrArrays;

  /** out[j] = ‖Y[j]‖ for the first `rows` rows of Y */
  rowNorms(Y: Float32Array, rows: number, factors: number, out: Float32Array): void;

  /**
   * quantizeRows' int8 codes of the first `rows` rows of Y (their float32 norms in `norms`) into
   * codes, sums and scales (kernel memory, as quantizeRows makes them); returns the largest
   * quantization error. WebAssembly kernels only (quantizeRows codes in TypeScript otherwise, in
   * about twice the time: 41 against 15–22 ms for the 18,978 candidates of the 2.5M-row model,
   * which a one-shot `similar --all` waits for).
   */
  quantizeUnitRows?(
    Y: Float32Array,
    rows: number,
    factors: number,
    norms: Float32Array,
    codes: Uint8Array,
    sums: Int32Array,
    scales: Float32Array,
  ): number;

  /**
   * The set of `rows` rows of Y (quantized, their norms in `norms`) prepared for paired cosine
   * queries with lists of k, or null where that cannot help: a k above what the refining pass
   * seeds from the extremes matrix, a row whose norm is outside the quantization's safe range
   * (its bound is not finite), or a matrix beyond its memory bound (PAIRS_MOST_BYTES: about
   * 22,000 rows). WebAssembly kernels only, which have pairedCosineBlock and pairedTiles too.
   */
  cosinePairs?(
    quantized: QuantizedRows,
    Y: Float32Array,
    rows: number,
    factors: number,
    norms: Float32Array,
    k: number,
  ): CosinePairs | null;

  /**
   * cosineBlock for queries that are rows of the pairs' set: the same best, found, range and
   * exact scores, with each pair's int8 score taken once for both of its rows (the tile rows
   * the block's queries need are scored first). WebAssembly kernels only; the Async form as
   * the others'.
   */
  pairedCosineBlock?(selection: PairedCosineSelection): void;
  pairedCosineBlockAsync?(selection: PairedCosineSelection): Promise<void>;

  /**
   * The pairs' tiles of every tile row below `tileRows` (64 rows each) not scored yet, which
   * pairedCosineBlock would otherwise score as its queries come to need them: the work can start
   * before the first block's queries are ready. WebAssembly kernels only; the Async form as the
   * others'.
   */
  pairedTiles?(pairs: CosinePairs, tileRows: number): void;
  pairedTilesAsync?(pairs: CosinePairs, tileRows: number): Promise<void>;

  /**
   * The indices of the k largest scores, best first, passing over NaN and indices where
   * skip[i] is 1. Ties go to the lower index, so the result depends on the scores alone.
   */
  topK(scores: Float32Array, k: number, skip?: Uint8Array): Int32Array;

  /** Ends worker threads. Arrays from float32/int32 stay valid. */
  dispose(): void;
}
