import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { foldIn, foldInUserRow, playsOfRow } from '../../src/als/foldIn.js';
import { train } from '../../src/als/train.js';
import { updateModel } from '../../src/als/update.js';
import { readInteractions } from '../../src/data/read.js';
import { columnCounts } from '../../src/data/sparse.js';
import { loadModel } from '../../src/model/load.js';
import type { AlsModel } from '../../src/model/model.js';
import { ALS_BIN, SAMPLE, tempDir } from '../helpers.js';

const work = tempDir('als-update-');

/** Every name, link target and file content under `dir` (the versions in .als included). */
function hashDirectory(dir: string, hash = createHash('sha256')): string {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    hash.update(name);
    if (stat.isSymbolicLink()) hash.update(`-> ${readlinkSync(path)}`);
    else if (stat.isDirectory()) hashDirectory(path, hash);
    else hash.update(readFileSync(path));
  }
  return hash.copy().digest('hex');
}

function rowOf(model: AlsModel, u: number): Map<string, number> {
  const { items, plays } = playsOfRow(model, u);
  return new Map(Array.from(items, (i, k) => [model.itemNames[i], plays[k]]));
}

function write(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

describe('updateModel', () => {
  let model: AlsModel;
  before(async () => {
    model = await train(await readInteractions(SAMPLE), { threads: 1, iterations: 5, factors: 16 });
  });

  it('sums new plays into existing rows, appends new users, re-solves exactly those users by fold-in', async () => {
    const file = write(
      'new.tsv',
      'user2\t\tduran duran\t100\nuser2\t\tRadiohead\t50\nnewbie\t\tradiohead\t300\nnewbie\t\tMUSE\t120\nnewbie\t\tNo Such Band\t5\nghost\t\tAnother Unknown\t3\n',
    );
    const {
      model: updated,
      summary,
      addedUsers,
      unknownExamples,
      unchanged,
    } = updateModel(model, await readInteractions(file));
    assert.equal(unchanged, false);
    assert.deepEqual(addedUsers, ['newbie'], 'ghost played only unknown artists');
    assert.equal(summary.usersUpdated, 1);
    assert.equal(summary.usersAdded, 1);
    assert.equal(summary.unknownItemPairs, 2);
    assert.equal(summary.unknownItems, 2);
    assert.deepEqual(unknownExamples, ['No Such Band', 'Another Unknown']);
    assert.equal(updated.users, model.users + 1);
    assert.equal(updated.userIds[model.users], 'newbie');

    const f = model.factors;
    const u2 = model.userIds.indexOf('user2');
    const before = rowOf(model, u2);
    const after = rowOf(updated, u2);
    assert.equal(after.get('Duran Duran'), (before.get('Duran Duran') as number) + 100);
    assert.equal(after.get('Radiohead'), 50);
    assert.equal(after.size, before.size + 1);
    assert.deepEqual(
      rowOf(updated, model.users),
      new Map([
        ['Radiohead', 300],
        ['Muse', 120],
      ]),
    );

    // the re-solved users hold their fold-in, the new one the fold-in of its plays
    const stored = (u: number) => updated.userFactors.subarray(u * f, (u + 1) * f);
    assert.deepEqual(stored(u2), Float32Array.from(foldInUserRow(updated, u2).x));
    const radiohead = model.itemNames.indexOf('Radiohead');
    const muse = model.itemNames.indexOf('Muse');
    const order = radiohead < muse ? [radiohead, muse] : [muse, radiohead];
    const plays = Float32Array.from(order, (i) => (i === radiohead ? 300 : 120));
    assert.deepEqual(stored(model.users), Float32Array.from(foldIn(model, { items: Int32Array.from(order), plays }).x));

    // nobody else moved, and the items never do
    assert.equal(updated.itemFactors, model.itemFactors);
    for (let u = 0; u < model.users; u++) {
      if (u !== u2) assert.deepEqual(stored(u), model.userFactors.subarray(u * f, (u + 1) * f), `user ${u}`);
    }
    assert.equal(updated.updates?.length, 1);
    assert.deepEqual(updated.input, model.input);
    // the stored listener counts follow: newbie is a new listener of Radiohead and Muse, user2 of Radiohead
    assert.equal(updated.itemUserCounts[radiohead], model.itemUserCounts[radiohead] + 2);
    assert.equal(updated.itemUserCounts[muse], model.itemUserCounts[muse] + 1);
    assert.deepEqual(updated.itemUserCounts, columnCounts(updated.userItems));
  });

  it('changes nothing when every row is for an artist the model does not know', async () => {
    const file = write('unknown.tsv', 'user2\t\tNo Such Band\t5\nsomeone\t\tAnother\t1\n');
    const result = updateModel(model, await readInteractions(file));
    assert.equal(result.unchanged, true);
    assert.equal(result.model, model);
    assert.equal(result.summary.unknownItemPairs, 2);
  });
});

describe('als update', () => {
  const dir = join(work, 'model');
  const als = (...args: string[]) => {
    const result = spawnSync(process.execPath, [ALS_BIN, ...args], { encoding: 'utf8' });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  before(() => assert.equal(als('train', SAMPLE, '--model', dir).status, 0));

  it('with no row for a known artist leaves every file byte for byte as it was', () => {
    const before = hashDirectory(dir);
    const result = als('update', write('nothing.tsv', 'user2\t\tNo Such Band\t5\n'), '--model', dir);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /Nothing to update/);
    assert.match(
      result.stderr,
      /^warning: 1 user–artist pair for 1 artist not in the model left out \("No Such Band"\); a full `als train` learns new artists\n$/,
    );
    assert.equal(hashDirectory(dir), before);
  });

  it('appends a new user, records the update in model.json, keeps the item factors', () => {
    const copy = join(work, 'updated');
    cpSync(dir, copy, { recursive: true, verbatimSymlinks: true });
    const itemsBefore = readFileSync(join(copy, 'item_factors.f32'));
    const result = als(
      'update',
      write('one.tsv', 'newbie\t\tRadiohead\t300\nnewbie\t\tMuse\t120\nuser2\t\tAir\t7\n'),
      '--model',
      copy,
      '--json',
    );
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.changed, true);
    assert.equal(report.usersUpdated, 1);
    assert.deepEqual(report.addedUsers, ['newbie']);
    assert.equal(report.users, 1893);
    assert.deepEqual(readFileSync(join(copy, 'item_factors.f32')), itemsBefore);

    const manifest = JSON.parse(readFileSync(join(copy, 'model.json'), 'utf8'));
    assert.equal(manifest.users, 1893);
    assert.equal(manifest.input.file.endsWith('lastfm-2k.tsv'), true, 'input still describes the training file');
    assert.equal(manifest.updates.length, 1);
    assert.equal(manifest.updates[0].usersAdded, 1);
    assert.ok(JSON.parse(readFileSync(join(copy, 'timings.json'), 'utf8')).train > 0, 'training timings kept');

    const loaded = loadModel(copy);
    const f = loaded.factors;
    const newbie = loaded.userIds.indexOf('newbie');
    assert.equal(newbie, 1892);
    assert.deepEqual(
      loaded.userFactors.subarray(newbie * f, (newbie + 1) * f),
      Float32Array.from(foldInUserRow(loaded, newbie).x),
    );
    const recs = als('recommend', '--user', 'newbie', '--model', copy, '--json');
    assert.equal(recs.status, 0, recs.stderr);
    assert.ok(
      JSON.parse(recs.stdout).recommendations.every(
        (r: { item: string }) => r.item !== 'Radiohead' && r.item !== 'Muse',
      ),
    );

    // a second update adds a second record
    assert.equal(als('update', write('two.tsv', 'newbie\t\tPortishead\t20\n'), '--model', copy, '-q').status, 0);
    assert.equal(JSON.parse(readFileSync(join(copy, 'model.json'), 'utf8')).updates.length, 2);
  });

  it('reads the format the model was trained on unless --format says otherwise', () => {
    const triplesModel = join(work, 'triples-model');
    const rows: string[] = [];
    for (let u = 0; u < 30; u++)
      for (let i = 0; i < 8; i++) if ((u + i) % 3 !== 0) rows.push(`u${u}\titem${i}\t${1 + ((u * i) % 9)}`);
    assert.equal(
      als(
        'train',
        write('train.tsv', rows.join('\n')),
        '--format',
        'triples',
        '--factors',
        '4',
        '--model',
        triplesModel,
      ).status,
      0,
    );
    const result = als(
      'update',
      write('more.tsv', 'u1\titem0\t3\nu99\titem2\t4\nu99\tITEM3\t1\n'),
      '--model',
      triplesModel,
      '--json',
    );
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.read.format, 'triples');
    assert.equal(report.unknownItems, 1, 'triples names are matched exactly');
    assert.deepEqual(report.addedUsers, ['u99']);
  });

  const failures: [string, () => string[], number, RegExp][] = [
    [
      'a file in another format',
      () => ['update', write('triples.tsv', 'user2\tRadiohead\t5\n')],
      3,
      /^als: triples\.tsv: no usable row .*expected 4 fields, found 3\); read as lastfm, the model's format \(--format reads another\)$/,
    ],
    ['an empty file', () => ['update', write('empty.tsv', '')], 3, /^als: empty\.tsv: the file is empty$/],
    ['a missing file', () => ['update', join(work, 'nope.tsv')], 3, /^als: .*nope\.tsv: no such file/],
    [
      'a bad row under --strict',
      () => ['update', write('bad.tsv', 'user2\t\tAir\t5\nuser2\t\tMuse\tmany\n'), '--strict'],
      3,
      /^als: bad\.tsv, line 2: /,
    ],
    [
      'an unknown format',
      () => ['update', write('x.tsv', 'a\t\tb\t1\n'), '--format', 'json'],
      2,
      /argument 'json' is invalid/,
    ],
  ];
  for (const [name, args, status, message] of failures) {
    it(`${name}: one line, exit ${status}, the model byte for byte unchanged`, () => {
      const before = hashDirectory(dir);
      const result = als(...args(), '--model', dir);
      assert.equal(result.status, status, result.stderr);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
      assert.match(result.stderr.trimEnd(), message);
      assert.equal(hashDirectory(dir), before);
    });
  }

  it('counts whose sum overflows float32 are refused, and the model left byte for byte as it was (issue 9, class 4)', () => {
    const before = hashDirectory(dir);
    // two rows of one pair: summed, 6e38 is ∞ in float32 (a reader that refuses counts above MAX_COUNT stops it earlier, exit 3)
    const result = als(
      'update',
      write('huge.tsv', 'user2\t\tRadiohead\t3e38\nuser2\t\tRadiohead\t3e38\n'),
      '--model',
      dir,
    );
    assert.ok(result.status === 3 || result.status === 4, `${result.status} ${result.stderr}`);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
    assert.doesNotMatch(result.stderr, /internal error/);
    assert.equal(hashDirectory(dir), before);
    assert.ok(loadModel(dir).userFactors.every(Number.isFinite));
  });

  it('no model: exit 4, nothing written', () => {
    const missing = join(work, 'no-model');
    const result = als('update', write('ok.tsv', 'user2\t\tAir\t5\n'), '--model', missing);
    assert.equal(result.status, 4);
    assert.match(result.stderr, /^als: no model in .*no-model/);
    assert.throws(() => readdirSync(missing));
  });
});
