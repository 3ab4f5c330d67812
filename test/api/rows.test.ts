import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { train, type AlsModel } from 'als';
import {
  cooToCsr,
  explainedRecommendations,
  explainUserRow,
  Explainer,
  foldIn,
  foldInConfidences,
  foldInUserRow,
  MetricsAccumulator,
  playsOfRow,
  rankSimilarToRow,
  recommendForRow,
  recommendForVector,
  similarToRow,
  userAuc,
  userIdOfRow,
} from 'als/advanced';
import { AlsError } from '../../src/errors.js';
import { plantedGroups } from '../helpers.js';

/**
 * Issue 15: every exported function that takes a row or an index checks it against the model
 * (or the array it indexes) and throws AlsError, as ml-matrix's checkRowIndex, instead of
 * reading past the end or answering for nothing. 24 users × 40 items.
 */
describe('exported functions range-check their row and index arguments (issue 15)', () => {
  let model: AlsModel;
  before(async () => {
    model = await train(plantedGroups(24, 3), { factors: 4, iterations: 2, threads: 1 });
  });

  const BAD_ROWS = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY];

  function refuses(label: string, call: () => unknown, pattern?: RegExp): void {
    assert.throws(
      call,
      (error: unknown) => {
        assert.ok(error instanceof AlsError, `${label}: ${String(error)} is not an AlsError`);
        if (pattern) assert.match(error.message, pattern, label);
        return true;
      },
      label,
    );
  }

  it('user rows: recommendForRow, foldInUserRow, playsOfRow, explainUserRow, userIdOfRow', () => {
    const calls: [string, (row: number) => unknown][] = [
      ['recommendForRow', (row) => recommendForRow(model, row)],
      ['foldInUserRow', (row) => foldInUserRow(model, row)],
      ['playsOfRow', (row) => playsOfRow(model, row)],
      ['explainUserRow', (row) => explainUserRow(model, row)],
      ['userIdOfRow', (row) => userIdOfRow(model.userIds, row)],
    ];
    for (const [name, call] of calls) {
      refuses(`${name}(24)`, () => call(24), /24/);
      for (const bad of BAD_ROWS) refuses(`${name}(${bad})`, () => call(bad));
      assert.doesNotThrow(() => call(23), name);
    }
  });

  it('item rows: similarToRow, rankSimilarToRow, Explainer.explain and .terms', () => {
    const explainer = new Explainer(model, foldInUserRow(model, 0));
    const calls: [string, (row: number) => unknown][] = [
      ['similarToRow', (row) => similarToRow(model, row)],
      ['rankSimilarToRow', (row) => rankSimilarToRow(model, row)],
      ['Explainer.explain', (row) => explainer.explain(row)],
      ['Explainer.terms', (row) => explainer.terms(row)],
    ];
    for (const [name, call] of calls) {
      refuses(`${name}(40)`, () => call(40), /itemRow must be a row from 0 to 39, not 40/);
      for (const bad of BAD_ROWS) refuses(`${name}(${bad})`, () => call(bad), /itemRow must be a row/);
      assert.doesNotThrow(() => call(39), name);
    }
  });

  it('item rows inside arguments: played, user.items, the folded user, the test set', () => {
    const x = new Float32Array(model.factors);
    refuses('recommendForVector played [40]', () => recommendForVector(model, x, 0, [40]), /played\[0\]/);
    refuses('recommendForVector played [-1]', () => recommendForVector(model, x, 0, [-1]), /played\[0\]/);
    refuses('recommendForVector xOffset 1', () => recommendForVector(model, x, 1, []), /xOffset/);
    const plays = { items: Int32Array.of(3, 40), plays: Float32Array.of(1, 2) };
    refuses('foldIn items [3, 40]', () => foldIn(model, plays), /item row 40/);
    refuses('foldInConfidences items [3, 40]', () => foldInConfidences(model, plays), /item row 40/);
    const folded = foldInUserRow(model, 0);
    const outside = { ...folded, items: Int32Array.of(40), confidence: Float32Array.of(1) };
    refuses('Explainer user.items [40]', () => new Explainer(model, outside), /user\.items\[0\]/);
    refuses('explainedRecommendations played [40]', () => explainedRecommendations(model, folded, {}, [40]));
    refuses('userAuc test {5}', () => userAuc(new Float32Array(5), new Set([5])), /test/);
    refuses('userAuc test {-1}', () => userAuc(new Float32Array(5), new Set([-1])), /test/);
    assert.equal(userAuc(Float32Array.of(0, 1, 2), new Set([2])), 1);
    const metrics = new MetricsAccumulator(2, 5);
    const user = { hits: 0, precision: 0, recall: 0, averagePrecision: 0, ndcg: 0 };
    refuses(
      'MetricsAccumulator.add [0, 5]',
      () => metrics.add(user, [0, 5]),
      /recommended\[1\] must be a row from 0 to 4, not 5/,
    );
    metrics.add(user, [0, 4, 99]);
    assert.equal(metrics.result().coverage, 2 / 5);
  });

  it('cooToCsr refuses triples outside the matrix', () => {
    const one = (r: number, c: number) => () =>
      cooToCsr(2, 3, Int32Array.of(r), Int32Array.of(c), Float32Array.of(1), 1);
    refuses('row 2', one(2, 0), /outside the 2 × 3 matrix/);
    refuses('col 3', one(0, 3), /outside the 2 × 3 matrix/);
    refuses('row −1', one(-1, 0), /outside/);
    assert.equal(one(1, 2)().matrix.indptr[2], 1);
  });
});
