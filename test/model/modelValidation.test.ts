import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { train } from '../../src/als/train.js';
import { readInteractions } from '../../src/data/read.js';
import { AlsError } from '../../src/errors.js';
import { describeModelDirectory } from '../../src/model/files.js';
import { loadModel, type LoadOptions } from '../../src/model/load.js';
import { createWasmKernels } from '../../src/kernels/index.js';
import type { AlsModel } from '../../src/model/model.js';
import { saveModel } from '../../src/model/save.js';
import { userFactorRows } from '../../src/model/fileRows.js';
import { ALS_BIN, nobodyCommand, tempDir } from '../helpers.js';

/** Regression tests of issue 9, classes 4, 6 and 7: loading validates everything it reads. */

const work = tempDir('als-validate-');
const queryKernels = await createWasmKernels(1);
after(() => queryKernels.dispose());
chmodSync(work, 0o777);
const input = join(work, 'plays.tsv');
writeFileSync(
  input,
  ['u1\ti1\t3', 'u1\ti2\t1', 'u2\ti2\t5', 'u2\ti3\t2', 'u3\ti1\t1', 'u3\ti3\t9', 'u3\ti4\t2'].join('\n') + '\n',
);
const trained = await train(await readInteractions(input, { format: 'triples' }), {
  factors: 2,
  iterations: 2,
  threads: 1,
});
const base = join(work, 'base');
await saveModel(trained, base, { read: 0.1, train: 0.2 });

const nobody = nobodyCommand();

