import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { train } from '../../src/als/train.js';
import { readInteractions } from '../../src/data/read.js';
import {
  createWasmKernels,
  jsKernels,
  kernelBuildAvailable,
  type BlockSelection,
  type Kernels,
} from '../../src/kernels/index.js';
import type { AlsModel } from '../../src/model/model.js';
import { recommendForRow } from '../../src/query/recommend.js';
import { writeAllRecommendations } from '../../src/query/recommendAll.js';
import { QUERY_BLOCK } from '../../src/query/allBlocks.js';
import { scoreRange } from '../../src/query/scale.js';
import { similarToRow } from '../../src/query/similar.js';
import { writeAllSimilar } from '../../src/query/similarAll.js';
import { randomMatrix, relativeError, ROOT, SAMPLE, tempDir } from '../helpers.js';

const wasm1 = await createWasmKernels(1);
const wasm2 = await createWasmKernels(2);
after(() => {
  wasm1.dispose();
  wasm2.dispose();
});

// more rows than one chunk of the threaded kernel (4096), and a multiple of nothing useful
const ROWS = 9001;

/** scores(Y, ·, Q row) for each query row, one at a time */
function oneByOne(
  kernels: Kernels,
  Y: Float32Array,
  f: number,
  Q: Float32Array,
  first: number,
  queries: number,
): Float32Array {
  const out = new Float32Array(queries * ROWS);
  const row = new Float32Array(ROWS);
  for (let q = 0; q < queries; q++) {
    kernels.scores(Y, ROWS, f, Q, (first + q) * f, row);
    out.set(row, q * ROWS);
  }
  return out;
}

// 32 and 64: rows two at a time against four queries (scoreTile), 6 queries leaving two for dot
for (const f of [1, 3, 8, 13, 32, 64]) {
  describe(`scoresBlock (f=${f})`, () => {
    const Y = randomMatrix(ROWS, f, f);
    const Q = randomMatrix(40, f, f + 1);

    for (const queries of [1, 3, 6, QUERY_BLOCK]) {
      it(`${queries} quer${queries === 1 ? 'y' : 'ies'}: the numbers of scores, bit for bit, for 1 and 2 threads`, () => {
        const first = 5;
        for (const kernels of [jsKernels, wasm1, wasm2]) {
          const expected = oneByOne(kernels === wasm2 ? wasm1 : kernels, Y, f, Q, first, queries);
          const out = new Float32Array(queries * ROWS);
          kernels.scoresBlock(Y, ROWS, f, Q, first, queries, out);
          assert.deepEqual(out, expected, kernels.name);
        }
        // in kernel memory, no copies
        const resident = wasm2.float32(queries * ROWS);
        const residentY = wasm2.float32(ROWS * f);
        residentY.set(Y);
        wasm2.scoresBlock(residentY, ROWS, f, Q, first, queries, resident);
        assert.deepEqual(resident, oneByOne(wasm1, Y, f, Q, first, queries));
      });
    }

    it('WebAssembly and the reference agree (relative 1e-5)', () => {
      const reference = new Float32Array(QUERY_BLOCK * ROWS);
      const fast = new Float32Array(QUERY_BLOCK * ROWS);
      jsKernels.scoresBlock(Y, ROWS, f, Q, 0, QUERY_BLOCK, reference);
      wasm2.scoresBlock(Y, ROWS, f, Q, 0, QUERY_BLOCK, fast);
      assert.ok(relativeError(fast, reference) < 1e-5, String(relativeError(fast, reference)));
    });
  });
}

