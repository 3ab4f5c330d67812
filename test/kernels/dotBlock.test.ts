import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/als/random.js';
import { jsKernels, type Kernels } from '../../src/kernels/index.js';
import { productBounds, quantizeProductRows } from '../../src/kernels/quantize.js';
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

// dotBlock scores an int8 copy of the rows first and the float rows only where the quantization
// error leaves the k best or the score range open: its answers must be, number for number, those
// of scoresBlock then selectBlock (no cosine step) of the same build, as recommend --all needs.

/** scoresBlock then selectBlock: the answer dotBlock must give */
function exact(kernels: Kernels, c: Case): Answer {
  return scoredAnswer(kernels, c, blockSelection(kernels, c));
}

function quantized(kernels: Kernels, c: Case): Answer {
  const s = blockSelection(kernels, c);
  const Y = residentRows(kernels, c);
  const rows = quantizeProductRows(kernels, Y, c.rows, c.f);
  kernels.dotBlock({ ...s, Y, factors: c.f, quantized: rows, queryRows: c.Q });
  return answer(s);
}

function check(name: string, c: Case): void {
  checkBlock(name, c, exact, quantized);
}

/** `queries` random user-like queries, each leaving out `played` random rows */
function userQueries(rows: number, f: number, queries: number, seed: number, played = 5, scale = 1) {
  const Q = randomMatrix(queries, f, seed, scale);
  const random = seededRandom(seed + 1);
  const lists = Array.from({ length: queries }, () =>
    Array.from({ length: played }, () => Math.floor(random() * rows)),
  );
  return { Q, lists };
}

/** rows around 20 centres at norms from 0.05 to 3 (many close scores), as a trained model has them */
function clustered(rows: number, f: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const centres = randomMatrix(20, f, seed + 1);
  const Y = new Float32Array(rows * f);
  for (let j = 0; j < rows; j++) {
    const centre = j % 20;
    const scale = 0.05 + 3 * random() ** 3;
    for (let a = 0; a < f; a++) Y[j * f + a] = scale * (centres[centre * f + a] + 0.05 * (random() - 0.5));
  }
  return Y;
}

const ROWS = 5003;

