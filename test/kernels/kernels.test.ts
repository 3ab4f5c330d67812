import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { resolveTrainOptions } from '../../src/als/options.js';
import { trainFactors } from '../../src/als/train.js';
import { confidences } from '../../src/als/weighting.js';
import { transpose } from '../../src/data/sparse.js';
import {
  createWasmKernels,
  jsKernels,
  kernelBuildAvailable,
  kernelCopy,
  type HalfStep,
  type Kernels,
  type WasmKernelOptions,
} from '../../src/kernels/index.js';
import { randomMatrix, randomPlays, relativeError } from '../helpers.js';

const wasm1 = await createWasmKernels(1);
const wasm2 = await createWasmKernels(2);
after(() => {
  wasm1.dispose();
  wasm2.dispose();
});

/** A half-step's inputs copied into arrays that `kernels` work on. */
function stepFor(kernels: Kernels, seed: number, f: number, lambda: number): HalfStep {
  const users = 300;
  const items = 90;
  const plays = randomPlays(users, items, 0.12, seed);
  const copy = <T extends Float32Array | Int32Array>(array: T): T => kernelCopy(kernels, array);
  const Y = copy(randomMatrix(items, f, seed + 1));
  const YtY = new Float64Array(f * f);
  jsKernels.gramian(Y, items, f, lambda, YtY);
  return {
    X: copy(randomMatrix(users, f, seed + 2, 0.05)),
    Y,
    factors: f,
    indptr: copy(plays.indptr),
    indices: copy(plays.indices),
    confidence: copy(confidences(plays, { weighting: 'log', alpha: 4, bm25K1: 100, bm25B: 0.8 })),
    YtY,
  };
}

// odd factor counts exercise the scalar tails of the vector loops
for (const f of [1, 3, 8, 13, 32, 64]) {
  describe(`WebAssembly kernels against the reference (f=${f})`, () => {
    it('gramian', () => {
      const Y = wasm2.float32(5000 * f);
      Y.set(randomMatrix(5000, f, f));
      const expected = new Float64Array(f * f);
      const actual = new Float64Array(f * f);
      jsKernels.gramian(Y, 5000, f, 0.25, expected);
      wasm2.gramian(Y, 5000, f, 0.25, actual);
      assert.ok(relativeError(actual, expected) < 1e-5, String(relativeError(actual, expected)));
    });

    for (const [name, run] of [
      ['cgUpdate', (k: Kernels, s: HalfStep) => k.cgUpdate(s, 3, 0, 300)],
      ['exactUpdate', (k: Kernels, s: HalfStep) => k.exactUpdate(s, 0, 300)],
    ] as const) {
      it(`${name} gives the same factors (relative 1e-4)`, () => {
        const reference = stepFor(jsKernels, 7 * f, f, 0.1);
        const fast = stepFor(wasm2, 7 * f, f, 0.1);
        run(jsKernels, reference);
        run(wasm2, fast);
        assert.ok(relativeError(fast.X, reference.X) < 1e-4, String(relativeError(fast.X, reference.X)));
      });
    }

    it('dataLoss', () => {
      const reference = stepFor(jsKernels, 3 * f, f, 0);
      const fast = stepFor(wasm2, 3 * f, f, 0);
      const expected = jsKernels.dataLoss(reference, 0, 300);
      assert.ok(Math.abs(wasm2.dataLoss(fast, 0, 300) - expected) / expected < 1e-5);
    });

    it('scores', () => {
      const Y = randomMatrix(777, f, 5);
      const x = randomMatrix(3, f, 6);
      const expected = new Float32Array(777);
      const actual = new Float32Array(777);
      jsKernels.scores(Y, 777, f, x, f, expected);
      wasm1.scores(Y, 777, f, x, f, actual);
      assert.ok(relativeError(actual, expected) < 1e-5);
    });
  });
}

