import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/als/random.js';
import { createWasmKernels, type Kernels } from '../../src/kernels/index.js';
import { quantizeRows } from '../../src/kernels/quantize.js';
import { randomMatrix } from '../helpers.js';
import { answer, blockKernels, blockSelection, builds, residentRows, scoredAnswer, type Answer } from './blockCases.js';

// pairedCosineBlock scores each pair of a set's rows once, in tiles, and answers queries that are
// rows of the set from the tiles' block extremes: its answers must be, number for number, those of
// scoresBlock then selectBlock (the cosine step), whichever order the blocks come in, for queries
// from outside the set too, and whatever falls back to scoring a query's whole row.

interface PairedCase {
  Y: Float32Array;
  rows: number;
  f: number;
  /** each query's row of Y, or −1 for a query from outside (its factors in `outside`) */
  slots: number[];
  outside?: Float32Array;
  k: number;
  /** each query's exclusions (default: its own row) */
  lists?: number[][];
  /** queries per block, and the order the blocks are scored in (default: in order) */
  block: number;
  order?: number[];
  /** tile rows scored first, before any block (pairedTiles) */
  early?: number;
}

function norms(kernels: Kernels, Y: Float32Array, rows: number, f: number): Float32Array {
  const out = kernels.float32(Math.max(1, rows));
  kernels.rowNorms(Y, rows, f, out);
  return out;
}

/** The queries' float factors: rows of Y, or the next row of `outside`. */
function queryRows(c: PairedCase): Float32Array {
  const Q = new Float32Array(c.slots.length * c.f);
  let next = 0;
  c.slots.forEach((slot, q) => {
    if (slot >= 0) Q.set(c.Y.subarray(slot * c.f, slot * c.f + c.f), q * c.f);
    else Q.set(c.outside!.subarray(next * c.f, ++next * c.f), q * c.f);
  });
  return Q;
}

const listsOf = (c: PairedCase): number[][] => c.lists ?? c.slots.map((slot) => (slot >= 0 ? [slot] : []));

/** scoresBlock then selectBlock over every query at once: the answer to match */
function exact(kernels: Kernels, c: PairedCase): Answer {
  const Q = queryRows(c);
  const whole = { Y: c.Y, rows: c.rows, f: c.f, Q, queries: c.slots.length, k: c.k, lists: listsOf(c) };
  const s = {
    ...blockSelection(kernels, whole),
    norms: norms(kernels, c.Y, c.rows, c.f),
    queryNorms: norms(kernels, Q, whole.queries, c.f),
  };
  return scoredAnswer(kernels, whole, s);
}

/** The blocks of queries through one CosinePairs, in the case's order, their answers put back in query order. */
function paired(kernels: Kernels, c: PairedCase): Answer {
  const Q = queryRows(c);
  const lists = listsOf(c);
  const Y = residentRows(kernels, { ...c, Q, queries: 0, lists: [] });
  const rowNorms = norms(kernels, Y, c.rows, c.f);
  const quantized = quantizeRows(kernels, Y, c.rows, c.f, rowNorms);
  const pairs = kernels.cosinePairs!(quantized, Y, c.rows, c.f, rowNorms, c.k);
  assert.ok(pairs !== null, 'pairs made');
  if (c.early !== undefined) kernels.pairedTiles!(pairs, c.early);
  const blocks = Math.ceil(c.slots.length / c.block);
  const out: Answer = { best: [], raw: [], range: [] };
  for (const b of c.order ?? Array.from({ length: blocks }, (_, n) => n)) {
    const first = b * c.block;
    const queries = Math.min(c.block, c.slots.length - first);
    const part = { Y, rows: c.rows, f: c.f, Q, queries, k: c.k, lists: lists.slice(first, first + queries) };
    const blockQ = Q.subarray(first * c.f, (first + queries) * c.f);
    const s = blockSelection(kernels, part);
    kernels.pairedCosineBlock!({
      ...s,
      norms: rowNorms,
      queryNorms: norms(kernels, blockQ, queries, c.f),
      Y,
      factors: c.f,
      quantized,
      queryRows: blockQ,
      pairs,
      querySlots: Int32Array.from(c.slots.slice(first, first + queries)),
    });
    const got = answer(s);
    for (let q = 0; q < queries; q++) {
      out.best[first + q] = got.best[q];
      out.raw[first + q] = got.raw[q];
      out.range[first + q] = got.range[q];
    }
  }
  return out;
}

