import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveTrainOptions } from '../../src/als/options.js';
import { columnCounts, cooToCsr } from '../../src/data/sparse.js';
import { AlsError } from '../../src/errors.js';
import type { AlsModel } from '../../src/model/model.js';
import { closestNames, editDistance, findItem, findUser } from '../../src/query/lookup.js';
import { mostPlayed, recommendForRow } from '../../src/query/recommend.js';
import { minMaxScale, scoreRange } from '../../src/query/scale.js';
import { similarToRow } from '../../src/query/similar.js';
import { topK } from '../../src/query/topk.js';
import { randomMatrix } from '../helpers.js';

describe('top-k', () => {
  it('agrees with a full sort, ties to the lower index, skipping what is masked', () => {
    const scores = Float32Array.from(randomMatrix(500, 1, 3).map((v) => Math.round(v * 20) / 20));
    const skip = new Uint8Array(500);
    for (let i = 0; i < 500; i += 7) skip[i] = 1;
    const expected = Array.from(scores.keys())
      .filter((i) => !skip[i])
      .sort((a, b) => scores[b] - scores[a] || a - b)
      .slice(0, 25);
    assert.deepEqual(Array.from(topK(scores, 25, skip)), expected);
  });

  it('returns fewer when there are fewer candidates', () => {
    assert.deepEqual(Array.from(topK(Float32Array.from([1, 3, 2]), 10)), [1, 2, 0]);
    assert.deepEqual(Array.from(topK(Float32Array.from([1, 3]), 0)), []);
  });
});

describe('min-max scaling', () => {
  it('maps the candidates onto 0..1', () => {
    const scores = Float32Array.from([2, -1, 5, 100]);
    const skip = Uint8Array.from([0, 0, 0, 1]);
    const range = scoreRange(scores, skip);
    assert.deepEqual(range, { min: -1, max: 5 });
    assert.equal(minMaxScale(5, range), 1);
    assert.equal(minMaxScale(-1, range), 0);
    assert.equal(minMaxScale(2, range), 0.5);
    assert.equal(minMaxScale(3, { min: 3, max: 3 }), 1);
  });
});

describe('lookup', () => {
  const names = ['Jay-Z', 'Kanye West', 'Radiohead', 'Jay-Z & Coldplay', 'Muse', 'Jazz Band'];

  it('finds items case-insensitively', () => {
    assert.equal(findItem(names, 'jay-z'), 0);
    assert.equal(findItem(names, 'RADIOHEAD'), 2);
  });

  it('suggests close names when there is no match', () => {
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.deepEqual(closestNames(names, 'radiohed'), ['Radiohead']);
    assert.ok(closestNames(names, 'jay z').includes('Jay-Z'));
    assert.throws(
      () => findItem(names, 'radiohed'),
      (e: unknown) => e instanceof AlsError && e.code === 'not-found' && /did you mean "Radiohead"\?/.test(e.message),
    );
  });

  it('finds users by id only, never by row number (issue 9 class 10)', () => {
    const ids = ['user2', 'user3', '7'];
    assert.equal(findUser(ids, 'user3'), 1);
    assert.equal(findUser(ids, '7'), 2);
    // issue 9 class 10: a number that is no id is not found, never the user in that row
    assert.throws(
      () => findUser(ids, '1'),
      (e: unknown) => e instanceof AlsError && e.code === 'not-found',
    );
    assert.throws(
      () => findUser(ids, '3'),
      (e: unknown) => e instanceof AlsError && e.code === 'not-found',
    );
    assert.throws(() => findUser(ids, 'user9'), /no user "user9"/);
  });
});

/** Items 0 and 1 point the same way, 2 a little off, 3 the other way; one user. */
function tinyModel(): AlsModel {
  const itemFactors = Float32Array.from([1, 0, 2, 0, 1, 0.5, -1, 0.2]);
  const userItems = cooToCsr(1, 4, Int32Array.from([0]), Int32Array.from([1]), Float32Array.from([9]), 1).matrix;
  return {
    users: 1,
    items: 4,
    factors: 2,
    userFactors: Float32Array.from([1, 0]),
    itemFactors,
    userIds: ['u'],
    itemNames: ['a', 'b', 'c', 'd'],
    userItems,
    itemUserCounts: columnCounts(userItems),
    options: resolveTrainOptions({ factors: 2 }),
    input: null,
    losses: null,
  };
}

describe('similar and recommend', () => {
  it('ranks by cosine, leaves the item out, scales 0..1', () => {
    const similar = similarToRow(tinyModel(), 0, { count: 10, minItemUsers: 1 });
    assert.deepEqual(
      similar.map((s) => s.name),
      ['b', 'c', 'd'],
    );
    assert.equal(similar[0].score, 1);
    assert.equal(similar[2].score, 0);
    assert.ok(Math.abs(similar[1].raw - 1 / Math.sqrt(1.25)) < 1e-6);
  });

  it('recommends by xᵀy, leaving out what was played unless asked', () => {
    const model = tinyModel();
    assert.deepEqual(
      recommendForRow(model, 0).map((r) => r.name),
      ['a', 'c', 'd'],
    );
    const all = recommendForRow(model, 0, { includePlayed: true, count: 2 });
    assert.deepEqual(
      all.map((r) => [r.name, r.score]),
      [
        ['b', 1],
        ['a', 2 / 3],
      ],
    );
    assert.deepEqual(mostPlayed(model, 0), [{ name: 'b', plays: 9 }]);
  });
});