function als(args: string[], asNobody = false): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  const argv = [ALS_BIN, ...args];
  const result = asNobody
    ? spawnSync((nobody as { argv: string[] }).argv[0], [...(nobody as { argv: string[] }).argv.slice(1), ...args], {
        cwd: work,
        encoding: 'utf8',
        env,
      })
    : spawnSync(process.execPath, argv, { cwd: work, encoding: 'utf8', env, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

let copies = 0;
/** A copy of the base model (links copied as links, so that the copy is independent). */
function copy(): string {
  const target = join(work, `copy-${++copies}`);
  cpSync(base, target, { recursive: true, verbatimSymlinks: true });
  return target;
}

/** The live version's directory, where the files are. */
const live = (dir: string) => join(dir, '.als', 'current');

function manifestOf(dir: string): Record<string, any> {
  return JSON.parse(readFileSync(join(live(dir), 'model.json'), 'utf8'));
}

function writeManifest(dir: string, manifest: Record<string, any>): void {
  writeFileSync(join(live(dir), 'model.json'), JSON.stringify(manifest));
}

/** Changes a data file and records its new checksum, so that the change gets past the checksum. */
function rewrite(dir: string, name: string, change: (data: Buffer) => void): string {
  const path = join(live(dir), name);
  const data = readFileSync(path);
  change(data);
  writeFileSync(path, data);
  const manifest = manifestOf(dir);
  manifest.files[name].sha256 = createHash('sha256').update(data).digest('hex');
  writeManifest(dir, manifest);
  return dir;
}

/** Loads and reads every part, as `als info` does (the factors in kernel memory with `options`, as queries read them). */
function readAll(dir: string, options: LoadOptions = {}): AlsModel {
  const model = loadModel(dir, options);
  void [model.userFactors, model.itemFactors, model.userIds, model.itemNames, model.itemUserCounts, model.userItems];
  return model;
}

function rejects(dir: string, pattern: RegExp): void {
  // factors read into ordinary memory are checked by validate.ts; in kernel memory, by the kernels
  for (const options of [{}, { factorMemory: queryKernels }]) {
    assert.throws(
      () => readAll(dir, options),
      (e: unknown) =>
        e instanceof AlsError && e.code === 'model' && pattern.test(e.message) && !e.message.includes('\n'),
    );
  }
}

describe('issue 9, classes 4, 6, 7: loading a model validates every file', () => {
  it('rejects non-finite factors even when the checksums were made to match', () => {
    rejects(
      rewrite(copy(), 'user_factors.f32', (d) => d.writeFloatLE(NaN, 4)),
      /user_factors\.f32 holds a non-finite value \(NaN or ∞\) at position 1/,
    );
    rejects(
      rewrite(copy(), 'item_factors.f32', (d) => d.writeFloatLE(Infinity, 0)),
      /item_factors\.f32 holds a non-finite value/,
    );
  });

  it('rejects factors too large to score (|x| > 1e15) with the checksums made to match; 9e14 loads (G2)', async () => {
    rejects(
      rewrite(copy(), 'user_factors.f32', (d) => d.writeFloatLE(3e38, 4)),
      /user_factors\.f32 holds a value too large to score \(\|x\| > 1e15\) at position 1 /,
    );
    rejects(
      rewrite(copy(), 'item_factors.f32', (d) => d.writeFloatLE(-2e15, 12)),
      /item_factors\.f32 holds a value too large to score \(\|x\| > 1e15\) at position 3 /,
    );
    const fine = readAll(rewrite(copy(), 'item_factors.f32', (d) => d.writeFloatLE(9e14, 0)));
    assert.equal(fine.itemFactors[0], Math.fround(9e14));
    // the streamed reader of user factors (recommend --all) holds the same line
    await assert.rejects(
      userFactorRows(loadModel(rewrite(copy(), 'user_factors.f32', (d) => d.writeFloatLE(1e20, 8)))),
      (e: unknown) =>
        e instanceof AlsError &&
        e.code === 'model' &&
        /user_factors\.f32 holds a value too large to score \(\|x\| > 1e15\) at position 2 /.test(e.message),
    );
  });

  it('saveModel refuses factors too large to score, naming the side and position (G2)', async () => {
    for (const [key, what] of [
      ['userFactors', 'user factors'],
      ['itemFactors', 'item factors'],
    ] as const) {
      const values = trained[key].slice();
      values[3] = -1e20;
      const target = join(work, `huge-${key}`);
      await assert.rejects(
        saveModel({ ...trained, [key]: values }, target),
        (e: unknown) =>
          e instanceof AlsError &&
          e.code === 'model' &&
          new RegExp(
            `^refusing to save a model whose ${what} hold a value too large to score \\(\\|x\\| > 1e15\\) at position 3:`,
          ).test(e.message),
      );
      assert.equal(existsSync(join(target, 'model.json')), false);
    }
  });

  it('rejects item indices out of order or out of range, and play counts that are not finite and positive', () => {
    // u1 holds items 0 and 1: swapped, they are no longer ascending
    rejects(
      rewrite(copy(), 'user_items.indices.i32', (d) => {
        d.writeInt32LE(1, 0);
        d.writeInt32LE(0, 4);
      }),
      /user_items\.indices\.i32 is not ascending within user row 0/,
    );
    rejects(
      rewrite(copy(), 'user_items.indices.i32', (d) => d.writeInt32LE(99, 4)),
      /holds an item index out of range/,
    );
    for (const value of [-3, 0, NaN, Infinity]) {
      rejects(
        rewrite(copy(), 'user_items.plays.f32', (d) => d.writeFloatLE(value, 8)),
        new RegExp(`holds a play count of ${value}`),
      );
    }
    rejects(
      rewrite(copy(), 'item_listeners.i32', (d) => d.writeInt32LE(4, 0)),
      /item_listeners\.i32 holds a count out of range/,
    );
    rejects(
      rewrite(copy(), 'user_items.indptr.i32', (d) => d.writeInt32LE(6, 12)),
      /user_items\.indptr\.i32 does not span the matrix/,
    );
  });

  it('rejects a crafted model.json: input, losses, updates, options, factors, shapes, dtypes', () => {
    const cases: [(m: Record<string, any>) => void, RegExp][] = [
      [(m) => (m.input = {}), /model\.json describes the input wrongly/],
      [(m) => (m.input = 'plays.tsv'), /describes the input wrongly/],
      [(m) => (m.training.losses = [null]), /losses that are not a list of finite numbers/],
      [(m) => (m.training.losses = [1, 'x']), /losses that are not a list of finite numbers/],
      [(m) => (m.training = 5), /describes the training wrongly/],
      [(m) => (m.updates = 'yes'), /updates that are not a list of objects/],
      [(m) => (m.updates = [null]), /updates that are not a list of objects/],
      [(m) => (m.options = null), /holds no training options/],
      [(m) => (m.options.factors = 5), /gives 2 factors, but its training options 5/],
      [(m) => (m.factors = 1_000_000), /gives 1000000 factors \(1 to 1024 are possible\)/],
      [(m) => (m.factors = 1025), /gives 1025 factors/],
      [(m) => (m.users = 1e15), /has bad shapes/],
      [(m) => (m.users = 2.5), /has bad shapes/],
      [(m) => (m.files['user_factors.f32'].dtype = 'json'), /describes user_factors\.f32 wrongly/],
      [(m) => (m.files['user_ids.json'].sha256 = 42), /describes user_ids\.json wrongly/],
      [(m) => (m.files = []), /lists no files/],
      [(m) => (m.version = { v: 2 }), /model format version \{"v":2\}, but this als reads version 2/],
    ];
    for (const [change, pattern] of cases) {
      const dir = copy();
      const manifest = manifestOf(dir);
      change(manifest);
      writeManifest(dir, manifest);
      rejects(dir, pattern);
    }
    const array = copy();
    writeFileSync(join(live(array), 'model.json'), '[1, 2]');
    rejects(array, /model\.json does not describe an als model/);
  });

  it('reads only regular files of the listed size: a symlink or FIFO in place of a data file is refused', () => {
    const linked = copy();
    const target = join(work, 'outside.f32');
    writeFileSync(target, readFileSync(join(live(linked), 'item_factors.f32')));
    rmSync(join(live(linked), 'item_factors.f32'));
    symlinkSync(target, join(live(linked), 'item_factors.f32'));
    rejects(linked, /item_factors\.f32 is a symbolic link, not a regular file/);

    const fifo = copy();
    rmSync(join(live(fifo), 'user_ids.json'));
    execFileSync('mkfifo', [join(live(fifo), 'user_ids.json')]);
    rejects(fifo, /user_ids\.json is a FIFO/);

    const truncated = copy();
    truncateSync(join(live(truncated), 'user_items.plays.f32'), 4);
    rejects(truncated, /user_items\.plays\.f32 has 4 bytes, expected 28/);
  });

  it('ignores a timings.json that is a FIFO, a symlink to a big file or over 64 KiB (never blocks, never reads it, never counts it)', () => {
    const fifo = copy();
    rmSync(join(live(fifo), 'timings.json'));
    execFileSync('mkfifo', [join(live(fifo), 'timings.json')]);
    const big = copy();
    const huge = join(work, 'huge.json');
    writeFileSync(huge, '');
    truncateSync(huge, 2 ** 30);
    rmSync(join(live(big), 'timings.json'));
    symlinkSync(huge, join(live(big), 'timings.json'));
    const large = copy();
    writeFileSync(join(live(large), 'timings.json'), `{"read": 1, "pad": "${'x'.repeat(70_000)}"}`);
    for (const dir of [fifo, big, large]) {
      const described = describeModelDirectory(readAll(dir));
      assert.equal(described.timings, null);
      // listed only when it is read: a regular file of at most 64 KiB (a crafted sparse file of 10 GB made the model's total 10 GB)
      assert.equal(described.files.length, 9, 'timings.json is listed only when it is read');
      assert.ok(described.totalBytes < 2 ** 20, String(described.totalBytes));
    }
    // through the CLI too: `als info` finishes, without timings
    const result = als(['info', '--model', fifo, '--json']);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).seconds, null);
  });

  it('als info reports crafted and poisoned models as one line with exit 4, never an internal error', () => {
    const inputEmpty = copy();
    writeManifest(inputEmpty, { ...manifestOf(inputEmpty), input: {} });
    const lossesNull = copy();
    const m = manifestOf(lossesNull);
    m.training.losses = [null];
    writeManifest(lossesNull, m);
    const factors = copy();
    writeManifest(factors, { ...manifestOf(factors), factors: 1_000_000 });
    const nan = rewrite(copy(), 'item_factors.f32', (d) => d.writeFloatLE(NaN, 0));
    // G2: before, 3e38 passed `als info`, and `similar` gave arbitrary artists at 1.000
    const huge = rewrite(copy(), 'item_factors.f32', (d) => d.writeFloatLE(3e38, 0));
    for (const [dir, pattern] of [
      [inputEmpty, /model\.json describes the input wrongly/],
      [lossesNull, /losses that are not a list of finite numbers/],
      [factors, /gives 1000000 factors/],
      [nan, /item_factors\.f32 holds a non-finite value/],
      [huge, /item_factors\.f32 holds a value too large to score \(\|x\| > 1e15\) at position 0 /],
    ] as const) {
      for (const args of [
        ['info', '--model', dir],
        ['similar', 'i1', '--model', dir, '--json'],
      ]) {
        const result = als(args);
        assert.equal(result.status, 4, `${args.join(' ')}: ${result.stderr}`);
        assert.equal(result.stdout, '');
        assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
        assert.match(result.stderr, pattern);
      }
    }
  });

  it('an unreadable file is a model error naming it (as another user)', (t) => {
    if ('skip' in nobody) return t.skip(nobody.skip);
    const dir = copy();
    chmodSync(join(live(dir), 'item_names.json'), 0o600);
    const result = als(['info', '--model', dir], true);
    assert.equal(result.status, 4, result.stderr);
    assert.equal(result.stderr, `als: ${dir}: cannot read item_names.json: permission denied\n`);
  });

  it('a 240-character model name works; one too long for the file system is a one-line model error', () => {
    const long = join(work, 'm'.repeat(240));
    const trainArgs = ['train', input, '--format', 'triples', '--factors', '2', '--iterations', '1', '-q'];
    const ok = als([...trainArgs, '--model', long]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(readAll(long).users, 3);
    const tooLong = join(work, 'm'.repeat(300));
    for (const args of [
      [...trainArgs, '--model', tooLong],
      ['info', '--model', tooLong],
    ]) {
      const result = als(args);
      assert.equal(result.status, 4, result.stderr);
      assert.match(result.stderr, /^als: .*m{300}.*the name is too long for the file system\n$/);
    }
  });
});
