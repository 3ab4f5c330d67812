/**
 * The control block that the main thread and the worker threads share: a task (kind and
 * arguments) and counters through which rows are handed out in chunks. Every chunk is computed
 * the same way whichever thread takes it, so results do not depend on threads or scheduling.
 */
export const CONTROL_INTS = 16;
export const ARGUMENTS = 52;
export const CONTROL_BYTES = CONTROL_INTS * 4 + ARGUMENTS * 8;

/** Int32 slots */
export const SLOT = {
  /** bumped for every new task; workers wait on it */
  generation: 0,
  kind: 1,
  /** next chunk to hand out */
  next: 2,
  /** chunks in this task */
  total: 3,
  /**
   * The workers taking part in the open task (joinTask), or CLOSED: the caller closes a task once
   * its chunks are all handed out and no worker is in it, so it waits only for workers that are
   * running, never for one that has not woken yet (which on a busy machine can take a scheduler's
   * time slice); a worker that wakes late joins the next task, or none
   */
  state: 4,
  /** workers that are instantiated and waiting */
  ready: 5,
  quit: 6,
  /** chunks of the open task that are done (a caller that takes none waits on it: WasmKernels' *Async methods) */
  done: 7,
  /**
   * A task may have a second part (kind thenKind, over ARG.thenRows in chunks of ARG.thenChunkRows)
   * that needs the whole first part done: its chunks come after the first part's `split` chunks,
   * and a thread that takes one first waits until those are done (they are all handed out by
   * then, so it waits only for the threads finishing theirs). No second part: split = total.
   */
  split: 8,
  thenKind: 9,
  /** 1: the second part's chunks do not wait for the first part (they read nothing it writes) */
  thenFree: 10,
} as const;

export const TASK = {
  gramian: 1,
  cg: 2,
  exact: 3,
  loss: 4,
  scores: 5,
  select: 6,
  // 7 was cosineBlock's int8 pass before approxProducts took it over
  refine: 8,
  approxProducts: 9,
  refineProducts: 10,
  /**
   * approxProducts then refine (or refineProducts) for a group of queries against every row: the
   * int8 pass and the refining pass of the same queries on one thread, with no wait between them
   * (for blocks of many queries; few queries take approxProducts split by rows instead)
   */
  approxRefine: 11,
  approxRefineProducts: 12,
  uniform: 13,
  badFactor: 14,
  /** the transpose's two passes over parts of the rows (WasmKernels.transpose) */
  columnCounts: 15,
  scatterRows: 16,
  /** pairedCosineBlock's two parts: tiles of the set against itself (pairTiles), then each query refined (pairedRefineRows) */
  pairTiles: 17,
  pairedRefine: 18,
  /** rows coded as cosine queries (quantizeQueryRows), and both codes' errors (pairErrors): cosinePairs */
  codeQueries: 19,
  /** rows coded as int8 unit rows (quantizeUnitRows), each chunk's largest error in out */
  quantizeRows: 20,
} as const;

/**
 * Rows per call of approxProducts in an approxRefine chunk: their codes (64 KB at 64 factors)
 * stay in the core's cache while each four of the chunk's queries pass over them. A multiple
 * of the kernels' EXTREME_ROWS (64).
 */
export const APPROX_TILE_ROWS = 1024;
/** Bytes of one query's block extremes (approxProducts): a largest and a smallest float per 64 rows. */
const extremesBytes = (rows: number): number => Math.ceil(rows / 64) * 8;

