import { countingTranspose, ORDINARY_MEMORY, type ArrayMemory } from '../kernels/transpose.js';
import { checkArray, checkCsrShape, checkWhole } from '../validate.js';
import { AlsError } from '../errors.js';

/** The largest row or column count of a matrix (int32 indices). */
const MAX_INDEX = 2 ** 31 - 1;

/**
 * Compressed sparse row matrix: the column indices and values of row r are
 * indices[indptr[r] .. indptr[r+1]) and data[same], column indices ascending within a row.
 */
export interface CsrMatrix {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  data: Float32Array;
}

const EMPTY_INT32 = new Int32Array(0);
const EMPTY_FLOAT32 = new Float32Array(0);

/**
 * Builds a CSR matrix from coordinate triples (the first `nnz` entries of the arrays):
 * duplicate (row, col) entries are summed (in their input order) and entries that sum to zero
 * are dropped. One counting pass places the entries row by row, then each row is sorted by
 * column and its duplicates merged in place, so the only temporaries are the output arrays.
 */
export function cooToCsr(
  rows: number,
  cols: number,
  rowIndex: Int32Array,
  colIndex: Int32Array,
  values: Float32Array,
  nnz: number,
): { matrix: CsrMatrix; duplicates: number } {
  checkWhole('rows', rows, 0, MAX_INDEX);
  checkWhole('cols', cols, 0, MAX_INDEX);
  checkArray('rowIndex', rowIndex, Int32Array);
  checkArray('colIndex', colIndex, Int32Array);
  checkArray('values', values, Float32Array);
  checkWhole('nnz', nnz, 0, Math.min(rowIndex.length, colIndex.length, values.length));
  // every triple in the matrix: an index outside it would be written past the arrays' ends
  for (let n = 0; n < nnz; n++) {
    if (!(rowIndex[n] >= 0 && rowIndex[n] < rows) || !(colIndex[n] >= 0 && colIndex[n] < cols)) {
      throw new AlsError('usage', `triple ${n} is at (${rowIndex[n]}, ${colIndex[n]}), outside the ${rows} × ${cols} matrix`);
    }
  }
  return cooChunksToCsr(rows, cols, [rowIndex], [colIndex], [values], [nnz], false);
}

/**
 * cooToCsr for triples stored as a list of chunks, chunk k holding `lengths[k]` entries at the
 * start of its arrays. With `release`, each chunk's place in the lists is emptied as soon as its
 * entries have been placed, so that its memory can go while the matrix is being built.
 */
export function cooChunksToCsr(
  rows: number,
  cols: number,
  rowChunks: Int32Array[],
  colChunks: Int32Array[],
  valueChunks: Float32Array[],
  lengths: ArrayLike<number>,
  release: boolean,
): { matrix: CsrMatrix; duplicates: number } {
  // indptr[r + 1] = entries of row r, then the start of each row in indptr[r]
  const indptr = new Int32Array(rows + 1);
  let nnz = 0;
  for (let k = 0; k < lengths.length; k++) {
    const r = rowChunks[k];
    const size = lengths[k];
    for (let n = 0; n < size; n++) indptr[r[n] + 1]++;
    nnz += size;
  }
  for (let row = 0; row < rows; row++) indptr[row + 1] += indptr[row];

  // place the entries row by row, keeping their input order (indptr[r] moves to the row's end)
  const indices = new Int32Array(nnz);
  const data = new Float32Array(nnz);
  for (let k = 0; k < lengths.length; k++) {
    const r = rowChunks[k];
    const c = colChunks[k];
    const v = valueChunks[k];
    const size = lengths[k];
    for (let n = 0; n < size; n++) {
      const at = indptr[r[n]]++;
      indices[at] = c[n];
      data[at] = v[n];
    }
    if (release) {
      rowChunks[k] = EMPTY_INT32;
      colChunks[k] = EMPTY_INT32;
      valueChunks[k] = EMPTY_FLOAT32;
    }
  }
  for (let row = rows; row > 0; row--) indptr[row] = indptr[row - 1];
  indptr[0] = 0;

  // sort each row by column and merge its duplicates, moving it down over what was dropped
  const merger = new RowMerger();
  let out = 0;
  let start = 0;
  for (let row = 0; row < rows; row++) {
    const end = indptr[row + 1];
    out = merger.merge(indices, data, start, end, out);
    indptr[row + 1] = out;
    start = end;
  }
  return {
    matrix: {
      rows,
      cols,
      indptr,
      indices: out === nnz ? indices : indices.slice(0, out),
      data: out === nnz ? data : data.slice(0, out),
    },
    duplicates: merger.duplicates,
  };
}

/** Puts rows of (column, value) pairs in CSR order: sorted by column, duplicates summed. */
export class RowMerger {
  /** entries summed into an earlier one of the same row and column so far */
  duplicates = 0;
  private readonly sorter = new RowSorter();

