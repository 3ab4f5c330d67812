import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { recommendForList, train, tune, updateModel, type AlsModel, type Interactions, type TrainOptions } from 'als';
import { resolveTrainOptions, trainFactors } from 'als/advanced';
import { parseItemList } from '../../src/query/listened.js';
import { MAX_CONFIDENCE } from '../../src/als/weighting.js';
import { cooToCsr } from '../../src/data/sparse.js';
import { AlsError } from '../../src/errors.js';
import { jsKernels, type Kernels } from '../../src/kernels/index.js';
import { randomPlays, isAlsError } from '../helpers.js';
import { exitCodeFor } from '../../src/cli/exitCodes.js';
import { firstBadFactor, MAX_FACTOR } from '../../src/validate.js';

/**
 * Issue 9, class 4: no number can silently poison a model. Options have upper limits, every
 * confidence is checked against what float32 carries (MAX_CONFIDENCE, measured in weighting.ts),
 * and training checks its factors after every iteration.
 */

/** Hand-made interactions: users u0..u{users-1}, items i0..; `counts` as [user, item, count]. */
function interactions(users: number, items: number, counts: [number, number, number][]): Interactions {
  const m = cooToCsr(
    users,
    items,
    Int32Array.from(counts, (c) => c[0]),
    Int32Array.from(counts, (c) => c[1]),
    Float32Array.from(counts, (c) => c[2]),
    counts.length,
  ).matrix;
  return {
    userItems: m,
    userIds: Array.from({ length: users }, (_, u) => `u${u}`),
    itemNames: Array.from({ length: items }, (_, i) => `i${i}`),
    stats: {
      file: 'hand',
      format: 'triples',
      rows: counts.length,
      used: counts.length,
      skipped: 0,
      zeroCounts: 0,
      duplicates: 0,
      header: false,
    } as Interactions['stats'],
  };
}

/** 12 users × 8 items of ordinary counts, user 0 with one count of `big` on item 0. */
function withOneCount(big: number): Interactions {
  const counts: [number, number, number][] = [];
  for (let u = 0; u < 12; u++)
    for (let i = 0; i < 8; i++) if ((u * 3 + i) % 4 === 0) counts.push([u, i, 1 + ((u + i) % 9)]);
  counts.push([0, 1, big]);
  return interactions(12, 8, counts);
}

const small: Partial<TrainOptions> = { factors: 4, iterations: 3, threads: 1 };

describe('issue 9 class 4: options the arithmetic carries', () => {
  for (const [label, given, pattern] of [
    ['alpha 1e20', { alpha: 1e20 }, /^alpha must be a number from 0 to 1e6, not 1e20$/],
    [
      'alpha 1e308 with the naive solver',
      { alpha: 1e308, solver: 'naive' },
      /^alpha must be a number from 0 to 1e6, not 1e308$/,
    ],
    ['lambda 1e40', { regularization: 1e40 }, /^lambda must be a number from 0 to 1e6, not 1e40$/],
    ['bm25K1 1e7', { bm25K1: 1e7 }, /^bm25K1 must be a number from 0 to 1e6, not 1e7$/],
    ['alpha Infinity', { alpha: Number.POSITIVE_INFINITY }, /^alpha must be a number from 0 to 1e6, not Infinity$/],
  ] as const) {
    it(`refuses ${label}, naming the field and the value (issue 9 class 4)`, () => {
      assert.throws(() => resolveTrainOptions(given as Partial<TrainOptions>), isAlsError('usage', pattern));
    });
  }

  it('takes the limits themselves (issue 9 class 4)', () => {
    const options = resolveTrainOptions({ alpha: 1e6, regularization: 1e6, bm25K1: 1e6 });
    assert.deepEqual([options.alpha, options.regularization, options.bm25K1], [1e6, 1e6, 1e6]);
  });
});

