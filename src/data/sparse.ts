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

/** Counting sort of `order` (a permutation of entries) by `key`, stable. */
function stableSortBy(keys: Int32Array, keyCount: number, order: Int32Array): Int32Array {
  const start = new Int32Array(keyCount + 1);
  for (let n = 0; n < order.length; n++) start[keys[order[n]] + 1]++;
  for (let k = 0; k < keyCount; k++) start[k + 1] += start[k];
  const sorted = new Int32Array(order.length);
  for (let n = 0; n < order.length; n++) sorted[start[keys[order[n]]]++] = order[n];
  return sorted;
}

/**
 * Builds a CSR matrix from coordinate triples (the first `nnz` entries of the arrays):
 * duplicate (row, col) entries are summed and entries that sum to zero are dropped.
 * Two stable counting sorts (by column, then by row) leave columns ascending within rows.
 */
export function cooToCsr(
  rows: number,
  cols: number,
  rowIndex: Int32Array,
  colIndex: Int32Array,
  values: Float32Array,
  nnz: number,
): { matrix: CsrMatrix; duplicates: number } {
  const r = rowIndex.subarray(0, nnz);
  const c = colIndex.subarray(0, nnz);
  const identity = new Int32Array(nnz);
  for (let n = 0; n < nnz; n++) identity[n] = n;
  const order = stableSortBy(r, rows, stableSortBy(c, cols, identity));

  const indptr = new Int32Array(rows + 1);
  const indices = new Int32Array(nnz);
  const data = new Float32Array(nnz);
  let out = 0;
  let duplicates = 0;
  let n = 0;
  while (n < nnz) {
    const row = r[order[n]];
    const col = c[order[n]];
    let sum = 0;
    while (n < nnz && r[order[n]] === row && c[order[n]] === col) {
      sum += values[order[n]];
      n++;
      duplicates++;
    }
    duplicates--;
    if (sum !== 0) {
      indices[out] = col;
      data[out] = sum;
      out++;
      indptr[row + 1] = out;
    }
  }
  // rows without entries inherit the end of the previous row
  for (let row = 0; row < rows; row++) if (indptr[row + 1] < indptr[row]) indptr[row + 1] = indptr[row];
  return {
    matrix: { rows, cols, indptr, indices: indices.slice(0, out), data: data.slice(0, out) },
    duplicates,
  };
}

/** The transpose, by one counting sort; column indices come out ascending. */
export function transpose(m: CsrMatrix, data: Float32Array = m.data): CsrMatrix {
  const nnz = m.indptr[m.rows];
  const indptr = new Int32Array(m.cols + 1);
  for (let n = 0; n < nnz; n++) indptr[m.indices[n] + 1]++;
  for (let c = 0; c < m.cols; c++) indptr[c + 1] += indptr[c];
  const next = indptr.slice(0, m.cols);
  const indices = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  for (let row = 0; row < m.rows; row++) {
    for (let n = m.indptr[row]; n < m.indptr[row + 1]; n++) {
      const at = next[m.indices[n]]++;
      indices[at] = row;
      values[at] = data[n];
    }
  }
  return { rows: m.cols, cols: m.rows, indptr, indices, data: values };
}

/** The same sparsity pattern with other values (e.g. confidences in place of play counts). */
export function withData(m: CsrMatrix, data: Float32Array): CsrMatrix {
  return { rows: m.rows, cols: m.cols, indptr: m.indptr, indices: m.indices, data };
}
