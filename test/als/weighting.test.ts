import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveTrainOptions } from '../../src/als/options.js';
import { confidences, logOnePlus } from '../../src/als/weighting.js';
import { cooToCsr } from '../../src/data/sparse.js';
import { AlsError } from '../../src/errors.js';

// users × items: u0 played i0 (4) and i1 (1); u1 played i1 (9)
const plays = cooToCsr(
  2,
  2,
  Int32Array.from([0, 0, 1]),
  Int32Array.from([0, 1, 1]),
  Float32Array.from([4, 1, 9]),
  3,
).matrix;
const base = { bm25K1: 100, bm25B: 0.8 };

function close(actual: Float32Array, expected: number[]): void {
  assert.equal(actual.length, expected.length);
  expected.forEach((e, n) =>
    assert.ok(Math.abs(actual[n] - e) <= 1e-6 * Math.abs(e), `entry ${n}: ${actual[n]} vs ${e}`),
  );
}

describe('confidence weighting', () => {
  it('linear: c = 1 + α r', () => {
    close(confidences(plays, { ...base, weighting: 'linear', alpha: 40 }), [161, 41, 361]);
  });

  it('log: c = 1 + α ln(1 + r)', () => {
    close(confidences(plays, { ...base, weighting: 'log', alpha: 2 }), [
      1 + 2 * Math.log(5),
      1 + 2 * Math.log(2),
      1 + 2 * Math.log(10),
    ]);
  });

  it('bm25: items are documents, listeners their terms', () => {
    // 3 items so that idf stays positive; item totals 4, 10 and 2 (average 16/3)
    const m = cooToCsr(
      2,
      3,
      Int32Array.from([0, 0, 1, 1]),
      Int32Array.from([0, 1, 1, 2]),
      Float32Array.from([4, 1, 9, 2]),
      4,
    ).matrix;
    const K1 = 100;
    const B = 0.8;
    const average = 16 / 3;
    const idf = Math.log(3) - Math.log1p(2); // both users played 2 items
    const w = (r: number, total: number) => ((r * (K1 + 1)) / (K1 * (1 - B + (B * total) / average) + r)) * idf;
    close(confidences(m, { ...base, weighting: 'bm25', alpha: 3 }), [
      1 + 3 * w(4, 4),
      1 + 3 * w(1, 10),
      1 + 3 * w(9, 10),
      1 + 3 * w(2, 2),
    ]);
  });
});

describe('logOnePlus (log weighting and the defaults rule)', () => {
  it('gives the very number Math.log1p gives: whole counts from its table, and every other value', () => {
    const values = [-0, 0, -1, 1e-40, 0.5, 1, 2, 3, 413, 65535, 65535.5, 65536, 65537, 2 ** 31, 1e30, Infinity, NaN];
    for (let c = 0; c < 70000; c += 7) values.push(c, c + 0.25, Math.fround(c * 1.0000001));
    for (const v of values) assert.ok(Object.is(logOnePlus(v), Math.log1p(v)), `logOnePlus(${v})`);
  });
});

describe('training options', () => {
  it('fill in defaults, α following the weighting', () => {
    const options = resolveTrainOptions({});
    assert.equal(options.factors, 64);
    assert.equal(options.iterations, 15);
    assert.equal(options.cgSteps, 3);
    assert.equal(options.solver, 'cg');
    assert.equal(resolveTrainOptions({ weighting: 'linear' }).alpha, 40);
    assert.equal(resolveTrainOptions({ weighting: 'linear', alpha: 2 }).alpha, 2);
  });

  for (const [bad, pattern] of [
    [{ factors: 0 }, /factors must be a whole number from 1/],
    [{ factors: 2.5 }, /factors must be a whole number/],
    [{ alpha: -1 }, /alpha must be a number from 0 to 1e6, not -1/],
    [{ regularization: Number.NaN }, /lambda must be a number from 0 to 1e6, not NaN/],
    [{ solver: 'sgd' }, /unknown solver "sgd"/],
    [{ weighting: 'tfidf' }, /unknown weighting "tfidf"/],
    [{ iterations: 0 }, /iterations must be/],
    [{ cgSteps: 0 }, /cg-steps must be/],
  ] as const) {
    it(`refuse ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => resolveTrainOptions(bad as never),
        (e: unknown) => e instanceof AlsError && e.code === 'usage' && pattern.test(e.message),
      );
    });
  }
});