/** Float64 argument slots */
export const ARG = {
  X: 0,
  Y: 1,
  factors: 2,
  indptr: 3,
  indices: 4,
  confidence: 5,
  YtY: 6,
  steps: 7,
  /** rows of the task (the row range is [first, first + rows)) */
  rows: 8,
  chunkRows: 9,
  /** per-chunk outputs: gramian partials, loss sums */
  out: 10,
  scratch: 11,
  scratchStride: 12,
  first: 13,
  /** Int32 row boundaries of the chunks (chunk c is [bounds[c], bounds[c + 1])), or 0 for even chunks */
  bounds: 14,
  /** scoresBlock: the query rows, how many, and the output row length */
  queryRows: 15,
  queries: 16,
  outStride: 17,
  /** selectBlock: the BlockSelection arrays (scores in `out`, row length in `outStride`) */
  k: 18,
  excludeStart: 19,
  exclude: 20,
  norms: 21,
  queryNorms: 22,
  best: 23,
  found: 24,
  range: 25,
  /** cgRows: rows of gatherFrom up to gatherUpTo observed columns gather their Y rows into scratch first */
  gatherFrom: 26,
  gatherUpTo: 27,
  /** cgRows, exactRows: the float32 λ of each row (HalfStep.rowRegularization), or 0 for none */
  rowLambda: 28,
  /** cosineBlock: the quantized rows (QuantizedRows) and queries, each query's bound, candidates at most */
  codes: 29,
  sums: 30,
  scales: 31,
  codeStride: 32,
  queryCodes: 33,
  queryScales: 34,
  queryBounds: 35,
  cap: 36,
  /** the second part of a task (SLOT.split): its rows, from 0, and rows per chunk */
  thenRows: 37,
  thenChunkRows: 38,
  /** cosineBlock, dotBlock: each query's largest and smallest approximate score of every 64 rows (approxProducts) */
  extremes: 39,
  /** dotBlock: the rows' weights (ProductRows); each query's α and β in queryBounds */
  weights: 40,
  /** dotBlock: the largest weight of each 64 rows (ProductRows) */
  blockWeights: 41,
  /** dotBlock: the rows' errors and the largest of each 64 rows (ProductRows) */
  errors: 42,
  blockErrors: 43,
  /** uniformFill: the generator's seed, the draws before the first, and the scale (the array in `out`); firstBadFactor: its bound (the array in `X`, each chunk's answer in `out`) */
  seed: 44,
  skip: 45,
  scale: 46,
  /**
   * approxRefine, approxRefineProducts: where in a thread's scratch its group's approximate
   * scores go (the refining pass reads them there while they are in the core's cache; only the
   * exact scores of the k best go to the block's scores), or −1: straight into the block's scores
   */
  groupScores: 47,
  /**
   * cosineBlock's group chunks: the rows' quantization error (QuantizedRows.error) when each
   * chunk codes its own queries (quantizeQueryRows) into queryCodes, queryScales and queryBounds;
   * −1 when the calling thread did (quantizeQueries)
   */
  rowError: 48,
  /**
   * pairedCosineBlock: each query's row of the set (−1: a query from outside it); the rows' code
   * errors as rows and as queries (pairErrors), and the largest of each per 64 rows. The rows
   * coded as queries are in queryCodes, queryScales and queryBounds, the extremes matrix in
   * extremes.
   */
  querySlots: 49,
  pairErrors: 50,
  pairBlockErrors: 51,
} as const;