describe('dotBlock: the answers of scoresBlock and selectBlock (inner products), number for number', () => {
  for (const f of [1, 3, 16, 40, 64, 70]) {
    it(`random factors, f = ${f}, blocks of 1, 6 and 16 queries, k of 1, 10 and 40`, () => {
      const Y = randomMatrix(ROWS, f, 100 + f);
      for (const queries of [1, 6, 16]) {
        for (const k of [1, 10, 40]) {
          const { Q, lists } = userQueries(ROWS, f, queries, f + queries);
          check(`f ${f}, ${queries} queries, k ${k}`, { Y, rows: ROWS, f, Q, queries, k, lists });
        }
      }
    });
  }

  it('blocks of 37 and 64 queries: split into groups of queries (the last group short), f = 64 and 70', () => {
    // a block of at least 8 queries a thread goes in groups of queries, both passes in one
    // chunk; fewer go split by rows (the tests above): the same answer either way
    for (const f of [64, 70]) {
      const Y = clustered(ROWS, f, 300 + f);
      for (const queries of [37, 64]) {
        const { Q, lists } = userQueries(ROWS, f, queries, f + queries, 8);
        check(`f ${f}, ${queries} queries`, { Y, rows: ROWS, f, Q, queries, k: 10, lists });
      }
    }
  });

  it('clustered factors, queries among the rows and queries of other sizes', () => {
    const f = 64;
    const Y = clustered(ROWS, f, 5);
    const { lists } = userQueries(ROWS, f, 16, 6, 40);
    const Q = new Float32Array(16 * f);
    for (let q = 0; q < 16; q++)
      for (let a = 0; a < f; a++) Q[q * f + a] = Y[((q * 311) % ROWS) * f + a] * (q + 1) * 0.3;
    for (const k of [1, 10, 100]) check(`clustered, k ${k}`, { Y, rows: ROWS, f, Q, queries: 16, k, lists });
  });

  it('many rows of tiny norm: scores crowd near 0, where the smallest is', () => {
    const f = 32;
    const Y = randomMatrix(ROWS, f, 14);
    for (let j = 0; j < ROWS; j++) {
      const scale = j % 10 === 0 ? 1 : 1e-3 * (1 + (j % 7));
      for (let a = 0; a < f; a++) Y[j * f + a] *= scale;
    }
    const { Q, lists } = userQueries(ROWS, f, 8, 15);
    check('tiny norms', { Y, rows: ROWS, f, Q, queries: 8, k: 10, lists });
  });

  it('ties: equal rows, rows equal up to scale, coarse values', () => {
    const f = 32;
    const Y = Float32Array.from(randomMatrix(ROWS, f, 7), (v) => Math.round(v * 4) / 4);
    // rows 100..199 copies of row 0 and rows 200..299 of row 1 at other scales
    for (let j = 100; j < 200; j++) Y.copyWithin(j * f, 0, f);
    for (let j = 200; j < 300; j++) for (let a = 0; a < f; a++) Y[j * f + a] = Y[f + a] * (j - 199);
    const Q = new Float32Array(16 * f);
    for (let q = 0; q < 16; q++) Q.set(Y.subarray(q * f, q * f + f), q * f);
    const lists = Array.from({ length: 16 }, (_, q) => (q % 2 ? [] : [q]));
    for (const k of [1, 10, 150]) check(`ties, k ${k}`, { Y, rows: ROWS, f, Q, queries: 16, k, lists });
  });

  it('every row equal: every row is open, and the whole row is scored exactly', () => {
    const f = 16;
    const Y = new Float32Array(ROWS * f);
    for (let j = 0; j < ROWS; j++) Y.set(randomMatrix(1, f, 3), j * f);
    const { Q, lists } = userQueries(ROWS, f, 5, 4);
    check('equal rows', { Y, rows: ROWS, f, Q, queries: 5, k: 10, lists });
  });

  it('zero rows and a zero query score 0', () => {
    const f = 24;
    const Y = randomMatrix(ROWS, f, 8);
    for (let j = 0; j < ROWS; j += 3) Y.fill(0, j * f, j * f + f);
    const { Q, lists } = userQueries(ROWS, f, 6, 9);
    Q.fill(0, 2 * f, 3 * f);
    check('zero rows', { Y, rows: ROWS, f, Q, queries: 6, k: 10, lists });
  });

  it('huge and tiny norms (some beyond float32: infinite, NaN and 0 scores) are scored exactly', () => {
    const f = 20;
    const Y = randomMatrix(ROWS, f, 9);
    const scales = [1e-20, 1e-35, 1e-42, 1e15, 1e18, 1e30, 3e38];
    for (let j = 0; j < ROWS; j++) {
      if (j % 5 !== 0) continue;
      const scale = scales[(j / 5) % scales.length];
      for (let a = 0; a < f; a++) Y[j * f + a] *= scale;
    }
    for (const queryScale of [1, 1e-25, 1e25]) {
      const { Q, lists } = userQueries(ROWS, f, 8, 10, 3, queryScale);
      check(`queries of scale ${queryScale}`, { Y, rows: ROWS, f, Q, queries: 8, k: 10, lists });
    }
  });

  it('exclusions: none, the best, all but one, all, and rows out of range; k beyond the rows', () => {
    const f = 64;
    const Y = randomMatrix(ROWS, f, 10);
    const { Q } = userQueries(ROWS, f, 6, 11);
    const everything = Array.from({ length: ROWS }, (_, j) => j);
    const ranked = (q: number) => {
      const score = (j: number) => {
        let dot = 0;
        for (let a = 0; a < f; a++) dot += Y[j * f + a] * Q[q * f + a];
        return dot;
      };
      return everything.slice().sort((a, b) => score(b) - score(a));
    };
    const lists = [
      everything.filter((j) => j % 3 === 0),
      ranked(1).slice(0, 30),
      [...ranked(2).slice(0, 30), ...ranked(2).slice(-30)],
      everything.slice(1),
      everything,
      [ROWS + 3, -1, 2],
    ];
    for (const k of [1, 10, ROWS + 5]) check(`exclusions, k ${k}`, { Y, rows: ROWS, f, Q, queries: 6, k, lists });
  });

  it('k of 0 finds nothing', () => {
    const f = 16;
    const Y = randomMatrix(300, f, 16);
    const { Q, lists } = userQueries(300, f, 4, 17);
    check('k 0', { Y, rows: 300, f, Q, queries: 4, k: 0, lists });
  });

  it('few rows (fewer than k, fewer than four)', () => {
    for (const rows of [1, 2, 3, 5, 9]) {
      const f = 8;
      const Y = randomMatrix(rows, f, rows);
      const { Q, lists } = userQueries(rows, f, 4, rows + 20, 1);
      check(`${rows} rows`, { Y, rows, f, Q, queries: 4, k: 10, lists });
    }
  });

  it('the reference kernels answer as their scoresBlock and selectBlock', () => {
    const f = 12;
    const Y = randomMatrix(300, f, 11);
    const { Q, lists } = userQueries(300, f, 4, 12);
    const c = { Y, rows: 300, f, Q, queries: 4, k: 5, lists };
    assert.deepEqual(quantized(jsKernels, c), exact(jsKernels, c));
  });
});

describe('the inner-product quantization bound', () => {
  it('holds for every row and query: |computed xᵀy − approximate| ≤ α · error + β · weight', () => {
    const wasm = blockKernels.get(`${builds[0]}/1`)!;
    const f = 64;
    const rows = 2000;
    const Y = clustered(rows, f, 12);
    const product = quantizeProductRows(wasm, Y, rows, f);
    const codes = new Int8Array(product.codes.buffer, product.codes.byteOffset, product.codes.length);
    const X = randomMatrix(20, f, 13, 2);
    const scores = new Float32Array(rows);
    for (let q = 0; q < 20; q++) {
      const x = X.subarray(q * f, q * f + f);
      // the query as the kernel codes it: 63 levels each side
      const largest = Math.max(...Array.from(x, Math.abs));
      const scale = Math.fround(largest / 63);
      const d = Array.from(x, (v) => Math.max(-63, Math.min(63, Math.round(v / scale))));
      const queryError = Math.hypot(...Array.from(x, (v, a) => v - scale * d[a]));
      const [alpha, beta] = productBounds(Math.hypot(...x), queryError, f);
      wasm.scores(Y, rows, f, x, 0, scores);
      for (let j = 0; j < rows; j++) {
        let codeDot = 0;
        // four rows interleaved, 4 bytes of each in turn
        const base = (j >> 2) * 4 * product.stride + 4 * (j & 3);
        for (let a = 0; a < f; a++) codeDot += codes[base + 16 * (a >> 2) + (a & 3)] * d[a];
        const approximate = product.scales[j] * scale * codeDot;
        const bound = alpha * product.errors[j] + beta * product.weights[j];
        assert.ok(Math.abs(scores[j] - approximate) <= bound, `row ${j}, query ${q}`);
      }
    }
  });
});
