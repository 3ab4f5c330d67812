import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createWasmKernels, createWasmKernelsSync, jsKernels, type Kernels } from '../../src/kernels/index.js';
import { normOrder, prunedTopK, PRUNE_CHUNK, rowLength } from '../../src/query/normOrder.js';
import { recommendForRow } from '../../src/query/recommend.js';
import { writeAllRecommendations } from '../../src/query/recommendAll.js';
import { minMaxScale } from '../../src/query/scale.js';
import { sampleModel } from '../serve/fixtures.js';
import { tempDir } from '../helpers.js';

// issue 13: recommending by pruning in descending item norm (Cauchy–Schwarz), the exact items
const backends: [string, Kernels][] = [
  ['wasm', createWasmKernelsSync()],
  ['js', jsKernels],
];

/** one search: the rows, the query and the items left out */
interface Search {
  Y: Float32Array;
  rows: number;
  f: number;
  x: Float32Array;
  k: number;
  skip: Uint8Array;
}

/** scoring every row, then the best k not skipped, ties to the lower row: the exact path */
function bruteForce(kernels: Kernels, { Y, rows, f, x, k, skip }: Search) {
  const scores = new Float32Array(rows);
  kernels.scores(Y, rows, f, x, 0, scores);
  const order = Array.from({ length: rows }, (_, i) => i)
    .filter((i) => skip[i] !== 1)
    .sort((a, b) => scores[b] - scores[a] || a - b)
    .slice(0, k);
  return { rows: order, scores: order.map((i) => scores[i]) };
}

function pruned(kernels: Kernels, { Y, rows, f, x, k, skip }: Search) {
  const ordered = normOrder(kernels, Y, rows, f);
  const outRows = new Int32Array(k);
  const outScores = new Float32Array(k);
  const found = prunedTopK(
    kernels,
    ordered,
    f,
    x,
    0,
    rowLength(x, 0, f),
    k,
    skip,
    kernels.float32(PRUNE_CHUNK),
    outRows,
    outScores,
  );
  return { rows: Array.from(outRows.subarray(0, found)), scores: Array.from(outScores.subarray(0, found)) };
}

describe('recommending by pruning in descending norm', () => {
  for (const [name, kernels] of backends) {
    it(`${name}: the very rows and float32 scores of scoring every row, on skewed, even, tied and zero rows`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 3000 }),
          fc.integer({ min: 1, max: 9 }),
          fc.integer({ min: 0, max: 12 }),
          fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          fc.constantFrom('skewed', 'even', 'tied'),
          (rows, f, k, seed, shape) => {
            let state = seed;
            const random = () => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32;
            const Y = new Float32Array(rows * f);
            for (let i = 0; i < rows; i++) {
              // skewed: a few long rows (popular items), many short ones; tied: 7 distinct rows repeated
              const source = shape === 'tied' ? i % 7 : i;
              const scale = shape === 'skewed' ? (source % 97 === 0 ? 1 : 0.01 * ((source * 7919) % 13)) : 1;
              for (let j = 0; j < f; j++)
                Y[i * f + j] = shape === 'tied' ? (((source + 1) * (j + 3)) % 5) - 2 : scale * (random() * 2 - 1);
            }
            const x = Float32Array.from({ length: f }, () => random() * 2 - 1);
            const skip = Uint8Array.from({ length: rows }, () => (random() < 0.1 ? 1 : 0));
            const search = { Y, rows, f, x, k, skip };
            assert.deepEqual(pruned(kernels, search), bruteForce(kernels, search));
          },
        ),
        { numRuns: 60 },
      );
    });
  }

  it('stops early on skewed norms, and a user of zeros gets the lowest rows', () => {
    const kernels = backends[0][1];
    const rows = 20000;
    const f = 8;
    const Y = new Float32Array(rows * f);
    for (let i = 0; i < rows; i++) for (let j = 0; j < f; j++) Y[i * f + j] = (i < 50 ? 1 : 1e-3) * Math.sin(i * 7 + j);
    const x = Float32Array.from({ length: f }, (_, j) => Math.cos(j));
    const calls: number[] = [];
    const counting: Kernels = Object.create(kernels, {
      scores: { value: (...args: Parameters<Kernels['scores']>) => (calls.push(args[1]), kernels.scores(...args)) },
    });
    const search = { Y, rows, f, x, k: 10, skip: new Uint8Array(rows) };
    assert.deepEqual(pruned(counting, search), bruteForce(kernels, search));
    assert.equal(calls.length, 1, `one chunk of ${PRUNE_CHUNK} rows proves the top 10, not ${calls.length}`);
    const zero = pruned(kernels, { Y, rows, f, x: new Float32Array(f), k: 3, skip: new Uint8Array(rows) });
    assert.deepEqual(zero.rows, [0, 1, 2]);
  });

  it("writeAllRecommendations pruned: the exact lines' users and items in order, scores scaled from −‖x‖·max‖y‖", async () => {
    const model = await sampleModel();
    const work = tempDir('als-pruned-');
    const lines = async (pruned: boolean, includePlayed: boolean, kernels?: Kernels) => {
      const path = join(work, `${pruned}-${includePlayed}-${kernels?.threads ?? 0}.tsv`);
      await writeAllRecommendations(model, path, { count: 7, pruned, includePlayed, ...(kernels ? { kernels } : {}) });
      return readFileSync(path, 'utf8')
        .split('\n')
        .slice(0, -1)
        .map((line) => line.split('\t'));
    };
    // the same lines with kernels of two threads, the calling thread's or off it
    for (const offThread of [false, true]) {
      const two = await createWasmKernels(2, { offThread });
      try {
        assert.deepEqual(await lines(true, false, two), await lines(true, false));
      } finally {
        two.dispose();
      }
    }
    for (const includePlayed of [false, true]) {
      const exact = await lines(false, includePlayed);
      const fast = await lines(true, includePlayed);
      assert.deepEqual(
        fast.map(([user, item]) => `${user}\t${item}`),
        exact.map(([user, item]) => `${user}\t${item}`),
      );
      // user row 3's scores: its raw scores on the scale from the Cauchy–Schwarz bound
      const { itemFactors: Y, userFactors: X, factors: f, items } = model;
      let longest = 0;
      for (let i = 0; i < items; i++) longest = Math.max(longest, Math.hypot(...Y.subarray(i * f, i * f + f)));
      const raw = recommendForRow(model, 3, { count: 7, includePlayed }).map((r) => r.raw);
      const range = { min: -Math.hypot(...X.subarray(3 * f, 4 * f)) * longest, max: raw[0] };
      const written = fast.filter(([user]) => user === model.userIds[3]).map(([, , score]) => score);
      assert.deepEqual(
        written,
        raw.map((s) => minMaxScale(s, range).toFixed(6)),
      );
    }
  });
});