describe('issue 9 class 4: counts whose confidence float32 cannot carry', () => {
  for (const solver of ['cg', 'naive'] as const) {
    it(`linear weighting with a count of 1e15 and α = 40 is refused with both named (${solver}, issue 9 class 4)`, async () => {
      // before: trained, with rankings that differ from the float64 reference (cg) or NaN factors (naive, larger counts)
      await assert.rejects(
        train(withOneCount(1e15), { ...small, weighting: 'linear', alpha: 40, solver }),
        isAlsError(
          'input',
          /^the count 1e15 with alpha 40 and weighting linear gives the confidence 1 \+ α·w\(r\) = 4e16, above the 1e9 .*lower alpha to at most 1e-6, use weighting log/,
        ),
      );
    });
  }

  it('a count just inside MAX_CONFIDENCE trains to finite factors; log weighting takes the largest count (issue 9 class 4)', async () => {
    const linear = await train(withOneCount((MAX_CONFIDENCE - 1) / 40 / 2), {
      ...small,
      weighting: 'linear',
      alpha: 40,
    });
    assert.ok(linear.userFactors.every(Number.isFinite) && linear.itemFactors.every(Number.isFinite));
    const log = await train(withOneCount(1e15), { ...small, weighting: 'log' });
    assert.ok(log.userFactors.every(Number.isFinite) && log.itemFactors.every(Number.isFinite));
  });

  for (const [label, bad] of [
    ['3.5e38', 3.5e38],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['NaN', Number.NaN],
    ['-2', -2],
    ['0', 0],
    ['2e15', 2e15],
  ] as const) {
    it(`train() refuses hand-made interactions with a count of ${label} (issue 9 class 4)`, async () => {
      // before: a count ≥ 3.4e38 became ∞ in float32 and the exact solver made every factor NaN
      const data = withOneCount(1);
      data.userItems.data[data.userItems.data.length - 1] = bad;
      await assert.rejects(
        train(data, { ...small, solver: 'naive' }),
        isAlsError('usage', /counts must be above 0 and at most 1e15/),
      );
    });
  }
});

describe('issue 9 class 4: the factor bound of firstBadFactor', () => {
  it('finds the same first bad value in float32 (compared as bits) as in float64, at every offset of a view', () => {
    const edge = Math.fround(MAX_FACTOR);
    const next = new Float32Array(new Uint32Array([new Uint32Array(new Float32Array([edge]).buffer)[0] + 1]).buffer)[0];
    assert.ok(edge <= MAX_FACTOR && next > MAX_FACTOR);
    const values = [0, -0, 1, -1, edge, -edge, next, -next, NaN, Infinity, -Infinity, 3.4e38, 1e-45];
    for (const bad of values) {
      const backing = new Float32Array(12).fill(0.5);
      const view = backing.subarray(3, 11);
      view[5] = bad;
      const expected = Number.isFinite(bad) && Math.abs(bad) <= MAX_FACTOR ? -1 : 5;
      assert.equal(firstBadFactor(view), expected, `float32 ${bad}`);
      assert.equal(firstBadFactor(Float64Array.from(view)), expected, `float64 ${bad}`);
      assert.equal(firstBadFactor(view, 6), -1, `from past it: ${bad}`);
    }
    assert.equal(firstBadFactor(new Float32Array(new SharedArrayBuffer(16)).fill(Infinity), 1, 3), 1);
  });
});

