import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/als/random.js';
import { CooList } from '../../src/data/coo.js';
import { cooChunksToCsr, cooToCsr, type CsrMatrix } from '../../src/data/sparse.js';

/** The first implementation, kept as the reference: two stable counting sorts (by column, then row). */
function referenceCooToCsr(
  rows: number,
  cols: number,
  rowIndex: Int32Array,
  colIndex: Int32Array,
  values: Float32Array,
  nnz: number,
): { matrix: CsrMatrix; duplicates: number } {
  const sortBy = (keys: Int32Array, keyCount: number, order: Int32Array): Int32Array => {
    const start = new Int32Array(keyCount + 1);
    for (let n = 0; n < order.length; n++) start[keys[order[n]] + 1]++;
    for (let k = 0; k < keyCount; k++) start[k + 1] += start[k];
    const sorted = new Int32Array(order.length);
    for (let n = 0; n < order.length; n++) sorted[start[keys[order[n]]]++] = order[n];
    return sorted;
  };
  const r = rowIndex.subarray(0, nnz);
  const c = colIndex.subarray(0, nnz);
  const identity = new Int32Array(nnz);
  for (let n = 0; n < nnz; n++) identity[n] = n;
  const order = sortBy(r, rows, sortBy(c, cols, identity));
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
  for (let row = 0; row < rows; row++) if (indptr[row + 1] < indptr[row]) indptr[row + 1] = indptr[row];
  return { matrix: { rows, cols, indptr, indices: indices.slice(0, out), data: data.slice(0, out) }, duplicates };
}

function assertSameCsr(
  actual: { matrix: CsrMatrix; duplicates: number },
  expected: { matrix: CsrMatrix; duplicates: number },
): void {
  assert.equal(actual.duplicates, expected.duplicates, 'duplicates');
  assert.equal(actual.matrix.rows, expected.matrix.rows);
  assert.equal(actual.matrix.cols, expected.matrix.cols);
  assert.deepEqual(actual.matrix.indptr, expected.matrix.indptr, 'indptr');
  assert.deepEqual(actual.matrix.indices, expected.matrix.indices, 'indices');
  assert.deepEqual(actual.matrix.data, expected.matrix.data, 'data');
}

/** Triples with long and short rows, many duplicates, values whose sum depends on the order, and sums of zero. */
function randomTriples(seed: number, rows: number, cols: number, nnz: number) {
  const random = seededRandom(seed);
  const rowIndex = new Int32Array(nnz);
  const colIndex = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  const tricky = [1e30, -1e30, 1, 0.1, 3, -3, 2.5, 7];
  for (let n = 0; n < nnz; n++) {
    // a few heavy rows (long merge sorts) and a narrow band of columns (many duplicates)
    rowIndex[n] = random() < 0.3 ? Math.floor(random() * Math.min(rows, 3)) : Math.floor(random() * rows);
    colIndex[n] = random() < 0.5 ? Math.floor(random() * Math.min(cols, 20)) : Math.floor(random() * cols);
    values[n] = random() < 0.5 ? tricky[Math.floor(random() * tricky.length)] : 1 + Math.floor(random() * 100);
  }
  return { rowIndex, colIndex, values };
}