export interface KernelExports {
  quantizeUnitRows(
    Y: number,
    f: number,
    norms: number,
    start: number,
    end: number,
    codes: number,
    stride: number,
    sums: number,
    scales: number,
  ): number;
  quantizeQueryRows(
    Q: number,
    f: number,
    queryNorms: number,
    start: number,
    end: number,
    codes: number,
    stride: number,
    scales: number,
    bounds: number,
    rowError: number,
  ): void;
  gramianBlock(Y: number, f: number, start: number, end: number, out: number, scratch: number): void;
  pairTiles(
    G: number,
    stride: number,
    QC: number,
    qScales: number,
    sums: number,
    scales: number,
    n: number,
    extremes: number,
    start: number,
    end: number,
    tile: number,
  ): void;
  pairTileBytes(): number;
  pairedScratchBytes(n: number, cap: number, stride: number): number;
  pairedRefineRows(
    scores: number,
    n: number,
    k: number,
    excludeStart: number,
    exclude: number,
    Y: number,
    f: number,
    Q: number,
    norms: number,
    queryNorms: number,
    best: number,
    found: number,
    range: number,
    start: number,
    end: number,
    scratch: number,
    cap: number,
    extremes: number,
    querySlots: number,
    G: number,
    stride: number,
    QC: number,
    qScales: number,
    qBounds: number,
    sums: number,
    scales: number,
    errors: number,
    blockErrors: number,
    rowError: number,
  ): void;
  pairErrors(
    Y: number,
    f: number,
    norms: number,
    start: number,
    end: number,
    G: number,
    stride: number,
    scales: number,
    QC: number,
    qScales: number,
    errors: number,
  ): void;
  cgRows(
    X: number,
    Y: number,
    f: number,
    indptr: number,
    indices: number,
    confidence: number,
    YtY: number,
    steps: number,
    start: number,
    end: number,
    scratch: number,
    gatherFrom: number,
    gatherUpTo: number,
    rowLambda: number,
  ): void;
  exactRows(
    X: number,
    Y: number,
    f: number,
    indptr: number,
    indices: number,
    confidence: number,
    YtY: number,
    start: number,
    end: number,
    scratch: number,
    rowLambda: number,
  ): void;
  /** the scratch bytes of one thread's exactRows for f factors */
  exactScratchBytes(f: number): number;
  firstBadFactor(values: number, n: number, limitBits: number): number;
  uniformFill(out: number, start: number, end: number, seed: number, skip: number, scale: number): void;
  columnCountsOf(indptr: number, indices: number, start: number, end: number, counts: number, cols: number): void;
  columnStarts(counts: number, parts: number, cols: number, indptr: number): void;
  scatterRows(
    indptr: number,
    indices: number,
    data: number,
    start: number,
    end: number,
    next: number,
    outIndices: number,
    outData: number,
  ): void;
  cgScratchBytes(f: number, gathered: number): number;
  dataLoss(
    X: number,
    Y: number,
    f: number,
    indptr: number,
    indices: number,
    confidence: number,
    YtY: number,
    start: number,
    end: number,
    scratch: number,
  ): number;
  scores(Y: number, f: number, x: number, out: number, start: number, end: number): void;
  rowNorms(Y: number, f: number, out: number, start: number, end: number): void;
  scoresBlock(
    Y: number,
    f: number,
    Q: number,
    nq: number,
    out: number,
    outStride: number,
    start: number,
    end: number,
  ): void;
  selectRows(
    scores: number,
    n: number,
    k: number,
    excludeStart: number,
    exclude: number,
    norms: number,
    queryNorms: number,
    best: number,
    found: number,
    range: number,
    start: number,
    end: number,
    skip: number,
  ): void;
  topK(scores: number, n: number, k: number, skip: number, out: number): number;
  approxProducts(
    G: number,
    stride: number,
    QC: number,
    qScales: number,
    nq: number,
    sums: number,
    scales: number,
    out: number,
    outStride: number,
    start: number,
    end: number,
    lows: number,
  ): void;
  refineProducts(
    scores: number,
    n: number,
    k: number,
    excludeStart: number,
    exclude: number,
    Y: number,
    f: number,
    Q: number,
    errors: number,
    weights: number,
    bounds: number,
    best: number,
    found: number,
    range: number,
    start: number,
    end: number,
    skip: number,
    cap: number,
    extremes: number,
    blockErrors: number,
    blockWeights: number,
  ): void;
  refineRows(
    scores: number,
    n: number,
    k: number,
    excludeStart: number,
    exclude: number,
    Y: number,
    f: number,
    Q: number,
    norms: number,
    queryNorms: number,
    bounds: number,
    best: number,
    found: number,
    range: number,
    start: number,
    end: number,
    skip: number,
    cap: number,
    extremes: number,
  ): void;
}

/** Runs chunk `chunk` of the current task's first part. */
function runChunk(e: KernelExports, kind: number, a: Float64Array, chunk: number, thread: number): void {
  let start: number;
  let end: number;
  if (a[ARG.bounds] !== 0) {
    const bounds = new Int32Array(memoryOf(e), a[ARG.bounds] + chunk * 4, 2);
    start = bounds[0];
    end = bounds[1];
  } else {
    start = a[ARG.first] + chunk * a[ARG.chunkRows];
    end = Math.min(a[ARG.first] + a[ARG.rows], start + a[ARG.chunkRows]);
  }
  runRows(e, kind, a, chunk, start, end, thread);
}

/** Runs chunk `chunk` of the current task's second part (SLOT.split). */
function runThenChunk(e: KernelExports, kind: number, a: Float64Array, chunk: number, thread: number): void {
  const start = chunk * a[ARG.thenChunkRows];
  runRows(e, kind, a, chunk, start, Math.min(a[ARG.thenRows], start + a[ARG.thenChunkRows]), thread);
}

