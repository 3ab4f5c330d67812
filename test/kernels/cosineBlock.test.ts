import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/als/random.js';
import { jsKernels, type Kernels } from '../../src/kernels/index.js';
import { cosineBound, quantizeRows } from '../../src/kernels/quantize.js';
import { randomMatrix } from '../helpers.js';
import {
  answer,
  blockKernels,
  blockSelection,
  builds,
  checkBlock,
  residentRows,
  scoredAnswer,
  type Answer,
  type Case,
} from './blockCases.js';

// cosineBlock scores an int8 copy of the rows first and the float rows only where the
// quantization error leaves the answer open: its answers must be, number for number, those of
// scoresBlock then selectBlock (the cosine step) of the same build.

function norms(kernels: Kernels, Y: Float32Array, rows: number, f: number): Float32Array {
  const out = kernels.float32(Math.max(1, rows));
  kernels.rowNorms(Y, rows, f, out);
  return out;
}

/** a case's selection with the cosine step: its rows' and queries' norms */
function selection(kernels: Kernels, c: Case) {
  return {
    ...blockSelection(kernels, c),
    norms: norms(kernels, c.Y, c.rows, c.f),
    queryNorms: norms(kernels, c.Q, c.queries, c.f),
  };
}

/** scoresBlock then selectBlock with the cosine step: the answer cosineBlock must give */
function exact(kernels: Kernels, c: Case): Answer {
  return scoredAnswer(kernels, c, selection(kernels, c));
}

function quantized(kernels: Kernels, c: Case): Answer {
  const s = selection(kernels, c);
  const Y = residentRows(kernels, c);
  const rows = quantizeRows(kernels, Y, c.rows, c.f, s.norms);
  kernels.cosineBlock({ ...s, Y, factors: c.f, quantized: rows, queryRows: c.Q });
  return answer(s);
}

function check(name: string, c: Case): void {
  checkBlock(name, c, exact, quantized);
}

/** queries rows of Y (from `from` on, every `step`-th), each leaving out itself */
function selfQueries(Y: Float32Array, rows: number, f: number, queries: number, from = 0, step = 7) {
  const Q = new Float32Array(queries * f);
  const lists: number[][] = [];
  for (let q = 0; q < queries; q++) {
    const row = (from + q * step) % rows;
    Q.set(Y.subarray(row * f, row * f + f), q * f);
    lists.push([row]);
  }
  return { Q, lists };
}

const ROWS = 5003;

/** The rows of Y, best cosine with x first (float64: the test's own order, ties aside). */
function byCosine(Y: Float32Array, rows: number, f: number, x: Float32Array): number[] {
  const cosines = new Float64Array(rows);
  let xx = 0;
  for (let d = 0; d < f; d++) xx += x[d] ** 2;
  for (let j = 0; j < rows; j++) {
    let dot = 0;
    let yy = 0;
    for (let d = 0; d < f; d++) {
      dot += Y[j * f + d] * x[d];
      yy += Y[j * f + d] ** 2;
    }
    cosines[j] = dot / Math.sqrt(yy * xx);
  }
  return Array.from({ length: rows }, (_, j) => j).sort((a, b) => cosines[b] - cosines[a]);
}