  /**
   * Sorts the row in indices/data[start, end) by column (stably), sums the values of equal
   * columns in their order, drops sums of zero and writes the result at `out` (≤ start) in the
   * same arrays; returns where it ends.
   */
  merge(indices: Int32Array, data: Float32Array, start: number, end: number, out: number): number {
    for (let n = start + 1; n < end; n++) {
      if (indices[n] < indices[n - 1]) {
        this.sorter.sort(indices, data, start, end);
        break;
      }
    }
    let n = start;
    while (n < end) {
      const col = indices[n];
      let sum = 0;
      let k = n;
      while (k < end && indices[k] === col) sum += data[k++];
      this.duplicates += k - n - 1;
      n = k;
      if (sum !== 0) {
        indices[out] = col;
        data[out] = sum;
        out++;
      }
    }
    return out;
  }
}

/** Stable sort of a row's (column, value) pairs by column: insertion sort, merge sort when long. */
class RowSorter {
  private static readonly RUN = 32;
  private columns = new Int32Array(256);
  private values = new Float32Array(256);

  sort(indices: Int32Array, data: Float32Array, start: number, end: number): void {
    const RUN = RowSorter.RUN;
    for (let from = start; from < end; from += RUN) insertionSort(indices, data, from, Math.min(from + RUN, end));
    const length = end - start;
    if (length <= RUN) return;
    if (this.columns.length < length) {
      let size = this.columns.length;
      while (size < length) size *= 2;
      this.columns = new Int32Array(size);
      this.values = new Float32Array(size);
    }
    // merge runs of doubling width back and forth between the row and the scratch arrays
    let fromCols: Int32Array = indices;
    let fromVals: Float32Array = data;
    let fromBase = start;
    let toCols: Int32Array = this.columns;
    let toVals: Float32Array = this.values;
    let toBase = 0;
    for (let width = RUN; width < length; width *= 2) {
      for (let lo = 0; lo < length; lo += 2 * width) {
        const mid = Math.min(lo + width, length);
        const hi = Math.min(lo + 2 * width, length);
        let a = fromBase + lo;
        let b = fromBase + mid;
        const aEnd = b;
        const bEnd = fromBase + hi;
        let to = toBase + lo;
        while (a < aEnd && b < bEnd) {
          if (fromCols[b] < fromCols[a]) {
            toCols[to] = fromCols[b];
            toVals[to++] = fromVals[b++];
          } else {
            toCols[to] = fromCols[a];
            toVals[to++] = fromVals[a++];
          }
        }
        while (a < aEnd) {
          toCols[to] = fromCols[a];
          toVals[to++] = fromVals[a++];
        }
        while (b < bEnd) {
          toCols[to] = fromCols[b];
          toVals[to++] = fromVals[b++];
        }
      }
      const cols = fromCols;
      fromCols = toCols;
      toCols = cols;
      const vals = fromVals;
      fromVals = toVals;
      toVals = vals;
      const base = fromBase;
      fromBase = toBase;
      toBase = base;
    }
    if (fromCols !== indices) {
      indices.set(fromCols.subarray(0, length), start);
      data.set(fromVals.subarray(0, length), start);
    }
  }
}

function insertionSort(indices: Int32Array, data: Float32Array, start: number, end: number): void {
  for (let n = start + 1; n < end; n++) {
    const col = indices[n];
    if (col >= indices[n - 1]) continue;
    const value = data[n];
    let k = n - 1;
    while (k >= start && indices[k] > col) {
      indices[k + 1] = indices[k];
      data[k + 1] = data[k];
      k--;
    }
    indices[k + 1] = col;
    data[k + 1] = value;
  }
}

/**
 * The transpose, by one counting sort; column indices come out ascending. `memory`: where its
 * arrays are made (training puts them in the kernels' memory, rather than making them here and
 * copying them in: 141 MB less at the 360K shape).
 */
export function transpose(m: CsrMatrix, data?: Float32Array, memory: ArrayMemory = ORDINARY_MEMORY): CsrMatrix {
  checkCsrShape('matrix', m);
  data = data === undefined ? m.data : checkArray('data', data, Float32Array, m.data.length);
  const t = countingTranspose(m.rows, m.cols, m.indptr, m.indices, data, memory);
  return { rows: m.cols, cols: m.rows, indptr: t.indptr, indices: t.indices, data: t.data };
}

/** The same sparsity pattern with other values (e.g. confidences in place of play counts). */
export function withData(m: CsrMatrix, data: Float32Array): CsrMatrix {
  return { rows: m.rows, cols: m.cols, indptr: m.indptr, indices: m.indices, data };
}

/**
 * Entries with a value above zero in each column. For a users × items matrix from cooToCsr,
 * which holds each (user, item) once, this is the number of distinct users of each item.
 */
export function columnCounts(m: CsrMatrix): Int32Array {
  const { indices, data, cols } = m;
  const end = m.indptr[m.rows];
  const counts = new Int32Array(cols);
  for (let n = 0; n < end; n++) if (data[n] > 0) counts[indices[n]]++;
  return counts;
}
