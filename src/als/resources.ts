import { availableParallelism, totalmem } from 'node:os';
import type { CsrMatrix } from '../data/sparse.js';
import { AlsError } from '../errors.js';
import { GATHER_BYTES, GATHER_FROM_BYTES } from '../kernels/wasm.js';
import type { TrainOptions } from './options.js';
import { checkCsrShape, checkOptions, checkWhole } from '../validate.js';

/**
 * What training may take of the machine (issue 9, class 6): threads that help, and memory that
 * exists, checked before anything is allocated.
 */

/**
 * Rows of the larger side per training thread. A worker thread costs about 10 MB and 20–30 ms to
 * start, and a half-step of a few thousand rows takes milliseconds: below this a thread only
 * waits (`--threads 1000` on the 1,892 × 17,620 sample took 34 s and 8.5 GB before this cap).
 */
const ROWS_PER_THREAD = 4096;

/** The WebAssembly memory's limit: 65,536 pages of 64 KiB (the kernels' `maximum`). */
export const WASM_MEMORY_BYTES = 65536 * 65536;

/**
 * The threads training uses: the requested number, but no more than the CPUs
 * (os.availableParallelism) and than the rows keep busy (one per ROWS_PER_THREAD rows of the
 * larger side). The factors do not depend on it.
 */
export function trainingThreads(requested: number, plays: Pick<CsrMatrix, 'rows' | 'cols'>): number {
  checkWhole('requested', requested, 1);
  checkOptions('plays', plays);
  checkWhole('plays.rows', plays.rows, 0);
  checkWhole('plays.cols', plays.cols, 0);
  const byRows = Math.max(1, Math.ceil(Math.max(plays.rows, plays.cols) / ROWS_PER_THREAD));
  return Math.max(1, Math.min(requested, availableParallelism(), byRows));
}

function longestColumn(m: CsrMatrix): number {
  const counts = new Int32Array(m.cols);
  let longest = 0;
  const nnz = m.indptr[m.rows];
  for (let n = 0; n < nnz; n++) if (++counts[m.indices[n]] > longest) longest = counts[m.indices[n]];
  return longest;
}

function longestRow(m: CsrMatrix): number {
  let longest = 0;
  for (let r = 0; r < m.rows; r++) longest = Math.max(longest, m.indptr[r + 1] - m.indptr[r]);
  return longest;
}

export interface MemoryEstimate {
  /** bytes of WebAssembly memory the kernels take */
  kernel: number;
  /** the parts of `kernel` */
  factors: number;
  matrix: number;
  scratch: number;
  /** kernel memory plus the JavaScript-side copies (transpose, returned factors) */
  total: number;
}

/**
 * An upper estimate of the memory training takes, by the allocations of train.ts and
 * kernels/wasm.ts: the factors (rows × factors × 4 bytes per side), the matrix twice (indptr,
 * indices, confidences, each row's λ), per-thread scratch (the exact solver's f × f float32 and float64
 * systems, or CG's vectors and gathered Y rows) and the Gramian's per-chunk f × f partials.
 * Scratch arrays grow by replacement in a bump allocator, so they are counted twice.
 */
export function estimateTrainingMemory(
  plays: CsrMatrix,
  options: Pick<TrainOptions, 'factors' | 'solver'>,
  threads: number,
): MemoryEstimate {
  checkCsrShape('plays', plays);
  checkWhole('options.factors', checkOptions('options', options).factors, 1, 1024);
  checkWhole('threads', threads, 1);
  const f = options.factors;
  const users = plays.rows;
  const items = plays.cols;
  const nnz = plays.indptr[users];
  const factors = (users + items) * f * 4;
  // indptr, indices and confidences of both sides, and each row's λ (frequency-scaled regularization)
  const matrix = (users + items + 2) * 4 + nnz * 4 * 4 + (users + items) * 4;
  const rowBytes = f * 4;
  let perThread: number;
  if (options.solver === 'naive') perThread = f * f * 12 + f * 12 + 64;
  else {
    const longest = Math.max(longestRow(plays), longestColumn(plays));
    const gathered =
      longest >= Math.ceil(GATHER_FROM_BYTES / rowBytes) ? Math.min(longest, Math.floor(GATHER_BYTES / rowBytes)) : 0;
    perThread = 3 * (((f + 3) & ~3) * 4) + gathered * rowBytes + 16;
  }
  const chunks = Math.max(1, Math.ceil(Math.max(users, items) / 2048));
  const scratch =
    2 * (threads * perThread + chunks * f * f * 8 + f * f * 12 + (Math.min(Math.max(users, items), 65536) + 2) * 4);
  const kernel = 65536 + factors + matrix + scratch;
  // itemUsers (transpose) and the returned copies of the factors
  const total = kernel + (items + 1) * 4 + nnz * 8 + factors;
  return { kernel, factors, matrix, scratch, total };
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 2 : 1)} GiB`;
}

/**
 * Refuses (AlsError('usage')) a training whose memory is out of reach, before it allocates:
 * kernel memory above the WebAssembly limit of 4 GiB, or a total above the machine's memory.
 * The message says which option to lower.
 */
export function checkTrainingMemory(
  plays: CsrMatrix,
  options: Pick<TrainOptions, 'factors' | 'solver' | 'threads'>,
  threads: number,
): void {
  const estimate = estimateTrainingMemory(plays, options, threads);
  const machine = totalmem();
  const overWasm = estimate.kernel > WASM_MEMORY_BYTES;
  if (!overWasm && estimate.total <= machine) return;
  const parts = `factors ${gib(estimate.factors)}, matrix ${gib(estimate.matrix)}, per-thread and per-chunk scratch ${gib(estimate.scratch)}`;
  let advice: string;
  if (estimate.scratch >= estimate.factors && estimate.scratch >= estimate.matrix && threads > 1) {
    advice = `lower threads (now ${threads}) or factors (now ${options.factors})`;
  } else if (estimate.matrix > estimate.factors) {
    advice = `the data are too large for one training: use fewer rows (now ${plays.indptr[plays.rows]} user–item pairs)`;
  } else {
    advice = `lower factors (now ${options.factors})`;
  }
  const limit = overWasm
    ? `the ${gib(WASM_MEMORY_BYTES)} a WebAssembly memory can hold`
    : `this machine's ${gib(machine)}`;
  throw new AlsError(
    'usage',
    `training ${plays.rows} users × ${plays.cols} items with ${options.factors} factors (${options.solver}, ${threads} thread${threads === 1 ? '' : 's'}) needs about ` +
      `${gib(overWasm ? estimate.kernel : estimate.total)} (${parts}), more than ${limit}; ${advice}`,
  );
}
