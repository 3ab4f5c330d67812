import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  evaluate,
  explainUser,
  parseItemList,
  readInteractions,
  recommendForList,
  recommendItems,
  similarItems,
  train,
  tune,
  updateModel,
  writeAllRecommendations,
  writeAllSimilar,
  type AlsModel,
  type CsrMatrix,
  type Interactions,
} from 'als';
import {
  confidences,
  explainedRecommendations,
  Explainer,
  foldIn,
  foldInConfidences,
  foldInUserRow,
  playsOfRow,
  rankingMetrics,
  rankSimilarToRow,
  recommendForRow,
  recommendForVector,
  resolveItemList,
  resolveTrainOptions,
  scoreSplit,
  similarToRow,
  splitByUser,
  topK,
  trainFactors,
} from 'als/advanced';
import { mostPlayed } from '../../src/query/recommend.js';
import { AlsError } from '../../src/errors.js';
import { valueForMessage } from '../../src/validate.js';
import { plantedGroups } from '../helpers.js';

/**
 * Issue 9, class 11: the library holds the same line as the CLI. Every exported function checks
 * its arguments at the public edge and throws AlsError('usage') naming the field and the bad
 * value: never a RangeError, a TypeError, a silent [] or silent training on out-of-range indices.
 */

type Call = [string, () => unknown, RegExp];

async function expectUsage(call: () => unknown, pattern: RegExp, label: string): Promise<void> {
  let thrown: unknown = null;
  try {
    await call();
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown !== null, `${label}: no error (returned normally)`);
  assert.ok(thrown instanceof AlsError, `${label}: ${String(thrown)} is not an AlsError`);
  assert.equal(thrown.code, 'usage', `${label}: ${thrown.message}`);
  assert.match(thrown.message, pattern, label);
}

/** A copy of `m` with `change` applied to fresh arrays. */
function altered(m: CsrMatrix, change: (copy: CsrMatrix) => void): CsrMatrix {
  const copy = {
    rows: m.rows,
    cols: m.cols,
    indptr: m.indptr.slice(),
    indices: m.indices.slice(),
    data: m.data.slice(),
  };
  change(copy);
  return copy;
}

function withMatrix(data: Interactions, userItems: CsrMatrix): Interactions {
  return { ...data, userItems };
}

describe('valueForMessage: every JavaScript value has words, never a TypeError', () => {
  it('shows symbols, bigints, functions, throwing objects and proxies (third attacker trial)', () => {
    const revocable = Proxy.revocable({}, {});
    revocable.revoke();
    const hostile = new Proxy(
      {},
      {
        get: () => {
          throw new Error('get');
        },
        getPrototypeOf: () => {
          throw new Error('proto');
        },
        ownKeys: () => {
          throw new Error('keys');
        },
      },
    );
    const cases: [unknown, string][] = [
      [Symbol(), 'Symbol()'],
      [Symbol('f'), 'Symbol(f)'],
      [Symbol('x'.repeat(100)), `Symbol(${'x'.repeat(60)}…)`],
      [12n, '12n'],
      [10n ** 40n, 'a BigInt of 41 digits'],
      [() => 1, 'a function'],
      [
        {
          toString: () => {
            throw new Error('no');
          },
        },
        'an object',
      ],
      [
        {
          [Symbol.toPrimitive]: () => {
            throw new Error('no');
          },
        },
        'an object',
      ],
      [Object.create(null), 'an object'],
      [revocable.proxy, 'an object'],
      [hostile, 'an object'],
      [new Proxy([], {}), 'an array'],
      [new Float64Array(2), 'a Float64Array'],
      [true, 'true'],
      [null, 'null'],
      [undefined, 'undefined'],
      ['a"b', '"a\\"b"'],
      [1e300, '1e300'],
    ];
    for (const [value, words] of cases) assert.equal(valueForMessage(value), words);
  });

  it('a check given a hostile value throws AlsError naming the field (third attacker trial)', async () => {
    const revocable = Proxy.revocable({}, {});
    revocable.revoke();
    for (const bad of [
      Symbol('s'),
      revocable.proxy,
      {
        toString: () => {
          throw new Error('no');
        },
      },
      5n,
    ]) {
      await expectUsage(
        () => resolveTrainOptions({ factors: bad as never }),
        /^factors must be a whole number from 1 to 1024, not /,
        `factors ${typeof bad}`,
      );
      await expectUsage(
        () => splitByUser(plantedGroups(6, 2).userItems, { testFraction: bad as never }),
        /^test fraction must be between 0 and 1 \(exclusive\), not /,
        `testFraction ${typeof bad}`,
      );
    }
  });
});

