import { cooChunksToCsr, RowMerger, type CsrMatrix } from './sparse.js';

const FIRST_CHUNK = 1 << 14;
/**
 * Entries of every chunk after the first: 32 MiB arrays, which glibc's malloc always maps on
 * their own (its threshold for that stops at 32 MiB) and so gives back to the system when they
 * are freed. Smaller ones came from its heap and stayed there: about 150 MB of a full-scale
 * train's resident memory, through training, held by nothing. Only the pages used are touched.
 */
const MAX_CHUNK = 1 << 23;
const EMPTY_INT32 = new Int32Array(0);
const EMPTY_FLOAT32 = new Float32Array(0);

/**
 * Coordinate triples (row, col, value) appended one at a time into a list of typed-array
 * chunks: a full chunk is never copied, the next one is added (FIRST_CHUNK entries, then
 * MAX_CHUNK).
 *
 * While the rows come in order (each row's triples together, rows ascending, as in a file
 * grouped by user), no row index is stored: only how many triples each row has, and a row is
 * kept within one chunk (the start of a row that does not fit is moved to the next chunk). The
 * chunks then already hold the matrix row by row; each row is sorted and merged where it is, and
 * the result copied once into arrays of the exact size. The first triple out of order turns
 * this off: the row indices are written out and the matrix is built by cooChunksToCsr.
 */
export class CooList {
  private readonly rowChunks: Int32Array[] = [];
  private readonly colChunks: Int32Array[] = [];
  private readonly valueChunks: Float32Array[] = [];
  /** entries used in each chunk before the current one */
  private readonly lengths: number[] = [];
  private row: Int32Array = EMPTY_INT32;
  private col: Int32Array = EMPTY_INT32;
  private value: Float32Array = EMPTY_FLOAT32;
  /** entries in the current chunk */
  private at = 0;
  /** entries in the chunks before it */
  private before = 0;
  /** triples per row (while in order, up to the last row) */
  private rowCounts = new Int32Array(1 << 10);
  /** rows in order so far (no row indices stored) */
  private inOrder = true;
  private lastRow = -1;
  /** where the last row starts in the current chunk (while in order) */
  private rowStart = 0;

  /** triples merged into the one before them (the same row and column, pushed one after the other) */
  private merged = 0;
  /** the float64 sum of the float32 values of the last stored triple */
  private lastSum = 0;

  /** triples pushed (merged ones included) */
  get length(): number {
    return this.before + this.at + this.merged;
  }

  /** triples held in memory (merged ones not included) */
  get stored(): number {
    return this.before + this.at;
  }

  /**
   * Appends a triple. A triple of the same row and column as the one pushed just before it is
   * added to that one at once (a run of one pair, e.g. a file of one row repeated, takes the
   * memory of one triple) and counted as a duplicate, as cooToCsr would count it. The run is
   * summed in float64, as cooToCsr sums (float32 values, one float32 result).
   */
  push(row: number, col: number, value: number): void {
    const at = this.at;
    if (
      at > 0 &&
      col === this.col[at - 1] &&
      row === this.lastRow &&
      (this.inOrder ? at > this.rowStart : this.row[at - 1] === row)
    ) {
      this.lastSum += Math.fround(value);
      this.value[at - 1] = this.lastSum;
      this.merged++;
      return;
    }
    this.lastSum = Math.fround(value);
    if (row !== this.lastRow) this.startRow(row);
    if (this.at === this.col.length) this.addChunk();
    const next = this.at++;
    if (!this.inOrder) this.row[next] = row;
    this.col[next] = col;
    this.value[next] = value;
  }

  private startRow(row: number): void {
    if (!this.inOrder) {
      this.lastRow = row;
      return;
    }
    this.endRow();
    if (row >= this.rowCounts.length) {
      let size = this.rowCounts.length * 2;
      while (size <= row) size *= 2;
      const counts = new Int32Array(size);
      counts.set(this.rowCounts);
      this.rowCounts = counts;
    }
    if (row < this.lastRow) this.leaveOrder();
    this.lastRow = row;
    this.rowStart = this.at;
  }

  /** Counts the triples of the last row (while in order; its start may have moved to a new chunk). */
  private endRow(): void {
    if (this.lastRow >= 0) this.rowCounts[this.lastRow] += this.at - this.rowStart;
    this.rowStart = this.at;
  }