describe('selectBlock', () => {
  const queries = 5;
  const rows = 3001;
  const k = 7;
  // coarse values: many ties, which go to the lower index
  const scores = Float32Array.from(randomMatrix(queries, rows, 9), (v) => Math.round(v * 20) / 20);
  scores[2 * rows + 17] = Number.NaN;
  // row 0 leaves out nothing; row 1 its best few; row 3 an index out of range (ignored); row 4 all but one
  const lists = [[], [], [], [rows + 5, -1, 2], []] as number[][];
  const order = Array.from({ length: rows }, (_, j) => j).sort((a, b) => scores[rows + b] - scores[rows + a] || a - b);
  lists[1] = order.slice(0, 4);
  lists[4] = Array.from({ length: rows - 1 }, (_, j) => j + 1);
  const excludeStart = new Int32Array(queries + 1);
  for (let q = 0; q < queries; q++) excludeStart[q + 1] = excludeStart[q] + lists[q].length;
  const exclude = Int32Array.from(lists.flat());
  const norms = Float32Array.from(randomMatrix(rows, 1, 10), Math.abs);
  norms[3] = 0;
  const queryNorms = Float32Array.from([0.5, 2, 0, 1, 3]);

  function select(kernels: Kernels, cosine: boolean, count = k): Omit<BlockSelection, 'excludeStart' | 'exclude'> {
    const selection = {
      scores: scores.slice(),
      rows,
      queries,
      k: count,
      excludeStart,
      exclude,
      ...(cosine ? { norms, queryNorms } : {}),
      best: new Int32Array(queries * count),
      found: new Int32Array(queries),
      range: new Float32Array(2 * queries),
    };
    kernels.selectBlock(selection);
    return selection;
  }

  /** what a single query does: cosine in JS, scoreRange and topK with a skip mask */
  function expected(q: number, cosine: boolean, count = k) {
    const row = scores.slice(q * rows, (q + 1) * rows);
    if (cosine) {
      for (let j = 0; j < rows; j++) {
        const denominator = queryNorms[q] * norms[j];
        row[j] = Math.fround(denominator > 0 ? row[j] / denominator : 0);
      }
    }
    const skip = new Uint8Array(rows);
    for (const i of lists[q]) if (i >= 0 && i < rows) skip[i] = 1;
    return { row, best: Array.from(wasm1.topK(row, count, skip)), range: scoreRange(row, skip) };
  }

  for (const cosine of [false, true]) {
    it(`gives each row's topK and scoreRange${cosine ? ' after the cosine step' : ''}, the same from every kernel`, () => {
      for (const kernels of [jsKernels, wasm1, wasm2]) {
        const got = select(kernels, cosine);
        for (let q = 0; q < queries; q++) {
          const want = expected(q, cosine);
          assert.deepEqual(
            Array.from(got.best.subarray(q * k, q * k + got.found[q])),
            want.best,
            `${kernels.name} row ${q}`,
          );
          assert.deepEqual(
            [got.range[2 * q], got.range[2 * q + 1]],
            [want.range.min, want.range.max],
            `${kernels.name} row ${q}`,
          );
          if (cosine) assert.deepEqual(got.scores.subarray(q * rows, (q + 1) * rows), want.row);
        }
        assert.equal(got.found[4], 1);
        assert.equal(got.best[4 * k], 0);
      }
    });
  }

  it('handles k = 0 and k above the candidates', () => {
    for (const kernels of [jsKernels, wasm2]) {
      assert.deepEqual(Array.from(select(kernels, false, 0).found), [0, 0, 0, 0, 0]);
      const all = select(kernels, false, rows + 3);
      assert.deepEqual(Array.from(all.found), [rows, rows - 4, rows - 1, rows - 1, 1]);
      assert.deepEqual(Array.from(all.best.subarray(0, rows)), expected(0, false, rows).best);
    }
  });
});

