import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { train } from '../../src/als/train.js';
import { readInteractions } from '../../src/data/read.js';
import { describeModelDirectory } from '../../src/model/files.js';
import { saveModel } from '../../src/model/save.js';
import { loadModel } from '../../src/model/load.js';
import { ALS_BIN, SAMPLE, tempDir } from '../helpers.js';

const work = tempDir('als-info-');
const withLoss = join(work, 'with-loss');
const plain = join(work, 'plain');

function als(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  const result = spawnSync(process.execPath, [ALS_BIN, ...args], { cwd: work, encoding: 'utf8', env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function info(dir: string): Record<string, any> {
  const result = als('info', '--model', dir, '--json');
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout);
}

/** A copy of the model with loss to break. */
function copy(name: string): string {
  const target = join(work, name);
  // verbatim: the top-level links (model.json → .als/current/model.json) stay relative, inside the copy
  cpSync(withLoss, target, { recursive: true, verbatimSymlinks: true });
  return target;
}

const DATA_FILES = [
  'user_factors.f32',
  'item_factors.f32',
  'user_items.indptr.i32',
  'user_items.indices.i32',
  'user_items.plays.f32',
  'user_ids.json',
  'item_names.json',
  'item_listeners.i32',
];

before(() => {
  const a = als('train', SAMPLE, '--model', withLoss, '--factors', '4', '--iterations', '3', '--loss', '--seed', '7');
  assert.equal(a.status, 0, a.stderr);
  const b = als(
    'train',
    SAMPLE,
    '--model',
    plain,
    '--factors',
    '8',
    '--iterations',
    '2',
    '--weighting',
    'bm25',
    '--solver',
    'naive',
  );
  assert.equal(b.status, 0, b.stderr);
});

describe('als info --json', () => {
  it('shapes, options, the input read, timings, every loss, file sizes', () => {
    const d = info(withLoss);
    assert.equal(d.model, withLoss);
    assert.equal(d.format, 'als-model');
    assert.equal(d.version, 2);
    assert.equal(d.users, 1_892);
    assert.equal(d.items, 17_620);
    assert.equal(d.factors, 4);
    assert.equal(d.interactions, 92_830);
    assert.equal(d.options.factors, 4);
    assert.equal(d.options.iterations, 3);
    assert.equal(d.options.seed, 7);
    assert.equal(d.options.weighting, 'log');
    assert.equal(d.options.alpha, 2);
    assert.equal(d.options.computeLoss, true);
    assert.deepEqual(d.input, {
      file: SAMPLE,
      format: 'lastfm',
      rows: 92_834,
      used: 92_834,
      skipped: 0,
      zeroCounts: 0,
      duplicates: 4,
      header: false,
    });
    assert.deepEqual(Object.keys(d.seconds).sort(), ['read', 'train']);
    assert.ok(d.seconds.read > 0 && d.seconds.train > 0, JSON.stringify(d.seconds));
    assert.deepEqual(d.seconds, JSON.parse(readFileSync(join(withLoss, 'timings.json'), 'utf8')));

    const manifest = JSON.parse(readFileSync(join(withLoss, 'model.json'), 'utf8'));
    assert.equal(d.losses.length, 3);
    assert.deepEqual(d.losses, manifest.training.losses);
    assert.ok(d.losses.every((l: number) => l > 0 && Number.isFinite(l)));

    assert.deepEqual(
      d.files.map((f: { name: string }) => f.name),
      ['model.json', ...DATA_FILES, 'timings.json'],
    );
    const expectedBytes: Record<string, number> = {
      'user_factors.f32': 1_892 * 4 * 4,
      'item_factors.f32': 17_620 * 4 * 4,
      'user_items.indptr.i32': 1_893 * 4,
      'user_items.indices.i32': 92_830 * 4,
      'user_items.plays.f32': 92_830 * 4,
    };
    for (const file of d.files) {
      assert.equal(file.bytes, statSync(join(withLoss, file.name)).size, file.name);
      if (file.name in expectedBytes) assert.equal(file.bytes, expectedBytes[file.name], file.name);
    }
    const onDisk = readdirSync(withLoss)
      .filter((n) => n !== '.als')
      .reduce((sum, name) => sum + statSync(join(withLoss, name)).size, 0);
    assert.equal(d.totalBytes, onDisk);
    assert.equal(Date.parse(d.modified), statSync(join(withLoss, 'model.json')).mtime.getTime());
  });

  it('losses null without --loss; the other solver and weighting', () => {
    const d = info(plain);
    assert.equal(d.losses, null);
    assert.equal(d.factors, 8);
    assert.equal(d.options.solver, 'naive');
    assert.equal(d.options.weighting, 'bm25');
    assert.equal(d.options.alpha, 1);
  });
});

describe('als info', () => {
  it('prints one line per subject, the final loss and a file table', () => {
    const result = als('info', '--model', withLoss);
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    const losses: number[] = JSON.parse(readFileSync(join(withLoss, 'model.json'), 'utf8')).training.losses;
    assert.equal(lines[0], `Model    ${withLoss} (als-model version 2; all 8 data files match their checksums)`);
    assert.equal(lines[1], 'Matrix   1,892 users × 17,620 items, 92,830 interactions (0.278% filled)');
    assert.match(
      lines[2],
      /^Trained  cg \(3 steps\), 4 factors, 3 iterations, log α=2 λ=1\.6·n, seed 7 \(\d+\.\d\d s\)$/,
    );
    // issue 12: the defaults rule the training applied
    assert.match(
      lines[3],
      /^Rule     counts \(\d+% of them are 1\): log α=2, λ=1\.6·n, 64 factors \(settings given win over it\)$/,
    );
    assert.match(
      lines[4],
      /^Input    .*lastfm-2k\.tsv \(lastfm\): 92,834 rows, 92,834 used, 0 skipped, 0 with count 0, 4 duplicates summed \(\d+\.\d\d s\)$/,
    );
    assert.equal(lines[5], `Loss     ${losses[2].toPrecision(6)} after 3 iterations`);
    assert.match(lines[6], /^Files    model\.json +\d+\.\d KB$/);
    assert.match(lines[7], /^ {9}user_factors\.f32 +29\.6 KB$/);
    assert.match(lines[8], /^ {9}item_factors\.f32 +275\.3 KB$/);
    assert.match(lines[14], /^ {9}item_listeners\.i32 +68\.8 KB$/);
    assert.match(lines[15], /^ {9}timings\.json +\d+ B$/);
    assert.match(lines[16], /^ {9}total +\d+\.\d MB$/);
    assert.match(lines[17], /^Saved    \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(when model\.json was written\)$/);
    assert.equal(lines.length, 18);
    assert.doesNotMatch(result.stdout, /\x1b\[/, 'no colour when piped');

    const other = als('info', '--model', plain);
    assert.equal(other.status, 0, other.stderr);
    assert.match(
      other.stdout,
      /^Trained  naive \(exact\), 8 factors, 2 iterations, bm25 α=1 λ=1\.6·n K1=100 B=0\.8, seed 1 \(/m,
    );
    assert.match(other.stdout, /^Loss     not recorded \(train with --loss\)$/m);
  });

  it('a model saved without timings or input summary (library use)', async () => {
    const path = join(work, 'small.tsv');
    writeFileSync(path, 'a\tx\t1\na\ty\t2\nb\ty\t3\n');
    const model = await train(await readInteractions(path, { format: 'triples' }), {
      factors: 2,
      iterations: 1,
      threads: 1,
    });
    const dir = join(work, 'library');
    await saveModel({ ...model, input: null }, dir);
    const d = info(dir);
    assert.equal(d.seconds, null, 'timings.json is {}');
    assert.equal(d.input, null);
    assert.equal(d.users, 2);
    assert.equal(d.interactions, 3);
    const text = als('info', '--model', dir);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^Trained  cg \(3 steps\), 2 factors, 1 iteration, log α=2 λ=10, seed 1$/m);
    assert.match(text.stdout, /^Input    not recorded$/m);
  });

  it('timings.json missing or unreadable: no timings, the rest as usual', () => {
    const missing = copy('no-timings');
    rmSync(join(missing, '.als', 'current', 'timings.json'));
    const a = info(missing);
    assert.equal(a.seconds, null);
    assert.equal(a.files.length, 9);
    const broken = copy('bad-timings');
    writeFileSync(join(broken, 'timings.json'), '{oops');
    const b = info(broken);
    assert.equal(b.seconds, null);
    assert.deepEqual(b.files.at(-1), { name: 'timings.json', bytes: 5 });
  });
});

describe('als info on a bad model: exit 4, one line', () => {
  const cases: { name: string; dir: () => string; message: (dir: string) => RegExp | string }[] = [
    {
      name: 'no model',
      dir: () => join(work, 'nothing-here'),
      message: (dir) => new RegExp(`^als: no model in ${dir} \\(train one with: als train FILE --model`),
    },
    {
      // `similar` never reads the play counts; info checks them too
      name: 'a flipped byte in user_items.plays.f32',
      dir: () => {
        const dir = copy('flipped');
        const raw = readFileSync(join(dir, 'user_items.plays.f32'));
        raw[100] ^= 0x01;
        writeFileSync(join(dir, 'user_items.plays.f32'), raw);
        return dir;
      },
      message: (dir) =>
        `als: ${dir}: user_items.plays.f32 fails its checksum (the model is corrupt or incomplete; train it again)\n`,
    },
    {
      name: 'a changed user id',
      dir: () => {
        const dir = copy('renamed');
        const path = join(dir, 'user_ids.json');
        writeFileSync(path, readFileSync(path, 'utf8').replace('"user2"', '"userX"'));
        return dir;
      },
      message: (dir) =>
        `als: ${dir}: user_ids.json fails its checksum (the model is corrupt or incomplete; train it again)\n`,
    },
    {
      name: 'changed listener counts',
      dir: () => {
        const dir = copy('listeners');
        const path = join(dir, 'item_listeners.i32');
        const bytes = readFileSync(path);
        bytes[0] ^= 1;
        writeFileSync(path, bytes);
        return dir;
      },
      message: (dir) =>
        `als: ${dir}: item_listeners.i32 fails its checksum (the model is corrupt or incomplete; train it again)\n`,
    },
    {
      name: 'a truncated file',
      dir: () => {
        const dir = copy('truncated');
        truncateSync(join(dir, 'item_factors.f32'), 1000);
        return dir;
      },
      message: (dir) =>
        `als: ${dir}: item_factors.f32 has 1000 bytes, expected 281920 (the model is corrupt or incomplete; train it again)\n`,
    },
    {
      name: 'a missing data file',
      dir: () => {
        const dir = copy('missing-file');
        rmSync(join(dir, '.als', 'current', 'item_names.json'));
        return dir;
      },
      message: (dir) =>
        `als: ${dir}: item_names.json is missing (the model is corrupt or incomplete; train it again)\n`,
    },
    {
      name: 'another format version',
      dir: () => {
        const dir = copy('version');
        const path = join(dir, 'model.json');
        writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), version: 1 }));
        return dir;
      },
      message: (dir) => `als: ${dir}: model format version 1, but this als reads version 2; train the model again\n`,
    },
    {
      name: 'model.json not JSON',
      dir: () => {
        const dir = copy('not-json');
        writeFileSync(join(dir, 'model.json'), '{');
        return dir;
      },
      message: (dir) =>
        `als: ${dir}: model.json is not valid JSON (the model is corrupt or incomplete; train it again)\n`,
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const dir = c.dir();
      for (const json of [[], ['--json']]) {
        const result = als('info', '--model', dir, ...json);
        assert.equal(result.status, 4, result.stderr);
        assert.equal(result.stdout, '');
        const expected = c.message(dir);
        if (typeof expected === 'string') assert.equal(result.stderr, expected);
        else assert.match(result.stderr, expected);
        assert.equal(result.stderr.trimEnd().split('\n').length, 1);
      }
    });
  }
});

describe('describeModelDirectory', () => {
  it('lists the files in format order with their sizes and sums them', () => {
    const d = describeModelDirectory(loadModel(withLoss));
    assert.deepEqual(
      d.files.map((f) => f.name),
      ['model.json', ...DATA_FILES, 'timings.json'],
    );
    assert.equal(
      d.totalBytes,
      d.files.reduce((sum, f) => sum + f.bytes, 0),
    );
    assert.equal(d.files[1].bytes, 1_892 * 4 * 4);
    assert.ok(d.timings !== null && d.timings.read > 0 && d.timings.train > 0);
    assert.ok(d.modified instanceof Date);
  });
});