function check(name: string, c: PairedCase): void {
  for (const build of builds) {
    const want = exact(blockKernels.get(`${build}/1`)!, c);
    for (const threads of [1, 2]) {
      const got = paired(blockKernels.get(`${build}/${threads}`)!, c);
      assert.deepEqual(got, want, `${name}: ${build}, ${threads} thread${threads > 1 ? 's' : ''}`);
    }
  }
}

const every = (rows: number): number[] => Array.from({ length: rows }, (_, j) => j);

/** rows scaled copies of 20 centres plus noise: many close scores, as a trained model has them */
function clustered(rows: number, f: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const centres = randomMatrix(20, f, seed + 1);
  const Y = new Float32Array(rows * f);
  for (let j = 0; j < rows; j++) {
    const scale = 0.05 + 3 * random();
    for (let a = 0; a < f; a++) Y[j * f + a] = scale * (centres[(j % 20) * f + a] + 0.05 * (random() - 0.5));
  }
  return Y;
}

describe('pairedCosineBlock: the answers of scoresBlock and selectBlock (cosine), number for number', () => {
  it('every row of a random set as a query, f = 64, 3, 16 and 70, blocks of 128 and 37 queries', () => {
    for (const [f, rows] of [
      [64, 1000],
      [3, 333],
      [16, 700],
      [70, 450],
    ]) {
      const Y = randomMatrix(rows, f, 40 + f);
      check(`f ${f}, ${rows} rows`, { Y, rows, f, slots: every(rows), k: 10, block: 128 });
    }
    const Y = randomMatrix(1000, 64, 41);
    check('blocks of 37', { Y, rows: 1000, f: 64, slots: every(1000), k: 10, block: 37 });
  });

  it('clustered rows (many close scores), k of 1, 10 and 15', () => {
    const Y = clustered(1500, 64, 5);
    for (const k of [1, 10, 15])
      check(`clustered, k ${k}`, { Y, rows: 1500, f: 64, slots: every(1500), k, block: 128 });
  });

  it('sets of one block, a block and a row, and fewer rows than k', () => {
    for (const rows of [5, 63, 64, 65, 129]) {
      const Y = randomMatrix(rows, 64, rows);
      check(`${rows} rows`, { Y, rows, f: 64, slots: every(rows), k: 10, block: 16 });
    }
  });

  it('blocks out of order: a late block first scores every tile row up to its own', () => {
    const Y = clustered(1300, 64, 9);
    const slots = every(1300);
    check('last block first', {
      Y,
      rows: 1300,
      f: 64,
      slots,
      k: 10,
      block: 100,
      order: [12, 3, 0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11],
    });
    // queries in any order of rows, some asked twice
    const shuffled = slots.map((_, n) => (n * 389) % 1300).concat([5, 5, 1299]);
    check('rows in another order', { Y, rows: 1300, f: 64, slots: shuffled, k: 10, block: 128 });
  });

  it('tile rows scored before the blocks (pairedTiles): none, some, all, more than there are', () => {
    const Y = clustered(1000, 64, 19);
    for (const early of [0, 3, 16, 40])
      check(`${early} tile rows first`, { Y, rows: 1000, f: 64, slots: every(1000), k: 10, block: 128, early });
  });

  it("queries from outside the set (scored whole by their own codes), mixed with the set's rows", () => {
    const rows = 900;
    const Y = clustered(rows, 64, 11);
    const outside = clustered(100, 64, 12);
    const slots = every(rows).map((j) => (j % 9 === 4 ? -1 : j));
    check('outside queries', { Y, rows, f: 64, slots, outside, k: 10, block: 128 });
  });

  it('ties: equal rows and rows equal up to scale', () => {
    const f = 32;
    const rows = 800;
    const Y = Float32Array.from(randomMatrix(rows, f, 7), (v) => Math.round(v * 4) / 4);
    for (let j = 100; j < 200; j++) Y.copyWithin(j * f, 0, f);
    for (let j = 200; j < 300; j++) for (let a = 0; a < f; a++) Y[j * f + a] = Y[f + a] * (j - 199);
    for (const k of [1, 10, 15]) check(`ties, k ${k}`, { Y, rows, f, slots: every(rows), k, block: 128 });
  });

  it('zero rows score 0 both ways', () => {
    const f = 24;
    const rows = 500;
    const Y = randomMatrix(rows, f, 8);
    for (let j = 0; j < rows; j += 3) Y.fill(0, j * f, j * f + f);
    check('zero rows', { Y, rows, f, slots: every(rows), k: 10, block: 128 });
  });

  it('more left out than the extremes matrix seeds (the whole row by its own codes), none, or all', () => {
    const rows = 700;
    const Y = clustered(rows, 64, 13);
    const slots = every(rows);
    const lists = slots.map((j) => {
      if (j % 5 === 0) return [];
      if (j % 5 === 1) return Array.from({ length: 12 }, (_, n) => (j + n * 31) % rows);
      if (j % 5 === 2) return every(rows);
      if (j % 5 === 3) return every(rows).filter((r) => r !== (j * 7) % rows);
      return [j];
    });
    check('exclusions', { Y, rows, f: 64, slots, k: 10, lists, block: 128 });
  });

  it('the extremes matrix is used: a block whose best rows are left out still finds the next best', () => {
    const rows = 640;
    const Y = clustered(rows, 64, 17);
    // each query leaves out its own row and the best rows of other blocks' tops
    const lists = every(rows).map((j) => [j, (j + 64) % rows, (j + 128) % rows, (j + 20) % rows]);
    check('left out', { Y, rows, f: 64, slots: every(rows), k: 10, lists, block: 64 });
  });
});