describe('WebAssembly kernels', () => {
  it('solve a singular system (λ = 0) by least squares, like the reference', () => {
    const make = (k: Kernels) => {
      const s = stepFor(k, 99, 4, 0);
      // one observed item per user and YᵀY of rank 1 when Y has a single non-zero row
      s.Y.fill(0);
      s.Y.set([1, 2, 3, 4], 0);
      jsKernels.gramian(s.Y, 90, 4, 0, s.YtY);
      return s;
    };
    const reference = make(jsKernels);
    const fast = make(wasm1);
    jsKernels.exactUpdate(reference, 0, 300);
    wasm1.exactUpdate(fast, 0, 300);
    assert.ok(fast.X.every(Number.isFinite));
    assert.ok(relativeError(fast.X, reference.X) < 1e-4);
  });

  it('train to the same bytes with 1 and 2 threads in each build (fma and simd128), and close to the reference kernels', async (t) => {
    const plays = randomPlays(400, 250, 0.05, 77);
    const builds = kernelBuildAvailable('fma') ? (['fma', 'simd128'] as const) : (['simd128'] as const);
    if (builds.length === 1)
      t.diagnostic('this version of Node.js does not compile relaxed SIMD: the fma build is not checked');
    for (const solver of ['cg', 'naive'] as const) {
      // settings pinned, not the defaults: float32 and float64 CG drift apart over iterations by an
      // amount that depends on the conditioning, which the defaults may change
      const options = (threads: number) =>
        resolveTrainOptions({
          factors: 12,
          iterations: 4,
          solver,
          threads,
          seed: 3,
          weighting: 'bm25',
          alpha: 1,
          regularization: 0.1,
        });
      const reference = await trainFactors(plays, options(1), {}, 'js');
      const itemFactors: Float32Array[] = [];
      for (const build of builds) {
        const [one, two] = await Promise.all(
          [1, 2].map(async (threads) => {
            const kernels = await createWasmKernels(threads, { build });
            return trainFactors(plays, options(threads), {}, kernels).finally(() => kernels.dispose());
          }),
        );
        const label = `${solver}, ${build}`;
        assert.deepEqual(Buffer.from(two.userFactors.buffer), Buffer.from(one.userFactors.buffer), label);
        assert.deepEqual(Buffer.from(two.itemFactors.buffer), Buffer.from(one.itemFactors.buffer), label);
        assert.ok(
          relativeError(one.itemFactors, reference.itemFactors) < 1e-3,
          `${label}: ${relativeError(one.itemFactors, reference.itemFactors)}`,
        );
        itemFactors.push(one.itemFactors);
      }
      // the builds differ only in rounding (fused or not), so their models stay close
      if (itemFactors.length === 2) {
        const apart = relativeError(itemFactors[0], itemFactors[1]);
        assert.ok(apart < 1e-3, `${solver}: fma against simd128 ${apart}`);
      }
    }
  });

  it('select the same top k as the reference, ties and skips included', () => {
    const scores = Float32Array.from(randomMatrix(3000, 1, 8).map((v) => Math.round(v * 40) / 40));
    scores[17] = Number.NaN;
    const skip = new Uint8Array(3000);
    for (let i = 0; i < 3000; i += 5) skip[i] = 1;
    for (const k of [0, 1, 10, 100, 5000]) {
      assert.deepEqual(Array.from(wasm1.topK(scores, k, skip)), Array.from(jsKernels.topK(scores, k, skip)), `k=${k}`);
      assert.deepEqual(Array.from(wasm1.topK(scores, k)), Array.from(jsKernels.topK(scores, k)), `k=${k}, no skip`);
    }
    const resident = wasm1.float32(3000);
    resident.set(scores);
    const residentSkip = wasm1.uint8(3000);
    residentSkip.set(skip);
    assert.deepEqual(Array.from(wasm1.topK(resident, 25, residentSkip)), Array.from(jsKernels.topK(scores, 25, skip)));
  });

  it('compute row norms like the reference', () => {
    for (const f of [3, 16, 64]) {
      const Y = randomMatrix(500, f, f);
      const expected = new Float32Array(500);
      const actual = new Float32Array(500);
      jsKernels.rowNorms(Y, 500, f, expected);
      wasm1.rowNorms(Y, 500, f, actual);
      assert.ok(relativeError(actual, expected) < 1e-6);
    }
  });

  it('refuse arrays they did not allocate', () => {
    const step = stepFor(jsKernels, 1, 4, 0.1);
    assert.throws(() => wasm1.cgUpdate(step, 3, 0, 10), /not allocated by these kernels/);
  });
});