  private addChunk(): void {
    const carried = this.inOrder ? this.at - this.rowStart : 0; // the start of the current row
    let size = this.col.length === 0 ? FIRST_CHUNK : MAX_CHUNK;
    while (size < 2 * carried) size *= 2;
    const col = new Int32Array(size);
    const value = new Float32Array(size);
    if (carried > 0) {
      col.set(this.col.subarray(this.rowStart, this.at));
      value.set(this.value.subarray(this.rowStart, this.at));
    }
    if (this.col.length > 0) {
      const used = this.at - carried;
      this.lengths.push(used);
      this.before += used;
      if (used === 0) {
        // one row filled the chunk: it moves on whole, the chunk can go
        const last = this.colChunks.length - 1;
        this.colChunks[last] = EMPTY_INT32;
        this.valueChunks[last] = EMPTY_FLOAT32;
      }
    }
    this.col = col;
    this.value = value;
    this.row = this.inOrder ? EMPTY_INT32 : new Int32Array(size);
    this.colChunks.push(col);
    this.valueChunks.push(value);
    this.rowChunks.push(this.row);
    this.at = carried;
    this.rowStart = 0;
  }

  /** Writes out the row index of every triple so far, for triples that come in any order. */
  private leaveOrder(): void {
    this.inOrder = false;
    let row = 0;
    let left = this.rowCounts[0];
    for (let k = 0; k < this.colChunks.length; k++) {
      const rows = new Int32Array(this.colChunks[k].length);
      const used = k < this.lengths.length ? this.lengths[k] : this.at;
      for (let n = 0; n < used; n++) {
        while (left === 0) left = this.rowCounts[++row];
        rows[n] = row;
        left--;
      }
      this.rowChunks[k] = rows;
    }
    if (this.rowChunks.length > 0) this.row = this.rowChunks[this.rowChunks.length - 1];
  }

  /**
   * The rows × cols CSR matrix of the triples, duplicates summed. Call once: the chunks are let
   * go while the matrix is built (`length` still tells how many triples there were).
   */
  toCsr(rows: number, cols: number): { matrix: CsrMatrix; duplicates: number } {
    if (this.inOrder) this.endRow();
    if (this.col.length > 0) this.lengths.push(this.at);
    this.row = EMPTY_INT32;
    this.col = EMPTY_INT32;
    this.value = EMPTY_FLOAT32;
    if (!this.inOrder) {
      const built = cooChunksToCsr(rows, cols, this.rowChunks, this.colChunks, this.valueChunks, this.lengths, true);
      return { matrix: built.matrix, duplicates: built.duplicates + this.merged };
    }

    // each chunk holds whole rows: merge them in place, then copy the chunks out
    const merger = new RowMerger();
    const indptr = new Int32Array(rows + 1);
    const kept: number[] = [];
    let row = 0;
    let total = 0;
    for (let k = 0; k < this.colChunks.length; k++) {
      const col = this.colChunks[k];
      const value = this.valueChunks[k];
      const used = this.lengths[k];
      let start = 0;
      let out = 0;
      for (; row < rows && start + this.rowCounts[row] <= used; row++) {
        const end = start + this.rowCounts[row];
        out = merger.merge(col, value, start, end, out);
        indptr[row + 1] = total + out;
        start = end;
      }
      kept.push(out);
      total += out;
    }
    for (; row < rows; row++) indptr[row + 1] = total; // rows without triples at the end
    const indices = new Int32Array(total);
    const data = new Float32Array(total);
    let at = 0;
    for (let k = 0; k < this.colChunks.length; k++) {
      indices.set(this.colChunks[k].subarray(0, kept[k]), at);
      data.set(this.valueChunks[k].subarray(0, kept[k]), at);
      at += kept[k];
      this.colChunks[k] = EMPTY_INT32;
      this.valueChunks[k] = EMPTY_FLOAT32;
    }
    return { matrix: { rows, cols, indptr, indices, data }, duplicates: merger.duplicates + this.merged };
  }
}

/**
 * Triples held in memory before a CompactingCooList sums its duplicates: about 400 MB with row
 * indices. A file of distinct pairs as large as the Last.fm 360K file (17.5M) is never
 * compacted, so its reading costs the same; a file that repeats a few pairs in turn (a gzip bomb
 * of alternating rows, issue 9) stays near this size however many rows it has, instead of 23
 * bytes a row (80M alternating rows: 1.66 GB before, 0.79 GB with it).
 */
export const COMPACT_AT = 1 << 25;

/**
 * A CooList whose memory follows the distinct (row, column) pairs: when it holds `compactAt`
 * triples, they are summed into a matrix (as toCsr sums them) and pushed back as one triple per
 * pair; the next compaction waits until twice as many are held, so that distinct data is
 * compacted a logarithmic number of times. Counts `length` and `duplicates` as one CooList would.
 */
export class CompactingCooList {
  private list = new CooList();
  /** triples pushed into lists a compaction replaced, less the ones it pushed back */
  private pushedBefore = 0;
  private duplicatesBefore = 0;
  private rows = 0;
  private cols = 0;

  constructor(private compactAt = COMPACT_AT) {}