describe('--all against single queries (sample)', () => {
  const work = tempDir('als-block-');
  let model: AlsModel;
  before(async () => {
    model = await train(await readInteractions(SAMPLE), { factors: 13, iterations: 3 });
  });
  const read = (path: string) => readFileSync(path, 'utf8').trimEnd().split('\n');

  it("writeAllRecommendations: recommendForRow's lines, played items included or not, on 1 and 2 threads", async () => {
    for (const includePlayed of [false, true]) {
      const expected = Array.from({ length: model.users }, (_, user) =>
        recommendForRow(model, user, { includePlayed, count: 4 }).map(
          (r) => `${model.userIds[user]}\t${r.name}\t${r.score.toFixed(6)}`,
        ),
      ).flat();
      for (const kernels of [wasm1, wasm2, undefined]) {
        const path = join(work, `recs-${includePlayed}-${kernels?.threads}.tsv`);
        assert.equal(await writeAllRecommendations(model, path, { includePlayed, count: 4, kernels }), expected.length);
        assert.deepEqual(read(path), expected);
      }
    }
  });

  it("writeAllSimilar: similarToRow's lines, with and without the listener filter, on 1 and 2 threads", async () => {
    // lists of 5 through the candidates' pairs (kept with the kernels), then of 20, longer than
    // the pairs answer: each query scores every candidate
    for (const count of [5, 20]) {
      for (const minItemUsers of [1, 3]) {
        const expected = model.itemNames.flatMap((name, item) =>
          similarToRow(model, item, { minItemUsers, count }).map((s) => `${name}\t${s.name}\t${s.score.toFixed(6)}`),
        );
        for (const kernels of [wasm1, wasm2, undefined]) {
          const path = join(work, `similar-${minItemUsers}-${kernels?.threads}.tsv`);
          assert.equal((await writeAllSimilar(model, path, { minItemUsers, count, kernels })).lines, expected.length);
          assert.deepEqual(read(path), expected);
        }
      }
    }
  });
});

describe('the two kernel builds (fma: relaxed SIMD, simd128: plain)', () => {
  it('chooses fma where the engine compiles relaxed SIMD (Node 20 behind its flag, set by kernelBuild), simd128 when ALS_KERNELS=simd128', () => {
    const probe = "import('./dist/src/kernels/index.js').then((k) => process.stdout.write(k.kernelBuild()))";
    const run = (env: NodeJS.ProcessEnv) =>
      execFileSync(process.execPath, ['-e', probe], {
        cwd: ROOT,
        env,
        encoding: 'utf8',
      });
    assert.equal(run({ ...process.env, ALS_KERNELS: 'simd128' }), 'simd128');
    const best = run({ ...process.env, ALS_KERNELS: '' });
    // CI runs on this Node 20 with an x86 CPU: the faster build must be the one in use there
    if (process.env.CI === 'true') assert.equal(best, 'fma');
    assert.equal(best, kernelBuildAvailable('fma') ? 'fma' : 'simd128');
  });

  for (const f of [13, 64]) {
    it(`score the same within float rounding (f=${f}); each build's scoresBlock is its scores bit for bit, on 1 and 2 threads`, async (t) => {
      if (!kernelBuildAvailable('fma')) return t.skip('this version of Node.js does not compile relaxed SIMD');
      const Y = randomMatrix(ROWS, f, 3);
      const Q = randomMatrix(8, f, 4);
      const blocks: Record<string, Float32Array> = {};
      for (const build of ['fma', 'simd128'] as const) {
        for (const threads of [1, 2]) {
          const kernels = await createWasmKernels(threads, { build });
          try {
            const out = new Float32Array(8 * ROWS);
            kernels.scoresBlock(Y, ROWS, f, Q, 0, 8, out);
            const row = new Float32Array(ROWS);
            for (let q = 0; q < 8; q++) {
              kernels.scores(Y, ROWS, f, Q, q * f, row);
              assert.deepEqual(out.subarray(q * ROWS, (q + 1) * ROWS), row, `${build}, ${threads} threads, query ${q}`);
            }
            if (threads === 2) assert.deepEqual(out, blocks[build], `${build}: 2 threads as 1`);
            blocks[build] = out;
          } finally {
            kernels.dispose();
          }
        }
      }
      const reference = new Float32Array(8 * ROWS);
      jsKernels.scoresBlock(Y, ROWS, f, Q, 0, 8, reference);
      for (const build of ['fma', 'simd128'])
        assert.ok(
          relativeError(blocks[build], reference) < 1e-5,
          `${build}: ${relativeError(blocks[build], reference)}`,
        );
      if (f === 64)
        assert.notDeepEqual(blocks.fma, blocks.simd128, 'the fused build rounds once: some last bits differ');
    });
  }
});