describe('CG gathering the Y rows of a row first', () => {
  // rows of very different lengths: empty, short, and one with every column
  const lengths = [0, 1, 2, 7, 30, 129, 400, 3, 250, 60, 131, 5];
  const cols = 400;
  const rows = lengths.length;
  const indptr = new Int32Array(rows + 1);
  const indices: number[] = [];
  for (let u = 0; u < rows; u++) {
    // k → (31k + u) mod 400 is one-to-one: exactly lengths[u] distinct columns, ascending k
    for (let k = 0; k < cols; k++) if ((31 * k + u) % cols < lengths[u]) indices.push((31 * k + u) % cols);
    indptr[u + 1] = indices.length;
  }
  const plays = {
    rows,
    cols,
    indptr,
    indices: Int32Array.from(indices),
    data: Float32Array.from(randomMatrix(indices.length, 1, 5).map((v) => 1 + 40 * (v + 0.5))),
  };
  const items = transpose(plays);

  /** a few ALS iterations (user then item half-steps, CG) on kernels made with `options` */
  const train = async (threads: number, options: WasmKernelOptions, f: number) => {
    const kernels = await createWasmKernels(threads, options);
    try {
      const copy = <T extends Float32Array | Int32Array>(array: T): T => kernelCopy(kernels, array);
      const U = copy(randomMatrix(rows, f, f, 0.1));
      const I = copy(randomMatrix(cols, f, f + 1, 0.1));
      const user: HalfStep = {
        X: U,
        Y: I,
        factors: f,
        indptr: copy(plays.indptr),
        indices: copy(plays.indices),
        confidence: copy(plays.data),
        YtY: new Float64Array(f * f),
      };
      const item: HalfStep = {
        X: I,
        Y: U,
        factors: f,
        indptr: copy(items.indptr),
        indices: copy(items.indices),
        confidence: copy(items.data),
        YtY: new Float64Array(f * f),
      };
      for (let iteration = 0; iteration < 3; iteration++) {
        kernels.gramian(I, cols, f, 0.1, user.YtY);
        kernels.cgUpdate(user, 3, 0, rows);
        kernels.gramian(U, rows, f, 0.1, item.YtY);
        kernels.cgUpdate(item, 3, 0, cols);
      }
      return Buffer.concat([Buffer.from(U.slice().buffer), Buffer.from(I.slice().buffer)]);
    } finally {
      kernels.dispose();
    }
  };

  for (const f of [1, 3, 13, 64]) {
    it(`gives the factors of reading Y in place, bit for bit, whichever rows it gathers (f=${f})`, async () => {
      const direct = await train(1, { gatherUpTo: 0 }, f);
      const variants: [string, WasmKernelOptions][] = [
        ['every row', { gatherFrom: 0 }],
        ['rows up to 100 (longer ones read in place)', { gatherFrom: 0, gatherUpTo: 100 }],
        ['rows of 5 to 200', { gatherFrom: 5, gatherUpTo: 200 }],
        ['the defaults', {}],
      ];
      for (const [name, options] of variants) {
        for (const threads of [1, 2])
          assert.deepEqual(await train(threads, options, f), direct, `${name}, ${threads} threads`);
      }
      assert.deepEqual(await train(2, { gatherUpTo: 0 }, f), direct, 'in place, 2 threads');
    });
  }
});

// transpose is used on kernel arrays too
it('transpose keeps confidences aligned', () => {
  const plays = randomPlays(20, 10, 0.3, 4);
  const t = transpose(plays);
  assert.equal(t.indptr[t.rows], plays.indptr[plays.rows]);
});