/** Runs `kind` on rows [start, end), chunk `chunk` of its part. */
function runRows(
  e: KernelExports,
  kind: number,
  a: Float64Array,
  chunk: number,
  start: number,
  end: number,
  thread: number,
): void {
  const f = a[ARG.factors];
  const scratch = a[ARG.scratch] + thread * a[ARG.scratchStride];
  switch (kind) {
    case TASK.gramian:
      e.gramianBlock(a[ARG.Y], f, start, end, a[ARG.out] + chunk * f * f * 8, scratch);
      break;
    case TASK.cg:
      e.cgRows(
        a[ARG.X],
        a[ARG.Y],
        f,
        a[ARG.indptr],
        a[ARG.indices],
        a[ARG.confidence],
        a[ARG.YtY],
        a[ARG.steps],
        start,
        end,
        scratch,
        a[ARG.gatherFrom],
        a[ARG.gatherUpTo],
        a[ARG.rowLambda],
      );
      break;
    case TASK.exact:
      e.exactRows(
        a[ARG.X],
        a[ARG.Y],
        f,
        a[ARG.indptr],
        a[ARG.indices],
        a[ARG.confidence],
        a[ARG.YtY],
        start,
        end,
        scratch,
        a[ARG.rowLambda],
      );
      break;
    case TASK.loss: {
      const value = e.dataLoss(
        a[ARG.X],
        a[ARG.Y],
        f,
        a[ARG.indptr],
        a[ARG.indices],
        a[ARG.confidence],
        a[ARG.YtY],
        start,
        end,
        scratch,
      );
      new Float64Array(memoryOf(e), a[ARG.out] + chunk * 8, 1)[0] = value;
      break;
    }
    case TASK.scores:
      e.scoresBlock(a[ARG.Y], f, a[ARG.queryRows], a[ARG.queries], a[ARG.out], a[ARG.outStride], start, end);
      break;
    case TASK.select:
      e.selectRows(
        a[ARG.out],
        a[ARG.outStride],
        a[ARG.k],
        a[ARG.excludeStart],
        a[ARG.exclude],
        a[ARG.norms],
        a[ARG.queryNorms],
        a[ARG.best],
        a[ARG.found],
        a[ARG.range],
        start,
        end,
        scratch,
      );
      break;
    case TASK.refine:
      refineRows(e, a, start, end, scratch);
      break;
    case TASK.approxProducts:
      e.approxProducts(
        a[ARG.codes],
        a[ARG.codeStride],
        a[ARG.queryCodes],
        a[ARG.queryScales],
        a[ARG.queries],
        a[ARG.sums],
        a[ARG.scales],
        a[ARG.out],
        a[ARG.outStride],
        start,
        end,
        a[ARG.extremes],
      );
      break;
    case TASK.refineProducts:
      refineProducts(e, a, start, end, scratch);
      break;
    case TASK.columnCounts:
      e.columnCountsOf(
        a[ARG.indptr],
        a[ARG.indices],
        start,
        end,
        a[ARG.out] + chunk * a[ARG.outStride] * 4,
        a[ARG.outStride],
      );
      break;
    case TASK.scatterRows:
      e.scatterRows(
        a[ARG.indptr],
        a[ARG.indices],
        a[ARG.confidence],
        start,
        end,
        a[ARG.out] + chunk * a[ARG.outStride] * 4,
        a[ARG.X],
        a[ARG.Y],
      );
      break;
    case TASK.badFactor: {
      const bad = e.firstBadFactor(a[ARG.X] + start * 4, end - start, a[ARG.scale]);
      new Float64Array(memoryOf(e), a[ARG.out] + chunk * 8, 1)[0] = bad < 0 ? -1 : start + bad;
      break;
    }
    case TASK.uniform:
      e.uniformFill(a[ARG.out], start, end, a[ARG.seed], a[ARG.skip], a[ARG.scale]);
      break;
    case TASK.approxRefine:
    case TASK.approxRefineProducts:
      refineGroup(e, kind, a, start, end, scratch);
      break;
    case TASK.quantizeRows: {
      const error = e.quantizeUnitRows(
        a[ARG.Y],
        f,
        a[ARG.norms],
        start,
        end,
        a[ARG.codes],
        a[ARG.codeStride],
        a[ARG.sums],
        a[ARG.scales],
      );
      new Float64Array(memoryOf(e), a[ARG.out] + chunk * 8, 1)[0] = error;
      break;
    }
    case TASK.codeQueries:
      e.quantizeQueryRows(
        a[ARG.queryRows],
        f,
        a[ARG.queryNorms],
        start,
        end,
        a[ARG.queryCodes],
        a[ARG.codeStride],
        a[ARG.queryScales],
        a[ARG.queryBounds],
        a[ARG.rowError],
      );
      e.pairErrors(
        a[ARG.queryRows],
        f,
        a[ARG.queryNorms],
        start,
        end,
        a[ARG.codes],
        a[ARG.codeStride],
        a[ARG.scales],
        a[ARG.queryCodes],
        a[ARG.queryScales],
        a[ARG.pairErrors],
      );
      break;
    case TASK.pairTiles:
      e.pairTiles(
        a[ARG.codes],
        a[ARG.codeStride],
        a[ARG.queryCodes],
        a[ARG.queryScales],
        a[ARG.sums],
        a[ARG.scales],
        a[ARG.outStride],
        a[ARG.extremes],
        start,
        end,
        scratch,
      );
      break;
    case TASK.pairedRefine:
      e.pairedRefineRows(
        ...refineHead(a),
        a[ARG.norms],
        a[ARG.queryNorms],
        a[ARG.best],
        a[ARG.found],
        a[ARG.range],
        start,
        end,
        scratch,
        a[ARG.cap],
        a[ARG.extremes],
        a[ARG.querySlots],
        a[ARG.codes],
        a[ARG.codeStride],
        a[ARG.queryCodes],
        a[ARG.queryScales],
        a[ARG.queryBounds],
        a[ARG.sums],
        a[ARG.scales],
        a[ARG.pairErrors],
        a[ARG.pairBlockErrors],
        a[ARG.rowError],
      );
      break;
  }
}

