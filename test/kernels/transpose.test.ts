import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createWasmKernels, jsKernels, type Kernels } from '../../src/kernels/index.js';
import { countingTranspose } from '../../src/kernels/transpose.js';
import { seededRandom } from '../../src/als/random.js';

const wasm: [string, Kernels][] = [
  ['wasm/1', await createWasmKernels(1)],
  ['wasm/2', await createWasmKernels(2)],
];
after(() => wasm.forEach(([, k]) => k.dispose()));

/** A rows × cols CSR matrix with about `perRow` entries a row (some rows empty, some long), columns ascending. */
function randomCsr(rows: number, cols: number, perRow: number, seed: number) {
  const random = seededRandom(seed);
  const indptr = new Int32Array(rows + 1);
  const indices: number[] = [];
  const data: number[] = [];
  for (let r = 0; r < rows; r++) {
    const length = r % 17 === 0 ? 0 : r % 101 === 0 ? Math.min(cols, 50 * perRow) : Math.floor(random() * 2 * perRow);
    const columns = new Set<number>();
    while (columns.size < Math.min(length, cols)) columns.add(Math.floor(random() ** 2 * cols));
    for (const c of [...columns].sort((a, b) => a - b)) {
      indices.push(c);
      data.push(Math.fround(1 + random() * 100));
    }
    indptr[r + 1] = indices.length;
  }
  return { rows, cols, indptr, indices: Int32Array.from(indices), data: Float32Array.from(data) };
}

describe('kernels.transpose: the counting sort, in parts of rows on every thread', () => {
  it('gives countingTranspose, array for array: small and large matrices, empty rows and columns, in and out of kernel memory', () => {
    const shapes: [number, number, number][] = [
      [0, 5, 3],
      [1, 1, 1],
      [7, 3, 2],
      [500, 40, 6],
      [9001, 2503, 12], // past the parallel threshold (65,536 entries)
      [20000, 7, 5], // few columns: long columns, rows of every part in each
    ];
    for (const [rows, cols, perRow] of shapes) {
      const m = randomCsr(rows, cols, perRow, rows + cols);
      const want = countingTranspose(rows, cols, m.indptr, m.indices, m.data);
      // rows come out ascending within each column, each entry once
      for (let c = 0; c < cols; c++)
        for (let n = want.indptr[c] + 1; n < want.indptr[c + 1]; n++) assert.ok(want.indices[n] > want.indices[n - 1]);
      assert.equal(want.indptr[cols], m.indptr[rows]);
      assert.deepEqual(jsKernels.transpose(rows, cols, m.indptr, m.indices, m.data), want, `js, ${rows} × ${cols}`);
      for (const [name, kernels] of wasm) {
        const outside = kernels.transpose(rows, cols, m.indptr, m.indices, m.data);
        assert.deepEqual(
          { indptr: [...outside.indptr], indices: [...outside.indices], data: [...outside.data] },
          { indptr: [...want.indptr], indices: [...want.indices], data: [...want.data] },
          `${name} outside kernel memory, ${rows} × ${cols}`,
        );
        const indptr = kernels.int32(m.indptr.length);
        indptr.set(m.indptr);
        const indices = kernels.int32(m.indices.length);
        indices.set(m.indices);
        const data = kernels.float32(m.data.length);
        data.set(m.data);
        const inside = kernels.transpose(rows, cols, indptr, indices, data);
        assert.deepEqual(
          { indptr: [...inside.indptr], indices: [...inside.indices], data: [...inside.data] },
          { indptr: [...want.indptr], indices: [...want.indices], data: [...want.data] },
          `${name} in kernel memory, ${rows} × ${cols}`,
        );
      }
    }
  });
});
