import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { foldInUserRow } from '../../src/als/foldIn.js';
import { train } from '../../src/als/train.js';
import { readInteractions } from '../../src/data/read.js';
import { AlsError } from '../../src/errors.js';
import type { AlsModel } from '../../src/model/model.js';
import { medianPlays, parseItemList, recommendForList, resolveItemList } from '../../src/query/listened.js';
import { recommendForVector } from '../../src/query/recommend.js';
import { ALS_BIN, SAMPLE, tempDir } from '../helpers.js';

describe('--items lists', () => {
  it('parse names, plays, escaped commas; drop empty entries', () => {
    assert.deepEqual(parseItemList(' radiohead, muse ,portishead=120,,Crosby\\, Stills & Nash=2.5 '), [
      { name: 'radiohead' },
      { name: 'muse' },
      { name: 'portishead', plays: 120 },
      { name: 'Crosby, Stills & Nash', plays: 2.5 },
    ]);
    assert.deepEqual(parseItemList(' , '), []);
  });

  for (const bad of ['muse=0', 'muse=-3', 'muse=', 'muse=many', '=4']) {
    it(`refuse ${JSON.stringify(bad)} naming the entry`, () => {
      assert.throws(
        () => parseItemList(`radiohead,${bad}`),
        (error: AlsError) => error.code === 'usage' && error.message.includes(JSON.stringify(bad)),
      );
    });
  }
});

describe('recommending for a list of artists (sample)', () => {
  let model: AlsModel;
  before(async () => {
    model = await train(await readInteractions(SAMPLE), { threads: 1 });
  });

  it('the default plays are the median stored play count', () => {
    const sorted = Float64Array.from(model.userItems.data).sort();
    const n = sorted.length;
    const expected = n % 2 ? sorted[n >> 1] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    assert.equal(medianPlays(model), expected);
    assert.equal(medianPlays(model), 260);
  });

  it("a user's whole play list gives that user's fold-in and its recommendations", () => {
    const u = 0;
    const { indptr, indices, data } = model.userItems;
    const list = [];
    for (let n = indptr[u]; n < indptr[u + 1]; n++)
      list.push({ name: model.itemNames[indices[n]].toUpperCase(), plays: data[n] });
    const result = recommendForList(model, list, { count: 10 });
    const own = foldInUserRow(model, u);
    assert.deepEqual(result.folded.x, own.x);
    const expected = recommendForVector(
      model,
      Float32Array.from(own.x),
      0,
      indices.subarray(indptr[u], indptr[u + 1]),
      { count: 10 },
    );
    assert.deepEqual(result.recommendations, expected);
    assert.equal(result.unknown.length, 0);
  });

  it('sums an artist listed twice, reports unknown names with suggestions, leaves the listed artists out', () => {
    const result = recommendForList(model, parseItemList('radiohead,Muse=10,MUSE=5,radiohed,portishead'), {
      count: 50,
    });
    assert.deepEqual(
      result.found.map((f) => [f.name, f.plays]),
      [
        ['Radiohead', 260],
        ['Muse', 15],
        ['Portishead', 260],
      ],
    );
    assert.deepEqual(
      result.unknown.map((u) => u.name),
      ['radiohed'],
    );
    assert.match(result.unknown[0].message, /did you mean "Radiohead"/);
    const names = new Set(result.recommendations.map((r) => r.name));
    for (const listed of ['Radiohead', 'Muse', 'Portishead']) assert.ok(!names.has(listed));
  });

  it('an empty list is a usage error; a list of unknown names is not-found', () => {
    assert.throws(
      () => recommendForList(model, []),
      (e: AlsError) => e.code === 'usage',
    );
    assert.throws(
      () => recommendForList(model, parseItemList('xyzzy,radiohed')),
      (e: AlsError) => e.code === 'not-found' && /did you mean "Radiohead"/.test(e.message),
    );
    assert.deepEqual(resolveItemList(model, parseItemList('xyzzy')).found, []);
  });
});

describe('als recommend --items', () => {
  const work = tempDir('als-items-');
  const model = join(work, 'model');
  const als = (...args: string[]) => {
    const result = spawnSync(process.execPath, [ALS_BIN, ...args, '--model', model], { encoding: 'utf8' });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  before(() => {
    const trained = als('train', SAMPLE);
    assert.equal(trained.status, 0, trained.stderr);
  });

  it('prints the listed artists and recommendations; --json too', () => {
    const text = als('recommend', '--items', 'radiohead,muse,portishead=120', '-n', '3');
    assert.equal(text.status, 0, text.stderr);
    const lines = text.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'Listened to');
    assert.equal(lines[1].trim(), 'Radiohead (260), Muse (260), Portishead (120)');
    assert.equal(lines[2], 'Recommended for this listener');
    assert.equal(lines.length, 6);
    const json = JSON.parse(als('recommend', '--items', 'radiohead,muse,portishead=120', '-n', '3', '--json').stdout);
    assert.deepEqual(json.items, [
      { item: 'Radiohead', plays: 260 },
      { item: 'Muse', plays: 260 },
      { item: 'Portishead', plays: 120 },
    ]);
    assert.deepEqual(json.unknown, []);
    assert.equal(json.recommendations.length, 3);
    assert.equal(json.recommendations[0].score, 1);
    assert.equal(json.recommendations[0].item, lines[3].replace(/^ +1\. /, '').replace(/ +1\.000.*$/, ''));
  });

  it('warns about unknown names on stderr and uses the rest', () => {
    const result = als('recommend', '--items', 'radiohed,muse', '--json');
    assert.equal(result.status, 0);
    assert.equal(
      result.stderr,
      'warning: no artist or item named "radiohed" in the model; did you mean "Radiohead"? (left out)\n',
    );
    assert.deepEqual(JSON.parse(result.stdout).unknown, ['radiohed']);
  });

  const failures: [string, string[], number, RegExp][] = [
    [
      'all names unknown',
      ['--items', 'xyzzy,radiohed'],
      5,
      /^als: none of the listed items is in the model \(no artist or item named "xyzzy"; no artist or item named "radiohed"; did you mean "Radiohead"\?\)$/,
    ],
    ['an empty list', ['--items', ' , '], 2, /^als: --items: the list is empty/],
    [
      'bad plays',
      ['--items', 'muse=lots'],
      2,
      /^als: --items: item list entry "muse=lots": plays must be a decimal number above 0 and at most 1e15, not "lots"$/,
    ],
    // issue 9 class 8: =plays follows the rule of a count in a file (no hex, nothing float32 cannot carry)
    [
      'hex plays',
      ['--items', 'muse=0x10'],
      2,
      /^als: --items: item list entry "muse=0x10": plays must be a decimal number/,
    ],
    [
      'plays beyond float32',
      ['--items', 'muse=1e39'],
      2,
      /^als: --items: item list entry "muse=1e39": plays must be a decimal number above 0 and at most 1e15/,
    ],
    [
      '--items with --user',
      ['--items', 'muse', '--user', 'user2'],
      2,
      /^als: give one of --user, --row, --items and --all, not --user and --items$/,
    ],
  ];
  for (const [name, args, status, message] of failures) {
    it(`${name}: one line, exit ${status}`, () => {
      const result = als('recommend', ...args);
      assert.equal(result.status, status, result.stderr);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1);
      assert.match(result.stderr.trimEnd(), message);
      assert.equal(result.stdout, '');
    });
  }
});