/**
 * approxRefine(Products) for queries [start, end): the group's queries coded here when
 * ARG.rowError says so (off the calling thread, which the workers waited on), the int8 pass,
 * then the refining pass. The approximate scores go into the block's scores, or, when
 * ARG.groupScores is a place in the thread's scratch, there: read back while in the core's cache,
 * only the exact scores of the k best then copied to the block's scores (written straight into
 * a block of 128 queries, 32 MB, they made similar --all on the 2.5M-row model about 4% slower
 * on two threads).
 */
function refineGroup(
  e: KernelExports,
  kind: number,
  a: Float64Array,
  start: number,
  end: number,
  scratch: number,
): void {
  const rows = a[ARG.outStride];
  if (a[ARG.rowError] >= 0)
    e.quantizeQueryRows(
      a[ARG.queryRows],
      a[ARG.factors],
      a[ARG.queryNorms],
      start,
      end,
      a[ARG.queryCodes],
      a[ARG.codeStride],
      a[ARG.queryScales],
      a[ARG.queryBounds],
      a[ARG.rowError],
    );
  const local = a[ARG.groupScores] >= 0 ? scratch + a[ARG.groupScores] : -1;
  approxQueries(e, a, start, end, local >= 0 ? local : a[ARG.out] + start * rows * 4);
  // the refining pass finds query q's row at scores + q · rows: from `local` on, q − start rows
  // in (the address wraps below 0 when start is large, and back up in the kernel's 32-bit sums)
  const scores = local >= 0 ? local - start * rows * 4 : a[ARG.out];
  if (kind === TASK.approxRefine) refineRows(e, a, start, end, scratch, scores);
  else refineProducts(e, a, start, end, scratch, scores);
  if (local < 0) return;
  const memory = memoryOf(e);
  const k = a[ARG.k];
  const found = new Int32Array(memory, a[ARG.found] + start * 4, end - start);
  const best = new Int32Array(memory, a[ARG.best] + start * k * 4, (end - start) * k);
  const from = new Float32Array(memory, local, (end - start) * rows);
  const to = new Float32Array(memory, a[ARG.out] + start * rows * 4, (end - start) * rows);
  for (let q = 0; q < end - start; q++)
    for (let r = 0; r < found[q]; r++) {
      const at = q * rows + best[q * k + r];
      to[at] = from[at];
    }
}

/** approxProducts of queries [start, end) (start a multiple of 4) against every row into `out` (a row of rows a query), APPROX_TILE_ROWS rows a call. */
function approxQueries(e: KernelExports, a: Float64Array, start: number, end: number, out: number): void {
  const rows = a[ARG.outStride];
  const stride = a[ARG.codeStride];
  for (let from = 0; from < rows; from += APPROX_TILE_ROWS)
    e.approxProducts(
      a[ARG.codes],
      stride,
      a[ARG.queryCodes] + start * stride,
      a[ARG.queryScales] + start * 4,
      end - start,
      a[ARG.sums],
      a[ARG.scales],
      out,
      rows,
      from,
      Math.min(rows, from + APPROX_TILE_ROWS),
      a[ARG.extremes] + start * extremesBytes(rows),
    );
}