describe('building CSR matrices', () => {
  for (const [seed, rows, cols, nnz] of [
    [1, 1, 1, 0],
    [2, 5, 5, 40],
    [3, 50, 30, 2000],
    [4, 300, 2000, 20000],
    [5, 7, 100000, 30000],
  ] as const) {
    it(`matches the two-sort reference: ${rows} × ${cols}, ${nnz} triples`, () => {
      const { rowIndex, colIndex, values } = randomTriples(seed, rows, cols, nnz);
      const expected = referenceCooToCsr(rows, cols, rowIndex, colIndex, values, nnz);
      assertSameCsr(cooToCsr(rows, cols, rowIndex, colIndex, values, nnz), expected);
      // only the first nnz entries count
      const longer = (a: Int32Array | Float32Array, fill: number) => {
        const b = new (a.constructor as Int32ArrayConstructor)(a.length + 5).fill(fill);
        b.set(a);
        return b;
      };
      assertSameCsr(
        cooToCsr(rows, cols, longer(rowIndex, 0), longer(colIndex, 0), new Float32Array(longer(values, 9)), nnz),
        expected,
      );
    });
  }

  it('sums duplicates in input order, as the reference does', () => {
    const rows = Int32Array.from([0, 0, 0, 1, 1, 1]);
    const cols = Int32Array.from([2, 2, 2, 0, 0, 0]);
    const values = Float32Array.from([1e30, 1, -1e30, 1e30, -1e30, 1]);
    const { matrix, duplicates } = cooToCsr(2, 3, rows, cols, values, 6);
    assert.equal(duplicates, 4);
    assert.deepEqual(Array.from(matrix.indptr), [0, 0, 1]);
    assert.deepEqual(Array.from(matrix.data), [1]);
  });

  it('from chunks of any sizes, letting them go', () => {
    const { rowIndex, colIndex, values } = randomTriples(6, 400, 500, 25000);
    const expected = referenceCooToCsr(400, 500, rowIndex, colIndex, values, 25000);
    const rowChunks: Int32Array[] = [];
    const colChunks: Int32Array[] = [];
    const valueChunks: Float32Array[] = [];
    const lengths: number[] = [];
    let at = 0;
    for (const size of [1, 7, 1000, 3, 5000, 40000]) {
      const end = Math.min(at + (size > 3 ? size - 2 : size), 25000);
      const r = new Int32Array(size);
      r.set(rowIndex.subarray(at, end));
      const c = new Int32Array(size);
      c.set(colIndex.subarray(at, end));
      const v = new Float32Array(size);
      v.set(values.subarray(at, end));
      rowChunks.push(r);
      colChunks.push(c);
      valueChunks.push(v);
      lengths.push(end - at); // chunks not used in full
      at = end;
    }
    assertSameCsr(cooChunksToCsr(400, 500, rowChunks, colChunks, valueChunks, lengths, true), expected);
    assert.ok(
      rowChunks.every((chunk) => chunk.length === 0),
      'released',
    );
  });

  it('a CooList grows in chunks and builds the same matrix', () => {
    const nnz = 300000; // more than a few chunks
    const { rowIndex, colIndex, values } = randomTriples(7, 5000, 3000, nnz);
    const list = new CooList();
    for (let n = 0; n < nnz; n++) list.push(rowIndex[n], colIndex[n], values[n]);
    assert.equal(list.length, nnz);
    assertSameCsr(list.toCsr(5000, 3000), referenceCooToCsr(5000, 3000, rowIndex, colIndex, values, nnz));
  });

  /** Triples row by row (row lengths as given, rows ascending with gaps), then `tail` in random order. */
  function orderedTriples(seed: number, rowLengths: number[], cols: number, tail: number) {
    const random = seededRandom(seed);
    const rowIndex: number[] = [];
    const colIndex: number[] = [];
    const values: number[] = [];
    let row = 0;
    for (const length of rowLengths) {
      row += random() < 0.2 ? 2 : 1; // some rows have no triple
      for (let n = 0; n < length; n++) {
        rowIndex.push(row);
        colIndex.push(Math.floor(random() * cols));
        values.push(random() < 0.1 ? 0.1 : 1 + Math.floor(random() * 9));
      }
    }
    for (let n = 0; n < tail; n++) {
      rowIndex.push(Math.floor(random() * (row + 3)));
      colIndex.push(Math.floor(random() * cols));
      values.push(1 + Math.floor(random() * 9));
    }
    return {
      rows: row + 3,
      rowIndex: Int32Array.from(rowIndex),
      colIndex: Int32Array.from(colIndex),
      values: Float32Array.from(values),
    };
  }

  for (const [name, lengths, tail] of [
    ['rows in order, rows across the chunk ends', Array.from({ length: 4000 }, (_, n) => 1 + ((n * 37) % 101)), 0],
    ['rows in order, then one out of order', Array.from({ length: 4000 }, (_, n) => 1 + ((n * 37) % 101)), 1],
    ['rows in order, then many out of order', Array.from({ length: 3000 }, (_, n) => 1 + ((n * 53) % 97)), 50000],
    ['a row longer than the first chunks', [5, 20000, 3, 70000, 1, 16384, 16384, 2], 0],
    ['a row longer than the largest chunk', [3, (1 << 20) + 5, 7], 0],
    ['a row longer than the largest chunk, then out of order', [3, (1 << 20) + 5, 7], 10],
  ] as const) {
    it(`a CooList: ${name}`, () => {
      const { rows, rowIndex, colIndex, values } = orderedTriples(8, [...lengths], 5000, tail);
      const list = new CooList();
      for (let n = 0; n < values.length; n++) list.push(rowIndex[n], colIndex[n], values[n]);
      assert.equal(list.length, values.length);
      assertSameCsr(
        list.toCsr(rows + 2, 5000),
        referenceCooToCsr(rows + 2, 5000, rowIndex, colIndex, values, values.length),
      );
      assert.equal(list.length, values.length);
    });
  }
});
