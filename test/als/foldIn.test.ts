import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Matrix, solve } from 'ml-matrix';
import { foldIn, foldInUserRow, itemGramian } from '../../src/als/foldIn.js';
import { resolveTrainOptions, type TrainOptions } from '../../src/als/options.js';
import { train, trainFactors } from '../../src/als/train.js';
import { confidences } from '../../src/als/weighting.js';
import { readInteractions } from '../../src/data/read.js';
import { columnCounts, type CsrMatrix } from '../../src/data/sparse.js';
import { jsKernels } from '../../src/kernels/index.js';
import type { AlsModel } from '../../src/model/model.js';
import { randomPlays, relativeError, SAMPLE } from '../helpers.js';

function modelOf(
  plays: CsrMatrix,
  options: TrainOptions,
  factors: { userFactors: Float32Array; itemFactors: Float32Array },
): AlsModel {
  return {
    users: plays.rows,
    items: plays.cols,
    factors: options.factors,
    userFactors: factors.userFactors,
    itemFactors: factors.itemFactors,
    userIds: Array.from({ length: plays.rows }, (_, u) => `u${u}`),
    itemNames: Array.from({ length: plays.cols }, (_, i) => `i${i}`),
    userItems: plays,
    itemUserCounts: columnCounts(plays),
    options,
    input: null,
    losses: null,
  };
}

/**
 * The reference, built independently of foldIn: confidences of the whole matrix as training
 * computes them, then x = (YᵀY + λI + Σⱼ (cⱼ − 1) yⱼyⱼᵀ)⁻¹ Σⱼ cⱼyⱼ by ml-matrix (dense products, LU).
 */
function referenceSolve(model: AlsModel, users: number[]): number[][] {
  const { factors: f, items, itemFactors, options, userItems: m } = model;
  const c = confidences(m, options);
  const Y = new Matrix(items, f);
  for (let i = 0; i < items; i++) for (let a = 0; a < f; a++) Y.set(i, a, itemFactors[i * f + a]);
  const gram = Y.transpose().mmul(Y).add(Matrix.eye(f, f).mul(options.regularization));
  return users.map((u) => {
    const A = gram.clone();
    const b = Matrix.zeros(f, 1);
    for (let n = m.indptr[u]; n < m.indptr[u + 1]; n++) {
      const y = Y.getRowVector(m.indices[n]);
      A.add(
        y
          .transpose()
          .mmul(y)
          .mul(c[n] - 1),
      );
      b.add(y.transpose().mul(c[n]));
    }
    return solve(A, b).getColumn(0);
  });
}

describe('fold-in', () => {
  for (const weighting of ['linear', 'log', 'bm25'] as const) {
    it(`of a user's own rows equals an exact solve against the final item factors (random, ${weighting})`, async () => {
      const plays = randomPlays(60, 40, 0.15, 3);
      const options = resolveTrainOptions({ factors: 6, iterations: 5, threads: 1, weighting, regularization: 0.5 });
      const model = modelOf(plays, options, await trainFactors(plays, options));
      const users = Array.from({ length: 60 }, (_, u) => u);
      const expected = referenceSolve(model, users);
      for (const u of users) {
        const { x } = foldInUserRow(model, u);
        assert.ok(relativeError(x, expected[u]) < 1e-4, `user ${u}: relative error ${relativeError(x, expected[u])}`);
      }
    });
  }

  it('with the naive solver equals one more exact user half-step after training (the item step is last)', async () => {
    const plays = randomPlays(50, 30, 0.2, 8);
    const options = resolveTrainOptions({ factors: 5, iterations: 4, threads: 1, solver: 'naive', weighting: 'log' });
    const factors = await trainFactors(plays, options);
    const model = modelOf(plays, options, factors);
    // training's last half-step moved the items, so its stored users are one step behind ...
    const stored = factors.userFactors;
    // ... and a user half-step against the final items is exactly what fold-in computes
    const X = new Float32Array(stored.length);
    const YtY = new Float64Array(25);
    jsKernels.gramian(factors.itemFactors, 30, 5, options.regularization, YtY);
    const confidence = confidences(plays, options);
    jsKernels.exactUpdate(
      { X, Y: factors.itemFactors, factors: 5, indptr: plays.indptr, indices: plays.indices, confidence, YtY },
      0,
      50,
    );
    let storedDiff = 0;
    for (let u = 0; u < 50; u++) {
      const { x } = foldInUserRow(model, u);
      const row = X.subarray(u * 5, u * 5 + 5);
      assert.ok(relativeError(x, row) < 1e-5, `user ${u}: ${relativeError(x, row)}`);
      storedDiff = Math.max(storedDiff, relativeError(x, stored.subarray(u * 5, u * 5 + 5)));
    }
    assert.ok(storedDiff > 1e-5, 'the stored vectors lag one item step behind');
  });

  it('solves a user with no plays to zero, and a new list of plays like a trained row', async () => {
    const plays = randomPlays(30, 20, 0.2, 4);
    const options = resolveTrainOptions({ factors: 4, iterations: 3, threads: 1 });
    const model = modelOf(plays, options, await trainFactors(plays, options));
    assert.deepEqual(
      Array.from(foldIn(model, { items: new Int32Array(0), plays: new Float32Array(0) }).x),
      [0, 0, 0, 0],
    );
    const u = 7;
    const { indptr, indices, data } = plays;
    const copy = foldIn(model, {
      items: indices.slice(indptr[u], indptr[u + 1]),
      plays: data.slice(indptr[u], indptr[u + 1]),
    });
    assert.deepEqual(copy.x, foldInUserRow(model, u).x);
  });

  it('caches YᵀY per item-factor array', async () => {
    const plays = randomPlays(10, 8, 0.3, 5);
    const options = resolveTrainOptions({ factors: 3, iterations: 1, threads: 1 });
    const model = modelOf(plays, options, await trainFactors(plays, options));
    assert.equal(itemGramian(model), itemGramian(model));
  });

  describe('on a model trained on the sample', () => {
    let model: AlsModel;
    before(async () => {
      model = await train(await readInteractions(SAMPLE), { threads: 1 });
    });

    it('equals the exact solve for users of the sample (log and bm25 weighting)', async () => {
      const users = [0, 1, 17, 500, 1891];
      const expected = referenceSolve(model, users);
      users.forEach((u, k) => {
        const { x } = foldInUserRow(model, u);
        assert.ok(relativeError(x, expected[k]) < 1e-4, `user ${u}: relative error ${relativeError(x, expected[k])}`);
      });
      const bm25 = await train(await readInteractions(SAMPLE), { threads: 1, weighting: 'bm25', iterations: 3 });
      const expectedBm25 = referenceSolve(bm25, users);
      users.forEach((u, k) => {
        const { x } = foldInUserRow(bm25, u);
        assert.ok(
          relativeError(x, expectedBm25[k]) < 1e-4,
          `bm25 user ${u}: relative error ${relativeError(x, expectedBm25[k])}`,
        );
      });
    });
  });
});