describe('cosineBlock: the answers of scoresBlock and selectBlock (cosine), number for number', () => {
  for (const f of [1, 3, 16, 40, 64, 70]) {
    it(`random factors, f = ${f}, blocks of 1, 6 and 16 queries, k of 1, 10 and 40`, () => {
      const Y = randomMatrix(ROWS, f, 100 + f);
      for (const queries of [1, 6, 16]) {
        for (const k of [1, 10, 40]) {
          const { Q, lists } = selfQueries(Y, ROWS, f, queries, f);
          check(`f ${f}, ${queries} queries, k ${k}`, { Y, rows: ROWS, f, Q, queries, k, lists });
        }
      }
    });
  }

  it('blocks of 37 and 64 queries: split into groups of queries (the last group short), f = 64 and 70', () => {
    // a block of at least 8 queries a thread goes in groups of queries, both passes in one
    // chunk; fewer go split by rows (the tests above): the same answer either way
    for (const f of [64, 70]) {
      const Y = randomMatrix(ROWS, f, 300 + f);
      for (const queries of [37, 64]) {
        const { Q, lists } = selfQueries(Y, ROWS, f, queries, 11, 13);
        check(`f ${f}, ${queries} queries`, { Y, rows: ROWS, f, Q, queries, k: 10, lists });
      }
    }
  });

  it('clustered factors (many close scores), as a trained model has them', () => {
    const f = 64;
    const random = seededRandom(5);
    const centres = randomMatrix(20, f, 6);
    const Y = new Float32Array(ROWS * f);
    for (let j = 0; j < ROWS; j++) {
      const centre = j % 20;
      const scale = 0.05 + 3 * random();
      for (let a = 0; a < f; a++) Y[j * f + a] = scale * (centres[centre * f + a] + 0.05 * (random() - 0.5));
    }
    const { Q, lists } = selfQueries(Y, ROWS, f, 16, 3, 311);
    check('clustered', { Y, rows: ROWS, f, Q, queries: 16, k: 10, lists });
  });

  it('ties: equal rows, rows equal up to scale, coarse values', () => {
    const f = 32;
    const Y = Float32Array.from(randomMatrix(ROWS, f, 7), (v) => Math.round(v * 4) / 4);
    // rows 100..199 copies of row 0 and rows 200..299 of row 1 at other scales
    for (let j = 100; j < 200; j++) Y.copyWithin(j * f, 0, f);
    for (let j = 200; j < 300; j++) for (let a = 0; a < f; a++) Y[j * f + a] = Y[f + a] * (j - 199);
    const { Q, lists } = selfQueries(Y, ROWS, f, 16, 0, 1);
    for (const k of [1, 10, 150])
      check(`ties, k ${k}`, { Y, rows: ROWS, f, Q, queries: 16, k, lists: lists.map((l, q) => (q % 2 ? [] : l)) });
  });

  it('every row equal: every candidate is open, and the whole row is scored exactly', () => {
    const f = 16;
    const Y = new Float32Array(ROWS * f);
    for (let j = 0; j < ROWS; j++) Y.set(randomMatrix(1, f, 3), j * f);
    const { Q, lists } = selfQueries(Y, ROWS, f, 5);
    check('equal rows', { Y, rows: ROWS, f, Q, queries: 5, k: 10, lists });
  });

  it('zero rows and a zero query score 0', () => {
    const f = 24;
    const Y = randomMatrix(ROWS, f, 8);
    for (let j = 0; j < ROWS; j += 3) Y.fill(0, j * f, j * f + f);
    const { Q, lists } = selfQueries(Y, ROWS, f, 6, 1);
    Q.fill(0, 2 * f, 3 * f);
    check('zero rows', { Y, rows: ROWS, f, Q, queries: 6, k: 10, lists });
  });

  it('huge and tiny norms (some beyond float32: NaN and 0 scores) are scored exactly', () => {
    const f = 20;
    const Y = randomMatrix(ROWS, f, 9);
    const scales = [1e-20, 1e-35, 1e-42, 1e15, 1e18, 1e30, 3e38];
    for (let j = 0; j < ROWS; j++) {
      if (j % 5 !== 0) continue;
      const scale = scales[(j / 5) % scales.length];
      for (let a = 0; a < f; a++) Y[j * f + a] *= scale;
    }
    for (const from of [0, 5, 10, 15, 20, 25, 30]) {
      const { Q, lists } = selfQueries(Y, ROWS, f, 8, from, 5);
      check(`norms from row ${from}`, { Y, rows: ROWS, f, Q, queries: 8, k: 10, lists });
    }
  });

  it('exclusions: none, the best, all but one, all, and rows out of range', () => {
    const f = 64;
    const Y = randomMatrix(ROWS, f, 10);
    const { Q } = selfQueries(Y, ROWS, f, 5);
    const everything = Array.from({ length: ROWS }, (_, j) => j);
    const lists = [[], [0, 7, 14, 21], everything.slice(1), everything, [ROWS + 3, -1, 2]];
    // every third row left out: many skipped rows in every four
    lists[0] = everything.filter((j) => j % 3 === 0);
    for (const k of [1, 10, ROWS + 5]) check(`exclusions, k ${k}`, { Y, rows: ROWS, f, Q, queries: 5, k, lists });
  });

  it('blocks passed over by their extremes: the best rows left out (each the largest of its block), the worst too', () => {
    // the int8 pass notes the largest and smallest score of every 64 rows; the rows a query
    // leaves out may be those extremes, so the thresholds count them in (see listCandidates)
    const f = 64;
    const rows = 64 * 150 + 17;
    const Y = randomMatrix(rows, f, 12);
    const { Q } = selfQueries(Y, rows, f, 6, 5, 101);
    const lists = Array.from({ length: 6 }, (_, q) => {
      const order = byCosine(Y, rows, f, Q.subarray(q * f, q * f + f));
      // 0: none; 1: the 30 best; 2: the 30 worst; 3: both; 4: the 250 best (within the limit); 5: 300 (beyond)
      return [
        [],
        order.slice(0, 30),
        order.slice(-30),
        [...order.slice(0, 30), ...order.slice(-30)],
        order.slice(0, 250),
        order.slice(0, 300),
      ][q];
    });
    for (const k of [1, 10, 64]) check(`extremes left out, k ${k}`, { Y, rows, f, Q, queries: 6, k, lists });
  });

  it('groups of queries: the best and worst rows of blocks left out (the exact seeds), 16 and 24 queries', () => {
    // a block of at least 8 queries a thread goes in groups, whose refining pass takes its two
    // cuts from exact scores of the rows holding the block extremes: rows left out among them
    // must be passed over, and more than 15 left out (or k above 15) take the extremes alone
    const f = 64;
    const rows = 64 * 150 + 17;
    const Y = randomMatrix(rows, f, 14);
    for (const queries of [16, 24]) {
      const { Q } = selfQueries(Y, rows, f, queries, 9, 97);
      const lists = Array.from({ length: queries }, (_, q) => {
        const ranked = byCosine(Y, rows, f, Q.subarray(q * f, q * f + f));
        return [
          [],
          ranked.slice(0, 3),
          ranked.slice(-1),
          [ranked[0], ranked[rows - 1]],
          ranked.slice(0, 14),
          ranked.slice(0, 40),
        ][q % 6];
      });
      for (const k of [1, 10, 16]) check(`groups, ${queries} queries, k ${k}`, { Y, rows, f, Q, queries, k, lists });
    }
  });

  it('groups of queries with huge and tiny norms (NaN extremes: the extremes alone, or every row exactly)', () => {
    const f = 20;
    const Y = randomMatrix(ROWS, f, 15);
    for (let j = 0; j < ROWS; j += 50) for (let a = 0; a < f; a++) Y[j * f + a] *= j % 100 === 0 ? 1e30 : 1e-35;
    const { Q, lists } = selfQueries(Y, ROWS, f, 16, 0, 25);
    check('norms, 16 queries', { Y, rows: ROWS, f, Q, queries: 16, k: 10, lists });
  });

  it('few rows (fewer than k, fewer than four)', () => {
    for (const rows of [1, 2, 3, 5, 9]) {
      const f = 8;
      const Y = randomMatrix(rows, f, rows);
      const { Q, lists } = selfQueries(Y, rows, f, 4, 0, 1);
      check(`${rows} rows`, { Y, rows, f, Q, queries: 4, k: 10, lists });
    }
  });

  it('the reference kernels answer as their scoresBlock and selectBlock', () => {
    const f = 12;
    const Y = randomMatrix(300, f, 11);
    const { Q, lists } = selfQueries(Y, 300, f, 4);
    const c = { Y, rows: 300, f, Q, queries: 4, k: 5, lists };
    assert.deepEqual(quantized(jsKernels, c), exact(jsKernels, c));
  });
});

