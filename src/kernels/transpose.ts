/**
 * The transpose of a CSR matrix by one counting sort (Kernels.transpose's reference, and
 * data/sparse.ts's transpose): column indices come out ascending within each row of the
 * transpose. `memory` makes its arrays (ordinary ones, or a kernels' own).
 */

export interface CsrArrays {
  indptr: Int32Array;
  indices: Int32Array;
  data: Float32Array;
}

export interface ArrayMemory {
  int32(length: number): Int32Array;
  float32(length: number): Float32Array;
}

export const ORDINARY_MEMORY: ArrayMemory = { int32: (n) => new Int32Array(n), float32: (n) => new Float32Array(n) };

/** The cols × rows transpose of the rows × cols matrix (indptr, indices) with the values `data`. */
export function countingTranspose(
  rows: number,
  cols: number,
  indptr: Int32Array,
  indices: Int32Array,
  data: Float32Array,
  memory: ArrayMemory = ORDINARY_MEMORY,
): CsrArrays {
  const nnz = indptr[rows];
  const starts = memory.int32(cols + 1);
  starts.fill(0);
  for (let n = 0; n < nnz; n++) starts[indices[n] + 1]++;
  for (let c = 0; c < cols; c++) starts[c + 1] += starts[c];
  const next = starts.slice(0, cols);
  const outIndices = memory.int32(nnz);
  const outData = memory.float32(nnz);
  for (let row = 0; row < rows; row++) {
    for (let n = indptr[row]; n < indptr[row + 1]; n++) {
      const at = next[indices[n]]++;
      outIndices[at] = row;
      outData[at] = data[n];
    }
  }
  return { indptr: starts, indices: outIndices, data: outData };
}