  /** triples pushed (merged ones included) */
  get length(): number {
    return this.pushedBefore + this.list.length;
  }

  push(row: number, col: number, value: number): void {
    if (row >= this.rows) this.rows = row + 1;
    if (col >= this.cols) this.cols = col + 1;
    this.list.push(row, col, value);
    if (this.list.stored >= this.compactAt) this.compact();
  }

  private compact(): void {
    const pushed = this.list.length;
    const { matrix, duplicates } = this.list.toCsr(this.rows, this.cols);
    const { indptr, indices, data } = matrix;
    this.duplicatesBefore += duplicates;
    this.list = new CooList();
    for (let r = 0; r < matrix.rows; r++) for (let n = indptr[r]; n < indptr[r + 1]; n++) this.list.push(r, indices[n], data[n]);
    this.pushedBefore += pushed - indices.length;
    this.compactAt = Math.max(this.compactAt, 2 * indices.length);
  }

  /** As CooList.toCsr, duplicates summed by earlier compactions included. Call once. */
  toCsr(rows: number, cols: number): { matrix: CsrMatrix; duplicates: number } {
    const built = this.list.toCsr(rows, cols);
    return { matrix: built.matrix, duplicates: built.duplicates + this.duplicatesBefore };
  }
}

/** A TripleLog that is full: the part it was logging is read by the first part's reader instead. */
export class TripleLogFull extends Error {}

/**
 * Triples as they were read, in order, by the reader of a later part of a file (readPart.ts), for
 * the first part's reader to push into its list in the same order: so that duplicates are summed
 * as one reader summing the whole file sums them. Runs of one row are kept once (files are
 * grouped by user); columns and values go into fixed chunks, never copied. Holds at most `limit`
 * triples: the next push throws TripleLogFull.
 */
export class TripleLog {
  readonly cols: Int32Array[] = [];
  readonly values: Float32Array[] = [];
  /** the row of each run, and the triples up to its end */
  runRows: Int32Array<ArrayBuffer> = new Int32Array(1 << 10);
  runEnds: Int32Array<ArrayBuffer> = new Int32Array(1 << 10);
  runs = 0;
  length = 0;

  constructor(private readonly limit: number) {}

  /** entries free in the last chunk */
  private room = 0;

  push(row: number, col: number, value: number): void {
    if (this.room === 0) {
      if (this.length >= this.limit) throw new TripleLogFull(`more than ${this.limit} triples`);
      const size = this.cols.length === 0 ? FIRST_CHUNK : MAX_CHUNK;
      this.cols.push(new Int32Array(size));
      this.values.push(new Float32Array(size));
      this.room = size;
    }
    const chunk = this.cols.length - 1;
    const at = this.cols[chunk].length - this.room--;
    this.cols[chunk][at] = col;
    this.values[chunk][at] = value;
    this.length++;
    if (this.runs > 0 && this.runRows[this.runs - 1] === row) {
      this.runEnds[this.runs - 1] = this.length;
      return;
    }
    if (this.runs === this.runRows.length) {
      this.runRows = grown(this.runRows);
      this.runEnds = grown(this.runEnds);
    }
    this.runRows[this.runs] = row;
    this.runEnds[this.runs++] = this.length;
  }

  /** What was logged, as plain data (posted between threads, then replayed by replayTriples). */
  logged(): LoggedTriples {
    const { cols, values, runs, length } = this;
    return { cols, values, runRows: this.runRows.subarray(0, runs), runEnds: this.runEnds.subarray(0, runs), length };
  }
}

/** The triples of a TripleLog, as plain data. */
export interface LoggedTriples {
  cols: Int32Array[];
  values: Float32Array[];
  runRows: Int32Array;
  runEnds: Int32Array;
  length: number;
}

/** Calls `push` with every logged triple, in the order they were logged, rows and columns mapped. */
export function replayTriples(
  log: LoggedTriples,
  rowOf: Int32Array,
  colOf: Int32Array,
  push: (row: number, col: number, value: number) => void,
): void {
  if (log.length === 0) return;
  let run = 0;
  let runEnd = log.runEnds[0];
  let row = rowOf[log.runRows[0]];
  let n = 0;
  for (let chunk = 0; chunk < log.cols.length; chunk++) {
    const cols = log.cols[chunk];
    const values = log.values[chunk];
    const count = Math.min(cols.length, log.length - n);
    for (let at = 0; at < count; at++, n++) {
      while (n >= runEnd) {
        runEnd = log.runEnds[++run];
        row = rowOf[log.runRows[run]];
      }
      push(row, colOf[cols[at]], values[at]);
    }
  }
}

function grown(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const larger = new Int32Array(array.length * 2);
  larger.set(array);
  return larger;
}