describe('cosinePairs', () => {
  it('declines what it cannot help with: k of 16 and more, rows of unsafe norm, too many rows', () => {
    for (const build of builds) {
      const kernels = blockKernels.get(`${build}/2`)!;
      const f = 8;
      const make = (Y: Float32Array, rows: number, k: number) => {
        const inside = kernels.float32(rows * f);
        inside.set(Y);
        const rowNorms = norms(kernels, inside, rows, f);
        return kernels.cosinePairs!(quantizeRows(kernels, inside, rows, f, rowNorms), inside, rows, f, rowNorms, k);
      };
      const Y = randomMatrix(100, f, 3);
      assert.notEqual(make(Y, 100, 15), null);
      assert.equal(make(Y, 100, 16), null);
      assert.equal(make(Y, 100, 0), null);
      const huge = Y.slice();
      for (let a = 0; a < f; a++) huge[5 * f + a] *= 1e35;
      assert.equal(make(huge, 100, 10), null);
      const many = 24000;
      assert.equal(make(randomMatrix(many, f, 4), many, 10), null);
      assert.notEqual(make(randomMatrix(20000, f, 4), 20000, 10), null);
    }
  });

  it('a set of unsafe norm is declined before anything is allocated: a loop over it does not grow kernel memory', async () => {
    for (const build of builds) {
      // fresh kernels: no memory given back that an allocation could take without growing
      const kernels = await createWasmKernels(2, { build });
      try {
        const f = 8;
        const Y = kernels.float32(100 * f);
        Y.set(randomMatrix(100, f, 3));
        for (let a = 0; a < f; a++) Y[5 * f + a] *= 1e35;
        const rowNorms = norms(kernels, Y, 100, f);
        const quantized = quantizeRows(kernels, Y, 100, f, rowNorms);
        const extent = () => (kernels as unknown as { memoryExtent: number }).memoryExtent;
        const before = extent();
        for (let n = 0; n < 20; n++) assert.equal(kernels.cosinePairs!(quantized, Y, 100, f, rowNorms, 10), null);
        assert.equal(extent(), before, build);
      } finally {
        kernels.dispose();
      }
    }
  });

  it('pairs of other rows or other kernels are refused', () => {
    const [first, second] = builds.map((build) => blockKernels.get(`${build}/1`)!);
    const f = 8;
    const Y = first.float32(100 * f);
    Y.set(randomMatrix(100, f, 5));
    const rowNorms = norms(first, Y, 100, f);
    const quantized = quantizeRows(first, Y, 100, f, rowNorms);
    const pairs = first.cosinePairs!(quantized, Y, 100, f, rowNorms, 10)!;
    const s = blockSelection(first, { Y, rows: 100, f, Q: Y, queries: 1, k: 10, lists: [[0]] });
    const selection = {
      ...s,
      norms: rowNorms,
      queryNorms: rowNorms.subarray(0, 1),
      Y,
      factors: f,
      quantized,
      queryRows: Y,
    };
    assert.throws(
      () => first.pairedCosineBlock!({ ...selection, pairs, querySlots: Int32Array.of(100) }),
      /querySlots\[0\]/,
    );
    const other = quantizeRows(first, Y, 100, f, rowNorms);
    assert.throws(
      () => first.pairedCosineBlock!({ ...selection, quantized: other, pairs, querySlots: Int32Array.of(0) }),
      /not made/,
    );
    if (second !== undefined && second !== first)
      assert.throws(() => second.pairedCosineBlock!({ ...selection, pairs, querySlots: Int32Array.of(0) }), /not made/);
  });
});
