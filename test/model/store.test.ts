import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AlsError } from '../../src/errors.js';
import { loadModel } from '../../src/model/load.js';
import { lockModel } from '../../src/model/lock.js';
import { saveModel } from '../../src/model/save.js';
import { ALS_BIN, NOBODY, nobodyCommand, tempDir } from '../helpers.js';

/** Regression tests of issue 9, class 1: a model directory never deletes what als did not write. */

const work = tempDir('als-store-');
// nobody must be able to reach what the permission tests make here
chmodSync(work, 0o777);
const plays = join(work, 'plays.tsv');
writeFileSync(
  plays,
  ['u1\ti1\t3', 'u1\ti2\t1', 'u2\ti2\t5', 'u2\ti3\t2', 'u3\ti1\t1', 'u3\ti4\t9', 'u4\ti3\t4', 'u4\ti4\t2'].join('\n') +
    '\n',
);
chmodSync(plays, 0o644);

const asNobody = nobodyCommand();

function als(
  args: string[],
  options: { cwd?: string; asNobody?: boolean } = {},
): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  const [command, ...argv] =
    options.asNobody && 'argv' in asNobody ? [...asNobody.argv, ...args] : [process.execPath, ALS_BIN, ...args];
  const result = spawnSync(command, argv, { cwd: options.cwd ?? work, encoding: 'utf8', env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const trainArgs = (model: string, input = plays, factors = '2') => [
  'train',
  input,
  '--format',
  'triples',
  '--factors',
  factors,
  '--iterations',
  '2',
  '-q',
  '--model',
  model,
];

/** Every name, link target, file type and content under `dir`, recursively. */
function tree(dir: string, hash = createHash('sha256')): string {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    hash.update(`${name} ${stat.mode} ${stat.uid}\n`);
    if (stat.isSymbolicLink()) hash.update(readlinkSync(path));
    else if (stat.isDirectory()) tree(path, hash);
    else if (stat.isFile()) hash.update(readFileSync(path));
  }
  return hash.copy().digest('hex');
}

function oneLine(result: { stderr: string }, pattern: RegExp): void {
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(result.stderr, /internal error/);
}

describe('issue 9, class 1: what a model directory may be', () => {
  it('refuses a copy made by following the links (cp -rL) as not written by als, and says how to copy a model', () => {
    const model = join(work, 'to-copy');
    assert.equal(
      als(['train', plays, '--model', model, '--format', 'triples', '--factors', '2', '--iterations', '1', '-q'])
        .status,
      0,
    );
    const copy = join(work, 'copied-with-L');
    execFileSync('cp', ['-rL', model, copy]);
    const info = als(['info', '--model', copy]);
    assert.equal(info.status, 4);
    assert.match(
      info.stderr,
      /\.als\/current is not a link \(a copy that followed the links, such as cp -rL, makes it a folder: copy a model with cp -a or rsync -a\)/,
    );
    assert.equal(info.stderr.trim().split('\n').length, 1);
    const kept = join(work, 'copied-with-a');
    execFileSync('cp', ['-a', model, kept]);
    assert.equal(als(['info', '--model', kept]).status, 0);
  });

  it("refuses a folder holding another tool's model.json (exit 4) and leaves every file byte for byte", () => {
    const other = join(work, 'other-tool');
    mkdirSync(other);
    writeFileSync(join(other, 'model.json'), '{"format":"other"}');
    writeFileSync(join(other, 'weights.bin'), Buffer.from([1, 2, 3, 4]));
    writeFileSync(join(other, 'notes.txt'), 'keep me');
    const before = tree(other);
    for (const args of [trainArgs(other), ['update', plays, '--model', other, '-q']]) {
      const result = als(args);
      assert.equal(result.status, 4, result.stderr);
      oneLine(result, /other-tool: not empty and not an als model; refusing to write a model there/);
      assert.equal(tree(other), before);
    }
  });

  it('refuses --model . in a project folder (exit 4), touching nothing, the input included', () => {
    const project = join(work, 'project');
    mkdirSync(join(project, 'src'), { recursive: true });
    writeFileSync(join(project, 'package.json'), '{"name": "mine"}');
    // a model.json of the project's own: main took any folder holding one for a model and replaced it
    writeFileSync(join(project, 'model.json'), '{"layers": [3, 2]}');
    writeFileSync(join(project, 'src', 'index.js'), 'export {};');
    writeFileSync(join(project, 'plays.tsv'), readFileSync(plays));
    const before = tree(project);
    const result = als(trainArgs('.', 'plays.tsv'), { cwd: project });
    assert.equal(result.status, 4, result.stderr);
    oneLine(result, /not empty and not an als model/);
    assert.equal(tree(project), before);
  });

  it('an empty --model is a usage error (exit 2), for writers and readers', async () => {
    for (const args of [trainArgs(''), ['similar', 'i1', '--model', '']]) {
      const result = als(args);
      assert.equal(result.status, 2, result.stderr);
      oneLine(result, /^als: the model directory must be a non-empty path/);
    }
    const usage = (e: unknown) => e instanceof AlsError && e.code === 'usage';
    assert.throws(() => loadModel(''), usage);
    await assert.rejects(lockModel(''), usage);
    await assert.rejects(saveModel({} as never, ''), usage);
  });

  it('keeps notes and the input file inside an als model directory through train and update', () => {
    const model = join(work, 'with-notes');
    assert.equal(als(trainArgs(model)).status, 0);
    // the user keeps the input and notes beside the model, and trains from that copy
    const input = join(model, 'plays.tsv');
    writeFileSync(input, readFileSync(plays));
    writeFileSync(join(model, 'notes.txt'), 'my notes');
    const trained = als(trainArgs(model, input, '3'));
    assert.equal(trained.status, 0, trained.stderr);
    writeFileSync(join(model, 'new.tsv'), 'u9\ti1\t2\n');
    const updated = als(['update', join(model, 'new.tsv'), '--model', model, '-q']);
    assert.equal(updated.status, 0, updated.stderr);
    assert.equal(readFileSync(join(model, 'notes.txt'), 'utf8'), 'my notes');
    assert.deepEqual(readFileSync(input), readFileSync(plays));
    assert.equal(readFileSync(join(model, 'new.tsv'), 'utf8'), 'u9\ti1\t2\n');
    const loaded = loadModel(model);
    assert.equal(loaded.factors, 3);
    assert.deepEqual(loaded.userIds, ['u1', 'u2', 'u3', 'u4', 'u9']);
    assert.deepEqual(readdirSync(model).sort(), [
      '.als',
      'item_factors.f32',
      'item_listeners.i32',
      'item_names.json',
      'model.json',
      'new.tsv',
      'notes.txt',
      'plays.tsv',
      'timings.json',
      'user_factors.f32',
      'user_ids.json',
      'user_items.indices.i32',
      'user_items.indptr.i32',
      'user_items.plays.f32',
    ]);
    // the documented layout is still readable at the top level, through links to the live version
    assert.equal(readlinkSync(join(model, 'user_factors.f32')), '.als/current/user_factors.f32');
    const raw = readFileSync(join(model, 'user_factors.f32'));
    assert.deepEqual(new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4), loaded.userFactors);
  });

  it('writes through a --model symlink to its target; the link stays a link', () => {
    const real = join(work, 'deployed-v1');
    const link = join(work, 'deployed');
    assert.equal(als(trainArgs(real)).status, 0);
    symlinkSync('deployed-v1', link);
    const result = als(trainArgs(link, plays, '3'));
    assert.equal(result.status, 0, result.stderr);
    assert.equal(lstatSync(link).isSymbolicLink(), true);
    assert.equal(readlinkSync(link), 'deployed-v1');
    assert.equal(loadModel(real).factors, 3, 'the target holds the new model');
    assert.equal(JSON.parse(readFileSync(join(real, 'model.json'), 'utf8')).factors, 3);
  });

  it('refuses a file, a FIFO, a dangling symlink and a missing parent at --model (exit 4), untouched', () => {
    const file = join(work, 'a-file');
    writeFileSync(file, 'data');
    const fifo = join(work, 'a-fifo');
    execFileSync('mkfifo', [fifo]);
    const dangling = join(work, 'dangling');
    symlinkSync('nowhere', dangling);
    // .als planted as a symlink to another directory: als's versions and lock must not go there
    const planted = join(work, 'planted');
    const elsewhere = join(work, 'elsewhere');
    mkdirSync(elsewhere);
    mkdirSync(planted);
    symlinkSync(elsewhere, join(planted, '.als'));
    for (const [target, pattern] of [
      [file, /a-file: exists and is not a directory/],
      [fifo, /a-fifo: exists and is not a directory/],
      [dangling, /dangling: is a symbolic link to "nowhere", which cannot be used/],
      [join(work, 'no-parent', 'model'), /its parent directory does not exist/],
      [planted, /planted: not empty and not an als model/],
    ] as const) {
      const result = als(trainArgs(target));
      assert.equal(result.status, 4, result.stderr);
      oneLine(result, pattern);
    }
    assert.equal(readFileSync(file, 'utf8'), 'data');
    assert.equal(lstatSync(fifo).isFIFO(), true);
    assert.equal(readlinkSync(dangling), 'nowhere');
    assert.equal(existsSync(join(work, 'nowhere')), false);
    assert.equal(existsSync(join(work, 'no-parent')), false);
    assert.deepEqual(readdirSync(elsewhere), []);
  });

  it('as another user: a root-owned folder or model is refused (exit 4) untouched; an own model directory works', (t) => {
    if ('skip' in asNobody) return t.skip(asNobody.skip);
    const rootEmpty = join(work, 'root-empty');
    mkdirSync(rootEmpty, { mode: 0o755 });
    const rootModel = join(work, 'root-model');
    assert.equal(als(trainArgs(rootModel)).status, 0);
    const before = [tree(rootEmpty), tree(rootModel)];
    const a = als(trainArgs(rootEmpty), { asNobody: true });
    assert.equal(a.status, 4, a.stderr);
    oneLine(a, /root-empty: permission denied$/);
    const b = als(['update', plays, '--format', 'triples', '--model', rootModel, '-q'], { asNobody: true });
    assert.equal(b.status, 4, b.stderr);
    oneLine(b, /root-model.*permission denied$/);
    assert.deepEqual([tree(rootEmpty), tree(rootModel)], before);

    // in a shared sticky directory, a folder another user planted at the path is refused
    const shared = join(work, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const planted = join(shared, 'model');
    mkdirSync(planted);
    chownSync(planted, NOBODY, NOBODY);
    const d = als(trainArgs(planted));
    assert.equal(d.status, 4, d.stderr);
    oneLine(d, /shared\/model: .*shared\/model is a directory of another user \(uid 65534\)/);
    assert.deepEqual(readdirSync(planted), []);

    const own = join(work, 'nobody-model');
    mkdirSync(own);
    chownSync(own, NOBODY, NOBODY);
    for (const factors of ['2', '3']) assert.equal(als(trainArgs(own, plays, factors), { asNobody: true }).status, 0);
    writeFileSync(join(work, 'nobody-new.tsv'), 'u7\ti2\t1\n');
    const c = als(['update', join(work, 'nobody-new.tsv'), '--model', own, '-q'], { asNobody: true });
    assert.equal(c.status, 0, c.stderr);
    assert.deepEqual(loadModel(own).userIds, ['u1', 'u2', 'u3', 'u4', 'u7']);
    assert.equal(lstatSync(join(own, '.als', 'current')).uid, NOBODY);
  });
});