describe('issue 9 class 4: fold-in and update hold the same line', () => {
  let linear: AlsModel;
  let log: AlsModel;
  before(async () => {
    linear = await train(withOneCount(5), { ...small, weighting: 'linear', alpha: 40 });
    log = await train(withOneCount(5), { ...small, weighting: 'log' });
  });

  it('a listed =plays of 1e12 with a linear α = 40 model is refused naming the count (issue 9 class 4)', () => {
    assert.throws(
      () => recommendForList(linear, [{ name: 'i1', plays: 1e12 }]),
      isAlsError(
        'usage',
        /^the play count 1e12 with alpha 40 and weighting linear gives the confidence 1 \+ α·w\(r\) = 4e13, .*give at most 2\.5e7 plays/,
      ),
    );
    // an ordinary count still folds in
    assert.ok(recommendForList(linear, [{ name: 'i1', plays: 100 }]).folded.x.every(Number.isFinite));
  });

  it('--items plays follow the reader: 1e39, 0x10 and Infinity are refused (issue 9 class 4)', () => {
    assert.throws(
      () => parseItemList('i1=1e39'),
      isAlsError('usage', /plays must be a decimal number above 0 and at most 1e15, not "1e39"/),
    );
    assert.throws(
      () => parseItemList('i1=0x10'),
      isAlsError('usage', /plays must be a decimal number above 0 and at most 1e15, not "0x10"/),
    );
    assert.throws(() => parseItemList('i1=Infinity'), isAlsError('usage', /plays must be a decimal number above 0/));
    assert.deepEqual(parseItemList('i1=1e15'), [{ name: 'i1', plays: 1e15 }]);
  });

  it('listed plays of one item that add up past 1e15 are refused (issue 9 class 4)', () => {
    assert.throws(
      () =>
        recommendForList(linear, [
          { name: 'i1', plays: 9e14 },
          { name: 'I1', plays: 9e14 },
        ]),
      isAlsError('usage', /the plays listed for "i1" add up to 1\.8e15, above 1e15/),
    );
    // just above: shown in full, not rounded to the limit it is above
    assert.throws(
      () =>
        recommendForList(linear, [
          { name: 'i1', plays: 1e15 },
          { name: 'i1', plays: 1 },
        ]),
      isAlsError('usage', /the plays listed for "i1" add up to 1000000000000001, above 1e15/),
    );
  });

  it('a fold-in against item factors holding ∞ is a model error, not NaN scores (issue 9 class 4)', () => {
    // a model from elsewhere that no loader checked; finite float32 factors cannot overflow float64's sums
    const poisoned: AlsModel = {
      ...log,
      itemFactors: log.itemFactors.map((y, n) => (n === 5 ? Number.POSITIVE_INFINITY : y)),
    };
    assert.throws(
      () => recommendForList(poisoned, [{ name: 'i1', plays: 3 }]),
      isAlsError('model', /^the fold-in gave NaN: the model's item factors are not finite or too large/),
    );
  });

  it('a fold-in whose vector is too large to score (|x| > 1e15) is a model error too, in recommendForList and updateModel (G2)', () => {
    // item factors of 1e-20 with λ = 0: the solved vector is about 1e20, and every score would overflow
    const tiny: AlsModel = {
      ...log,
      options: { ...log.options, regularization: 0 },
      itemFactors: log.itemFactors.map((y) => y * 1e-20),
    };
    const tooLarge =
      /the fold-in gave -?\d(\.\d+)?e\d+, a value too large to score \(\|x\| > 1e15\): the model's item factors are not finite or too large \(or too small\)/;
    assert.throws(
      () => recommendForList(tiny, [{ name: 'i1', plays: 3 }]),
      isAlsError('model', new RegExp(`^${tooLarge.source}`)),
    );
    assert.throws(
      () => updateModel(tiny, interactions(1, 8, [[0, 1, 3]])),
      isAlsError('model', new RegExp(`^user "u0": ${tooLarge.source}`)),
    );
  });

  it('updateModel: a stored count plus new ones past 1e15 is refused, and so is a confidence past the bound (issue 9 class 4)', () => {
    const base = interactions(1, 8, [[0, 1, 8e14]]);
    const first = updateModel(log, base);
    assert.equal(first.unchanged, false);
    // u0 now holds 5 + 8e14 plays of i1: another 8e14 would pass 1e15
    assert.throws(
      () => updateModel(first.model, base),
      isAlsError(
        'input',
        /^user "u0", item "i1": the play count after the update, 8e14 \+ 8e14 = 1\.6e15, is above 1e15/,
      ),
    );
    assert.throws(
      () => updateModel(linear, interactions(1, 8, [[0, 2, 1e12]])),
      isAlsError('input', /^user "u0": the play count 1e12 with alpha 40/),
    );
  });
});

describe('issue 9 class 4: training checks its factors after every iteration', () => {
  const plays = randomPlays(30, 20, 0.2, 3);

  /** The reference kernels, with one factor of the user half-step turned to `value` (NaN) from iteration `from` on. */
  function faulty(from: number, value = Number.NaN): Kernels {
    let calls = 0;
    return {
      ...jsKernels,
      cgUpdate(step, steps, start, end) {
        jsKernels.cgUpdate(step, steps, start, end);
        if (step.X.length === 30 * 4 && ++calls >= from) step.X[7 * 4] = value;
      },
    };
  }

  it('factors too large to score (|x| > 1e15: a dot product of 1024 of them could overflow float32) fail training in that iteration, exit 3 (G2)', async () => {
    for (const value of [1e16, -3e38]) {
      let thrown: unknown;
      await trainFactors(plays, resolveTrainOptions({ ...small, iterations: 5 }), {}, faulty(3, value)).catch(
        (error) => (thrown = error),
      );
      assert.ok(thrown instanceof AlsError, String(thrown));
      assert.equal(thrown.code, 'input');
      assert.match(
        thrown.message,
        new RegExp(
          `^training failed in iteration 3 of 5 \\(30 users, 20 items\\): the user factors of row 7 hold ${value === 1e16 ? '1e16' : '-3e38'}, a value too large to score \\(\\|x\\| > 1e15\\)\\. .*No model was made\\.$`,
        ),
      );
      assert.equal(exitCodeFor(thrown.code), 3);
    }
    // at the bound itself training goes on
    const factors = await trainFactors(plays, resolveTrainOptions({ ...small, iterations: 2 }), {}, faulty(1, 9e14));
    assert.equal(factors.userFactors[7 * 4], Math.fround(9e14));
  });

  it('NaN factors from a kernel are caught in the iteration they appear, naming what to change (issue 9 class 4)', async () => {
    await assert.rejects(
      trainFactors(plays, resolveTrainOptions({ ...small, iterations: 5 }), {}, faulty(2)),
      isAlsError(
        'input',
        /^training failed in iteration 2 of 5 \(30 users, 20 items\): the user factors of row 7 hold NaN, not a finite number\. .*lower alpha or lambda/,
      ),
    );
  });

  it('a λ so large that every factor underflows to 0 is refused instead of a model that scores everything 0 (issue 9 class 4)', async () => {
    await assert.rejects(
      trainFactors(plays, resolveTrainOptions({ ...small, iterations: 15, regularization: 1e6, solver: 'naive' })),
      isAlsError('input', /every (user|item) factor is 0, so every score would be 0\. lambda 1e6 is too large/),
    );
  });

  it('a loss is checked too, and ordinary training still passes every check (issue 9 class 4)', async () => {
    const factors = await trainFactors(plays, resolveTrainOptions({ ...small, computeLoss: true }), {}, 'js');
    assert.equal(factors.losses?.length, 3);
    assert.ok(factors.losses?.every(Number.isFinite));
  });
});

describe('issue 9 class 4: tune draws only settings the arithmetic carries', () => {
  it('with counts up to 1.5e7, linear α is drawn at most (1e9 − 1) / 1.5e7 / 2 and no trial fails (issue 9 class 4)', async () => {
    const plays = randomPlays(40, 30, 0.3, 11);
    for (let n = 0; n < plays.data.length; n++) plays.data[n] *= 1.5e7 / 50;
    const result = await tune(plays, {
      trials: 6,
      k: 3,
      fixed: { weighting: 'linear', factors: 4, iterations: 2, threads: 1 },
    });
    assert.deepEqual(result.failed, []);
    assert.equal(result.trials.length, 6);
    let largest = 0;
    for (const c of plays.data) largest = Math.max(largest, c);
    for (const trial of result.trials.slice(1))
      assert.ok(trial.options.alpha <= (MAX_CONFIDENCE - 1) / largest / 2 + 1e-9, `α ${trial.options.alpha}`);
  });
});