describe('issue 9 class 11: every exported function checks its arguments', () => {
  let data: Interactions;
  let model: AlsModel;
  before(async () => {
    data = plantedGroups(24, 3);
    model = await train(data, { factors: 4, iterations: 3, threads: 1 });
  });

  it('similarItems, similarToRow and rankSimilarToRow refuse bad counts, rows and names (issue 9 class 11)', async () => {
    const name = () => model.itemNames[0];
    const calls: Call[] = [
      // before: −1 and NaN gave a silent [], Infinity a RangeError, 2.5 a list of 3
      [
        'similarItems count −1',
        () => similarItems(model, name(), { count: -1 }),
        /^count must be a whole number ≥ 1, not -1$/,
      ],
      [
        'similarItems count NaN',
        () => similarItems(model, name(), { count: Number.NaN }),
        /^count must be a whole number ≥ 1, not NaN$/,
      ],
      [
        'similarItems count Infinity',
        () => similarItems(model, name(), { count: Number.POSITIVE_INFINITY }),
        /not Infinity$/,
      ],
      ['similarItems count 2.5', () => similarItems(model, name(), { count: 2.5 }), /not 2\.5$/],
      ['similarItems count "3"', () => similarItems(model, name(), { count: '3' as never }), /not "3"$/],
      ['similarItems name 7', () => similarItems(model, 7 as never), /^name must be a string, not 7$/],
      ['similarItems name null', () => similarItems(model, null as never), /^name must be a string, not null$/],
      ['similarItems options 5', () => similarItems(model, name(), 5 as never), /^options must be an object, not 5$/],
      // the third attacker trial: a Symbol was a TypeError, 1e300 a silent empty list
      [
        'similarItems minItemUsers Symbol',
        () => similarItems(model, name(), { minItemUsers: Symbol() as never }),
        /^minItemUsers must be a whole number ≥ 1 \(1 keeps every item\), not Symbol\(\)$/,
      ],
      [
        'similarItems minItemUsers 1e300',
        () => similarItems(model, name(), { minItemUsers: 1e300 }),
        /^minItemUsers must be a whole number ≥ 1 \(1 keeps every item\), not 1e300$/,
      ],
      [
        'similarItems minItemUsers 2^53',
        () => similarItems(model, name(), { minItemUsers: 2 ** 53 }),
        /^minItemUsers must be .*, not 9\.007199e15$/,
      ],
      [
        'similarToRow minItemUsers 10n',
        () => similarToRow(model, 0, { minItemUsers: 10n as never }),
        /^minItemUsers must be .*, not 10n$/,
      ],
      ['similarToRow row 40', () => similarToRow(model, 40), /^itemRow must be a row from 0 to 39, not 40$/],
      ['similarToRow row −1', () => similarToRow(model, -1), /^itemRow must be a row from 0 to 39, not -1$/],
      ['rankSimilarToRow row 1.5', () => rankSimilarToRow(model, 1.5), /not 1\.5$/],
    ];
    for (const [label, call, pattern] of calls) await expectUsage(call, pattern, label);
  });

  it('recommendItems, recommendForRow, recommendForVector, recommendForList and mostPlayed refuse bad arguments (issue 9 class 11)', async () => {
    const calls: Call[] = [
      [
        'recommendItems count 0',
        () => recommendItems(model, 'u1', { count: 0 }),
        /^count must be a whole number ≥ 1, not 0$/,
      ],
      ['recommendItems user id 1', () => recommendItems(model, 1 as never), /^userId must be a string, not 1$/],
      // before: row 24 of a 24-user model read past the matrix and answered
      ['recommendForRow row 24', () => recommendForRow(model, 24), /^userRow must be a row from 0 to 23, not 24$/],
      ['recommendForRow row NaN', () => recommendForRow(model, Number.NaN), /not NaN$/],
      [
        'recommendForRow includePlayed "yes"',
        () => recommendForRow(model, 0, { includePlayed: 'yes' as never }),
        /^includePlayed must be true or false, not "yes"$/,
      ],
      [
        'recommendForVector short x',
        () => recommendForVector(model, new Float32Array(2), 0, []),
        /^xOffset must be a whole number from 0 to -2, not 0$/,
      ],
      [
        'recommendForVector NaN x',
        () => recommendForVector(model, Float32Array.of(1, Number.NaN, 0, 0), 0, []),
        /^x holds NaN at entry 1/,
      ],
      [
        'recommendForVector x too large (G2)',
        () => recommendForVector(model, Float32Array.of(0, 0, 1e20, 0), 0, []),
        /^x holds 1e20 at entry 2; every entry must be a finite number from -1e15 to 1e15$/,
      ],
      [
        'recommendForVector played 99',
        () => recommendForVector(model, new Float32Array(4), 0, [99]),
        /^played\[0\] must be a row from 0 to 39, not 99$/,
      ],
      ['recommendForList not an array', () => recommendForList(model, 'i1' as never), /^list must be an array/],
      [
        'recommendForList name 5',
        () => recommendForList(model, [{ name: 5 as never }]),
        /^list\[0\]\.name must be a string, not 5$/,
      ],
      [
        'recommendForList plays −3',
        () => recommendForList(model, [{ name: 'i1', plays: -3 }]),
        /^list\[0\]\.plays must be a count above 0 and at most 1e15, not -3$/,
      ],
      ['recommendForList count −1', () => recommendForList(model, [{ name: 'i1' }], { count: -1 }), /^count must be/],
      [
        'resolveItemList defaultPlays NaN',
        () => resolveItemList(model, [{ name: 'i1' }], Number.NaN),
        /^defaultPlays must be a count/,
      ],
      ['parseItemList 42', () => parseItemList(42 as never), /^text must be a string, not 42$/],
      ['mostPlayed row 24', () => mostPlayed(model, 24), /^user must be a row from 0 to 23, not 24$/],
      ['mostPlayed count −1', () => mostPlayed(model, 0, -1), /^count must be a whole number ≥ 0, not -1$/],
    ];
    for (const [label, call, pattern] of calls) await expectUsage(call, pattern, label);
  });

  it('train and trainFactors refuse malformed matrices, ids and options instead of training on them (issue 9 class 11)', async () => {
    const m = data.userItems;
    const options = resolveTrainOptions({ factors: 4, iterations: 2, threads: 1 });
    const calls: Call[] = [
      // before: trained silently on an item index beyond the column count
      [
        'index ≥ cols',
        () =>
          train(
            withMatrix(
              data,
              altered(m, (c) => (c.indices[3] = 40)),
            ),
            options,
          ),
        /^data\.userItems\.indices\[3\] is 40, outside the 40 columns \(0\.\.39\)$/,
      ],
      [
        'negative index',
        () =>
          train(
            withMatrix(
              data,
              altered(m, (c) => (c.indices[0] = -1)),
            ),
            options,
          ),
        /indices\[0\] is -1, outside/,
      ],
      [
        'indptr descending',
        () =>
          train(
            withMatrix(
              data,
              altered(m, (c) => (c.indptr[2] = c.indptr[1] - 1)),
            ),
            options,
          ),
        /indptr must be ascending: row 1 runs/,
      ],
      [
        'indptr not spanning',
        () =>
          train(
            withMatrix(
              data,
              altered(m, (c) => (c.indptr[c.rows] -= 1)),
            ),
            options,
          ),
        /indptr ends at \d+, but indices has \d+ entries/,
      ],
      [
        'indptr not from 0',
        () =>
          train(
            withMatrix(
              data,
              altered(m, (c) => (c.indptr[0] = 1)),
            ),
            options,
          ),
        /indptr must start at 0, not 1/,
      ],
      [
        'repeated item in a row',
        () =>
          train(
            withMatrix(
              data,
              altered(m, (c) => (c.indices[1] = c.indices[0])),
            ),
            options,
          ),
        /strictly ascending within a row/,
      ],
      [
        'count 0',
        () =>
          train(
            withMatrix(
              data,
              altered(m, (c) => (c.data[5] = 0)),
            ),
            options,
          ),
        /data\[5\] \(row \d+, column \d+\) is 0; counts must be above 0/,
      ],
      [
        'count NaN',
        () =>
          train(
            withMatrix(
              data,
              altered(m, (c) => (c.data[5] = Number.NaN)),
            ),
            options,
          ),
        /is NaN; counts must be above 0/,
      ],
      [
        'too few user ids',
        () => train({ ...data, userIds: data.userIds.slice(1) }, options),
        /^data\.userIds has 23 entries, but the matrix has 24$/,
      ],
      [
        'item name not a string',
        () => train({ ...data, itemNames: data.itemNames.map((n, i) => (i === 2 ? 2 : n)) as never }, options),
        /^data\.itemNames\[2\] must be a string, not 2$/,
      ],
      ['data null', () => train(null as never, options), /^data must be Interactions/],
      ['options a string', () => train(data, 'fast' as never), /^options must be an object, not "fast"$/],
      [
        'trainFactors rows not whole',
        () => trainFactors({ ...m, rows: 2.5 }, options),
        /^plays\.rows must be a whole number/,
      ],
      [
        'trainFactors indptr an array',
        () => trainFactors({ ...m, indptr: Array.from(m.indptr) as never }, options),
        /^plays\.indptr must be a Int32Array, not an array$/,
      ],
      [
        'trainFactors factors 0',
        () => trainFactors(m, { ...options, factors: 0 }),
        /^factors must be a whole number from 1 to 1024, not 0$/,
      ],
      [
        'trainFactors engine',
        () => trainFactors(m, options, {}, 'gpu' as never),
        /^backend must be one of wasm, js, not "gpu"$/,
      ],
      [
        'trainFactors empty',
        () =>
          trainFactors(
            { rows: 2, cols: 2, indptr: new Int32Array(3), indices: new Int32Array(0), data: new Float32Array(0) },
            options,
          ),
        /^plays has no entries/,
      ],
      // before: a TypeError from reading null.data in a default parameter
      [
        'confidences plays null',
        () => confidences(null as never, {} as never),
        /^plays must be a CsrMatrix .*, not null$/,
      ],
      [
        'confidences plays undefined',
        () => confidences(undefined as never, { weighting: 'log', alpha: 2, bm25K1: 100, bm25B: 0.8 }),
        /^plays must be a CsrMatrix .*, not undefined$/,
      ],
      [
        'confidences bad matrix',
        () =>
          confidences(
            altered(m, (c) => (c.indices[0] = 99)),
            { weighting: 'log', alpha: 2, bm25K1: 100, bm25B: 0.8 },
          ),
        /^plays\.indices\[0\] is 99/,
      ],
      [
        'confidences weighting',
        () => confidences(m, { weighting: 'tfidf' as never, alpha: 2, bm25K1: 100, bm25B: 0.8 }),
        /^options\.weighting must be one of linear, log, bm25, not "tfidf"$/,
      ],
      [
        'confidences alpha NaN',
        () => confidences(m, { weighting: 'log', alpha: Number.NaN, bm25K1: 100, bm25B: 0.8 }),
        /^options\.alpha must be a number from 0 to 1e6, not NaN$/,
      ],
      [
        'confidences out too short',
        () => confidences(m, { weighting: 'log', alpha: 2, bm25K1: 100, bm25B: 0.8 }, new Float32Array(1)),
        /^out must have \d+ entries, not 1$/,
      ],
      [
        'resolveTrainOptions null',
        () => resolveTrainOptions(null as never),
        /^training options must be an object, not null$/,
      ],
    ];
    for (const [label, call, pattern] of calls) await expectUsage(call, pattern, label);
  });

  it('the fold-in, explanations and updateModel refuse bad rows, plays and data (issue 9 class 11)', async () => {
    const calls: Call[] = [
      [
        'foldIn item 40',
        () => foldIn(model, { items: Int32Array.of(40), plays: Float32Array.of(1) }),
        /^item row 40 is not in the model \(0\.\.39\)$/,
      ],
      [
        'foldIn plays length',
        () => foldIn(model, { items: Int32Array.of(1, 2), plays: Float32Array.of(1) }),
        /^user\.plays must have 2 entries, not 1$/,
      ],
      [
        'foldIn plays NaN',
        () => foldIn(model, { items: Int32Array.of(1), plays: Float32Array.of(Number.NaN) }),
        /^user\.plays\[0\] must be a count above 0 and at most 1e15, not NaN$/,
      ],
      [
        'foldIn item twice',
        () => foldIn(model, { items: Int32Array.of(1, 1), plays: Float32Array.of(1, 1) }),
        /lists item row 1 twice/,
      ],
      [
        'foldIn items an array',
        () => foldIn(model, { items: [1] as never, plays: Float32Array.of(1) }),
        /^user\.items must be a Int32Array, not an array$/,
      ],
      [
        'foldInConfidences plays 0',
        () => foldInConfidences(model, { items: Int32Array.of(1), plays: Float32Array.of(0) }),
        /^user\.plays\[0\] must be a count/,
      ],
      ['foldInUserRow row 24', () => foldInUserRow(model, 24), /^userRow must be a row from 0 to 23, not 24$/],
      ['playsOfRow row −1', () => playsOfRow(model, -1), /^userRow must be a row from 0 to 23, not -1$/],
      ['explainUser id 3', () => explainUser(model, 3 as never), /^userId must be a string, not 3$/],
      [
        'Explainer.explain item 40',
        () => new Explainer(model, foldInUserRow(model, 0)).explain(40),
        /^itemRow must be a row from 0 to 39, not 40$/,
      ],
      [
        'Explainer.explain top −1',
        () => new Explainer(model, foldInUserRow(model, 0)).explain(1, -1),
        /^top must be a whole number ≥ 0, not -1$/,
      ],
      [
        'explainedRecommendations count 0',
        () => explainedRecommendations(model, foldInUserRow(model, 0), { count: 0 }),
        /^count must be/,
      ],
      [
        'updateModel count −1',
        () =>
          updateModel(
            model,
            withMatrix(
              data,
              altered(data.userItems, (c) => (c.data[0] = -1)),
            ),
          ),
        /^data\.userItems\.data\[0\] .* is -1; counts must be above 0/,
      ],
      [
        'updateModel index ≥ cols',
        () =>
          updateModel(
            model,
            withMatrix(
              data,
              altered(data.userItems, (c) => (c.indices[0] = 77)),
            ),
          ),
        /indices\[0\] is 77, outside the 40 columns/,
      ],
      [
        'updateModel ids',
        () => updateModel(model, { ...data, userIds: [] }),
        /^data\.userIds has 0 entries, but the matrix has 24$/,
      ],
    ];
    for (const [label, call, pattern] of calls) await expectUsage(call, pattern, label);
  });

  it('evaluate, scoreSplit, splitByUser, tune, rankingMetrics, topK and the --all writers refuse bad arguments (issue 9 class 11)', async () => {
    const split = splitByUser(data.userItems);
    const factors = { userFactors: model.userFactors, itemFactors: model.itemFactors };
    const calls: Call[] = [
      ['evaluate k 0', () => evaluate(data, { k: 0 }), /^k must be a whole number ≥ 1, not 0$/],
      [
        'evaluate k Infinity',
        () => evaluate(data, { k: Number.POSITIVE_INFINITY }),
        /^k must be a whole number ≥ 1, not Infinity$/,
      ],
      [
        'evaluate bad data',
        () =>
          evaluate(
            withMatrix(
              data,
              altered(data.userItems, (c) => (c.indices[0] = 40)),
            ),
            { k: 5 },
          ),
        /outside the 40 columns/,
      ],
      ['evaluate seed −1', () => evaluate(data, { seed: -1 }), /^seed must be a whole number ≥ 0, not -1$/],
      [
        'evaluate trainOptions',
        () => evaluate(data, { trainOptions: { alpha: 1e20 } }),
        /^alpha must be a number from 0 to 1e6, not 1e20$/,
      ],
      [
        'scoreSplit factors short',
        () => scoreSplit(split, { ...factors, itemFactors: new Float32Array(3) }, { k: 5, factors: 4 }),
        /^itemFactors must have 160 entries, not 3$/,
      ],
      [
        'scoreSplit k 2.5',
        () => scoreSplit(split, factors, { k: 2.5, factors: 4 }),
        /^k must be a whole number ≥ 1, not 2\.5$/,
      ],
      [
        'scoreSplit test users',
        () => scoreSplit({ ...split, testUsers: Int32Array.of(99) }, factors, { k: 5, factors: 4 }),
        /^split\.testUsers holds 99/,
      ],
      [
        'splitByUser bad matrix',
        () => splitByUser(altered(data.userItems, (c) => (c.indptr[1] = -5))),
        /indptr must be ascending/,
      ],
      [
        'splitByUser minInteractions 0',
        () => splitByUser(data.userItems, { minInteractions: 0 }),
        /^minInteractions must be a whole number ≥ 2, not 0$/,
      ],
      [
        'tune bad matrix',
        () =>
          tune(
            altered(data.userItems, (c) => (c.data[0] = Number.POSITIVE_INFINITY)),
            { trials: 1 },
          ),
        /is Infinity; counts must be/,
      ],
      [
        'tune trials 0',
        () => tune(data.userItems, { trials: 0 }),
        /^trials must be a whole number from 1 to 100000, not 0$/,
      ],
      // the second attacker trial: a Symbol in a message, a search of 1e300 trials
      [
        'tune trials 1e300',
        () => tune(data.userItems, { trials: 1e300 }),
        /^trials must be a whole number from 1 to 100000, not 1e300$/,
      ],
      [
        'train factors Symbol',
        () => train(data, { factors: Symbol('f') as never }),
        /^factors must be a whole number from 1 to 1024, not Symbol\(f\)$/,
      ],
      [
        'readInteractions options null',
        () => readInteractions('x', null as never),
        /^options must be an object of read options$/,
      ],
      ['tune seed NaN', () => tune(data.userItems, { seed: Number.NaN }), /^seed must be a whole number/],
      ['tune fixed', () => tune(data.userItems, { fixed: 'log' as never }), /^fixed must be an object, not "log"$/],
      ['rankingMetrics k 0', () => rankingMetrics([1], new Set([1]), 0), /^k must be a whole number ≥ 1, not 0$/],
      ['topK k −1', () => topK(Float32Array.of(1, 2), -1), /^k must be a whole number ≥ 0, not -1$/],
      ['topK scores an array', () => topK([1, 2] as never, 1), /^scores must be a Float32Array, not an array$/],
      [
        'topK skip too short',
        () => topK(Float32Array.of(1, 2), 1, new Uint8Array(1)),
        /^skip has 1 entries, fewer than the 2 scores$/,
      ],
      [
        'writeAllRecommendations count −1',
        () => writeAllRecommendations(model, '/nonexistent/never-written.tsv', { count: -1 }),
        /^count must be/,
      ],
      [
        'writeAllRecommendations path 5',
        () => writeAllRecommendations(model, 5 as never),
        /^output must be a file path or a writable stream, not 5$/,
      ],
      [
        'writeAllSimilar kernels 5',
        () => writeAllSimilar(model, '/nonexistent/never-written.tsv', { kernels: 5 as never }),
        /^kernels must be Kernels/,
      ],
      [
        'similarItems kernels {}',
        () => similarItems(model, 'i1', { kernels: {} as never }),
        /^kernels must be Kernels/,
      ],
      [
        'evaluate onUsers 5',
        () => evaluate(data, { k: 5 }, { onUsers: 5 as never }),
        /^callbacks\.onUsers must be a function, not 5$/,
      ],
      [
        'train onProgress "x"',
        () => train(data, { threads: 1 }, { onProgress: 'x' as never }),
        /^callbacks\.onProgress must be a function, not "x"$/,
      ],
      [
        'rankingMetrics test an array',
        () => rankingMetrics([1], [1] as never, 3),
        /^test must be a Set of item rows, not an array$/,
      ],
      ['Explainer user null', () => new Explainer(model, null as never), /^user must be a FoldedUser/],
      [
        'Explainer user x short',
        () => new Explainer(model, { ...foldInUserRow(model, 0), x: new Float64Array(2) }),
        /^user\.x must have 4 entries, not 2$/,
      ],
      [
        'writeAllSimilar count NaN',
        () => writeAllSimilar(model, '/nonexistent/never-written.tsv', { count: Number.NaN }),
        /^count must be/,
      ],
    ];
    for (const [label, call, pattern] of calls) await expectUsage(call, pattern, label);
  });
});