/** The arguments both refining passes take first: the scores and their row length, k, the exclusions, Y, f, the query rows. */
function refineHead(
  a: Float64Array,
  scores = a[ARG.out],
): [number, number, number, number, number, number, number, number] {
  return [
    scores,
    a[ARG.outStride],
    a[ARG.k],
    a[ARG.excludeStart],
    a[ARG.exclude],
    a[ARG.Y],
    a[ARG.factors],
    a[ARG.queryRows],
  ];
}

/** ...and after their own two: the bounds, the outputs, the queries [start, end), the scratch, cap and the extremes. */
function refineTail(
  a: Float64Array,
  start: number,
  end: number,
  scratch: number,
): [number, number, number, number, number, number, number, number, number] {
  return [
    a[ARG.queryBounds],
    a[ARG.best],
    a[ARG.found],
    a[ARG.range],
    start,
    end,
    scratch,
    a[ARG.cap],
    a[ARG.extremes],
  ];
}

/** refineRows (cosineBlock's refining pass) of queries [start, end). */
function refineRows(
  e: KernelExports,
  a: Float64Array,
  start: number,
  end: number,
  scratch: number,
  scores?: number,
): void {
  e.refineRows(...refineHead(a, scores), a[ARG.norms], a[ARG.queryNorms], ...refineTail(a, start, end, scratch));
}

/** refineProducts (dotBlock's refining pass) of queries [start, end). */
function refineProducts(
  e: KernelExports,
  a: Float64Array,
  start: number,
  end: number,
  scratch: number,
  scores?: number,
): void {
  e.refineProducts(
    ...refineHead(a, scores),
    a[ARG.errors],
    a[ARG.weights],
    ...refineTail(a, start, end, scratch),
    a[ARG.blockErrors],
    a[ARG.blockWeights],
  );
}

/** The memory the kernels run on (exported as `memory` by the module, the same as imported). */
function memoryOf(e: KernelExports): ArrayBufferLike {
  return (e as unknown as { memory: WebAssembly.Memory }).memory.buffer;
}

/** SLOT.state of a task that no worker may join (between tasks, and before the first). */
export const CLOSED = 1 << 30;

/**
 * Takes part in the open task, if any: joins it (unless it is closed), takes chunks until none is
 * left, and leaves. Reads the task only once joined, so a worker that woke for an earlier task
 * works on the one that is open, whole.
 */
export function joinTask(e: KernelExports, control: Int32Array, args: Float64Array, thread: number): void {
  let state = Atomics.load(control, SLOT.state);
  while ((state & CLOSED) === 0) {
    const was = Atomics.compareExchange(control, SLOT.state, state, state + 1);
    if (was === state) {
      work(e, control, args, thread);
      Atomics.sub(control, SLOT.state, 1);
      Atomics.notify(control, SLOT.state);
      return;
    }
    state = was;
  }
}

/** Takes chunks of the current task until none is left. */
export function work(e: KernelExports, control: Int32Array, args: Float64Array, thread: number): void {
  const kind = Atomics.load(control, SLOT.kind);
  const total = Atomics.load(control, SLOT.total);
  const split = Atomics.load(control, SLOT.split);
  const thenKind = Atomics.load(control, SLOT.thenKind);
  const free = Atomics.load(control, SLOT.thenFree) === 1;
  for (;;) {
    const chunk = Atomics.add(control, SLOT.next, 1);
    if (chunk >= total) return;
    if (chunk < split) runChunk(e, kind, args, chunk, thread);
    else {
      for (let done = Atomics.load(control, SLOT.done); !free && done < split; done = Atomics.load(control, SLOT.done))
        Atomics.wait(control, SLOT.done, done);
      runThenChunk(e, thenKind, args, chunk - split, thread);
    }
    const done = Atomics.add(control, SLOT.done, 1) + 1;
    // whoever waits: a thread for the first part, a caller for the whole task
    if (done === split || done === total) Atomics.notify(control, SLOT.done);
  }
}