describe('the quantization bound', () => {
  it('holds for every row and query: |exact cosine − approximate| ≤ cosineBound', () => {
    const wasm = blockKernels.get(`${builds[0]}/1`)!;
    const f = 64;
    const rows = 2000;
    const Y = randomMatrix(rows, f, 12);
    const n = norms(wasm, Y, rows, f);
    const quantizedRows = quantizeRows(wasm, Y, rows, f, n);
    const codes = new Int8Array(quantizedRows.codes.buffer, quantizedRows.codes.byteOffset, quantizedRows.codes.length);
    const random = seededRandom(13);
    for (let t = 0; t < 20; t++) {
      const q = Math.floor(random() * rows);
      // the query as the kernel codes it: 63 levels each side
      const unit = Array.from(Y.subarray(q * f, q * f + f), (v) => v / n[q]);
      const largest = Math.max(...unit.map(Math.abs));
      const scale = Math.fround(largest / 63);
      const d = unit.map((v) => Math.round(v / scale));
      const queryError = Math.hypot(...unit.map((v, a) => v - scale * d[a]));
      const bound = cosineBound(quantizedRows.error, queryError, f);
      for (let j = 0; j < rows; j++) {
        let dot = 0;
        let codeDot = 0;
        for (let a = 0; a < f; a++) {
          dot += Y[j * f + a] * Y[q * f + a];
          // four rows interleaved, 4 bytes of each in turn
          codeDot += codes[(j >> 2) * 4 * quantizedRows.stride + 4 * (j & 3) + 16 * (a >> 2) + (a & 3)] * d[a];
        }
        const cosine = dot / (n[j] * n[q]);
        const approximate = quantizedRows.scales[j] * scale * codeDot;
        assert.ok(Math.abs(cosine - approximate) <= bound, `row ${j}, query ${q}`);
      }
    }
  });
});
