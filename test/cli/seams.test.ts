import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chownSync,
  lchownSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { train } from '../../src/als/train.js';
import { confidences } from '../../src/als/weighting.js';
import { updateModel } from '../../src/als/update.js';
import { readInteractions } from '../../src/data/read.js';
import { AlsError } from '../../src/errors.js';
import { describeModelDirectory } from '../../src/model/files.js';
import { closeModel, loadModel } from '../../src/model/load.js';
import { lockModel } from '../../src/model/lock.js';
import { saveModel } from '../../src/model/save.js';
import { updateModelDirectory } from '../../src/model/updateDirectory.js';
import { closestNames, findItem, findUser } from '../../src/query/lookup.js';
import { cooToCsr } from '../../src/data/sparse.js';
import { trainingThreads } from '../../src/als/resources.js';
import { resolveTrainOptions } from '../../src/als/options.js';
import { parseItemList } from '../../src/query/listened.js';
import { writeAllSimilar } from '../../src/query/similarAll.js';
import { ALS_BIN, NOBODY, tempDir } from '../helpers.js';

/**
 * Regression tests of issue 9 at the seams between its parts (the readers, the numbers, the
 * model store, the queries), found by reviewing the change as a whole.
 */
const work = tempDir('als-seams-');
const isUsage = (pattern: RegExp) => (e: unknown) =>
  e instanceof AlsError && e.code === 'usage' && pattern.test(e.message);

function als(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  const result = spawnSync(process.execPath, [ALS_BIN, ...args], { cwd: work, encoding: 'utf8', env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function smallModel(dir: string) {
  const file = join(work, `${Math.random().toString(36).slice(2)}.tsv`);
  const rows: string[] = [];
  for (let u = 0; u < 10; u++)
    for (let i = 0; i < 8; i++) if ((u + i) % 3 !== 0) rows.push(`u${u}\ti${i}\t${1 + ((u * 5 + i) % 7)}`);
  writeFileSync(file, `${rows.join('\n')}\n`);
  const model = await train(await readInteractions(file, { format: 'triples' }), {
    factors: 2,
    iterations: 2,
    threads: 1,
  });
  const saved = await saveModel(model, dir);
  return { model, saved };
}

describe('issue 9 at the seams between readers, numbers, store and queries', () => {
  it('duplicates whose sum passes the largest count are an input error naming the user and item, not a library message', () => {
    const file = join(work, 'sums.tsv');
    writeFileSync(file, 'u1\t\tRadiohead\t9e14\nu1\t\tMuse\t3\nu1\t\tRadiohead\t9e14\n');
    const result = als('train', file, '--model', join(work, 'never'));
    assert.equal(result.status, 3, result.stderr);
    assert.match(
      result.stderr,
      /^als: sums\.tsv: the counts of user "u1" and item "Radiohead" add up to 1\.80e\+15, above the largest count als takes \(1e15\)\n$/,
    );
  });

  it('a query names an item or user as the readers store it: NFC, no spaces at the ends', () => {
    const names = ['Björk', 'Radiohead'];
    assert.equal(findItem(names, 'Bjo\u0308rk'), 0, 'NFD');
    assert.equal(findItem(names, '  radiohead '), 1);
    assert.equal(findUser(['Zoë'], 'Zoe\u0308 '), 0);
  });

  it('the public confidences() takes the ranges training takes, and refuses confidences training cannot carry', () => {
    const plays = {
      rows: 1,
      cols: 1,
      indptr: Int32Array.of(0, 1),
      indices: Int32Array.of(0),
      data: Float32Array.of(5),
    };
    const base = { weighting: 'linear' as const, alpha: 1, bm25K1: 100, bm25B: 0.8 };
    assert.throws(
      () => confidences(plays, { ...base, alpha: 1e30 }),
      isUsage(/^options\.alpha must be a number from 0 to 1e6, not 1e30$/),
    );
    assert.throws(
      () => confidences(plays, { ...base, bm25B: 5 }),
      isUsage(/^options\.bm25B must be a number from 0 to 1, not 5$/),
    );
    const big = { ...plays, data: Float32Array.of(1e14) };
    assert.throws(() => confidences(big, { ...base, alpha: 40 }), isUsage(/above the 1e9/));
    assert.deepEqual(Array.from(confidences(plays, base)), [6]);
  });

  it('a new model directory may sit under a linked parent (the link is judged by the trust rule, then followed)', async () => {
    const real = join(work, 'real-parent');
    mkdirSync(real);
    const link = join(work, 'linked-parent');
    symlinkSync(real, link);
    await smallModel(join(link, 'model'));
    assert.equal(loadModel(join(real, 'model')).items, 8);
  });

  it('a model path that is not a string is a usage error, whatever the value', () => {
    for (const bad of [{ a: 1n }, 5, null])
      assert.throws(() => loadModel(bad as never), isUsage(/^the model directory must be a non-empty path/));
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    assert.throws(() => loadModel(circular as never), isUsage(/^the model directory must be a non-empty path/));
  });

  it('a current link that points outside the versions is a model error, never followed', async () => {
    const dir = join(work, 'escaped');
    await smallModel(dir);
    const elsewhere = join(work, 'elsewhere');
    await smallModel(elsewhere);
    const current = join(dir, '.als', 'current');
    rmSync(current);
    symlinkSync(
      join(elsewhere, '.als', readdirSync(join(elsewhere, '.als')).find((n) => n.startsWith('v')) as string),
      current,
    );
    assert.throws(
      () => loadModel(dir),
      (e: unknown) =>
        e instanceof AlsError && e.code === 'model' && /points outside the model's versions/.test(e.message),
    );
  });

  it('two writers in one process take turns: the second lock waits for the first, so no update is lost', async () => {
    const dir = join(work, 'in-process');
    await smallModel(dir);
    const order: string[] = [];
    const first = await lockModel(dir);
    const second = lockModel(dir, { onLockWait: () => order.push('waiting') }).then(
      (lock) => (order.push('second'), lock),
    );
    await new Promise((done) => setTimeout(done, 150));
    order.push('first done');
    first.release();
    (await second).release();
    assert.deepEqual(order, ['waiting', 'first done', 'second']);
  });

  it('an update in the library holds the lock from load to save, handing it to saveModel', async () => {
    const dir = join(work, 'held');
    await smallModel(dir);
    const lock = await lockModel(dir);
    try {
      const model = loadModel(dir);
      const data = await readInteractions(writeAndReturn(join(work, 'new.tsv'), 'newcomer\ti1\t4\n'), {
        format: 'triples',
      });
      const saved = await saveModel(updateModel(model, data).model, dir, {}, { lock, lockTimeoutMs: 0 });
      assert.ok(saved.bytes > 0);
      await assert.rejects(
        saveModel(model, dir, {}, { lock: { ...lock, dir: '/elsewhere' } }),
        isUsage(/^options\.lock must be the held lock of/),
      );
    } finally {
      lock.release();
    }
    assert.equal(loadModel(dir).userIds.at(-1), 'newcomer');
  });

  it("two updateModelDirectory calls at once in one process are both applied, the second to the first one's result", async () => {
    const dir = join(work, 'twice');
    await smallModel(dir);
    const rows = (id: string) =>
      readInteractions(writeAndReturn(join(work, `${id}.tsv`), `${id}\ti2\t3\nu1\ti0\t5\n`), { format: 'triples' });
    const [a, b] = await Promise.all([
      updateModelDirectory(dir, () => rows('ann')),
      updateModelDirectory(dir, () => rows('bob')),
    ]);
    assert.ok(a.saved && b.saved);
    const final = loadModel(dir);
    assert.deepEqual(final.userIds.slice(-2).sort(), ['ann', 'bob']);
    assert.equal(final.updates?.length, 2);
    // u1 played i0 five more times in each update: both sums are there
    const u1 = final.userIds.indexOf('u1');
    const m = final.userItems;
    let i0 = 0;
    for (let n = m.indptr[u1]; n < m.indptr[u1 + 1]; n++) if (final.itemNames[m.indices[n]] === 'i0') i0 = m.data[n];
    assert.equal(i0, 6 + 5 + 5, 'trained with 6 plays, then 5 from each update');
  });

  it('saveModel says how many bytes it wrote, the size of the version describeModelDirectory lists', async () => {
    const dir = join(work, 'sized');
    const { saved } = await smallModel(dir);
    const loaded = loadModel(dir);
    assert.equal(saved.bytes, describeModelDirectory(loaded).totalBytes);
  });

  it('closeModel closes the files a loaded model holds open; parts read before stay usable', async () => {
    const dir = join(work, 'closed');
    await smallModel(dir);
    const open = () => readdirSync('/proc/self/fd').length;
    const before = open();
    const models = Array.from({ length: 20 }, () => loadModel(dir));
    assert.ok(open() >= before + 20 * 8, 'every part is held open until read');
    for (const model of models) {
      assert.equal(model.itemNames.length, 8);
      closeModel(model);
    }
    assert.equal(open(), before);
    assert.equal(models[0].itemNames.length, 8);
    assert.throws(
      () => models[0].userFactors,
      (e: unknown) => e instanceof AlsError && e.code === 'model' && /closeModel/.test(e.message),
    );
  });
});

describe('issue 9: what the attacker trial found', () => {
  it(
    "--model through another user's link is refused, as the output writer refuses it",
    { skip: process.geteuid?.() !== 0 && 'needs root to plant a link owned by nobody' },
    async () => {
      const prod = join(work, 'prod');
      await smallModel(prod);
      const before = readlinkSync(join(prod, '.als', 'current'));
      const planted = join(work, 'planted-model');
      symlinkSync(prod, planted);
      lchownSync(planted, NOBODY, NOBODY);
      const file = writeAndReturn(join(work, 'retrain.tsv'), 'u1\ti1\t3\nu2\ti1\t2\nu2\ti2\t1\n');
      const result = als('train', file, '--format', 'triples', '--model', planted);
      assert.equal(result.status, 4, result.stderr);
      assert.match(result.stderr, /planted-model is a symbolic link of another user \(uid 65534\)/);
      assert.equal(readlinkSync(join(prod, '.als', 'current')), before, 'the model behind the link is untouched');
    },
  );

  it("a --model inside another model's .als is refused, and that model stays readable", async () => {
    const other = join(work, 'other-model');
    await smallModel(other);
    const file = writeAndReturn(join(work, 'inside.tsv'), 'u1\ti1\t3\nu2\ti1\t2\n');
    for (const inside of [
      join(other, '.als', 'current'),
      join(other, '.als', readlinkSync(join(other, '.als', 'current'))),
    ]) {
      const result = als('train', file, '--format', 'triples', '--model', inside);
      assert.equal(result.status, 4, result.stderr);
      assert.match(result.stderr, /is inside the \.als folder of another model/);
    }
    assert.equal(als('info', '--model', other).status, 0);
  });

  it('--all files write names exactly (a carriage return kept) and refuse what tab-separated lines cannot carry', async () => {
    const dir = join(work, 'cr-model');
    const file = writeAndReturn(
      join(work, 'cr.tsv'),
      'u1\tCR\rx\t3\nu1\tCR x\t2\nu2\tCR x\t1\nu2\tz\t1\nu3\tz\t4\nu3\tCR\rx\t1\n',
    );
    assert.equal(als('train', file, '--format', 'triples', '--factors', '2', '--model', dir).status, 0);
    const result = als('similar', '--all', '--output', '-', '--min-listeners', '1', '--model', dir);
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => line.split('\t'));
    assert.ok(lines.every((fields) => fields.length === 3));
    assert.deepEqual(
      [...new Set(lines.map((fields) => fields[0]))].sort(),
      ['CR\rx', 'CR x', 'z'],
      'two items, two names',
    );
    const model = loadModel(dir);
    const tabbed = { ...model, itemNames: model.itemNames.map((name) => (name === 'z' ? 'z\ty' : name)) };
    await assert.rejects(
      writeAllSimilar(tabbed, join(work, 'never.tsv')),
      (e: unknown) =>
        e instanceof AlsError && e.code === 'output' && /item "z\\ty" contains a tab or newline/.test(e.message),
    );
  });

  it('misspelt training options are refused instead of training with the default', () => {
    assert.throws(
      () => resolveTrainOptions({ lambda: 2 } as never),
      isUsage(/^unknown training option "lambda" \(λ is regularization\)/),
    );
    assert.throws(() => resolveTrainOptions({ alhpa: 1e39 } as never), isUsage(/^unknown training option "alhpa"/));
  });

  it('a hand-made lock (a pid no process can have, or no holder long after it was written) does not hold writers off', async () => {
    const dir = join(work, 'hand-made-lock');
    await smallModel(dir);
    const lock = join(dir, '.als', 'lock');
    writeFileSync(
      lock,
      JSON.stringify({ pid: 99999999999, hostname: hostname(), startTime: '1', command: 'x', since: 'x' }),
    );
    (await lockModel(dir, { lockTimeoutMs: 0 })).release();
    writeFileSync(lock, '');
    await assert.rejects(
      lockModel(dir, { lockTimeoutMs: 0 }),
      (e: unknown) => e instanceof AlsError && e.code === 'model',
      'a fresh nameless lock may be one being written',
    );
    const past = new Date(Date.now() - 60_000);
    utimesSync(lock, past, past);
    (await lockModel(dir, { lockTimeoutMs: 0 })).release();
  });

  it('an empty id or name is a usage error; plays that are 0 in float32 are refused as plays', () => {
    assert.throws(() => findUser(['a'], '  '), isUsage(/^the user id is empty$/));
    assert.throws(() => findItem(['a'], ''), isUsage(/^the item name is empty$/));
    assert.throws(() => parseItemList('Radiohead=1e-300'), isUsage(/plays must be a decimal number above 0/));
  });
});

describe('issue 9: building blocks under hostile arguments (second attacker trial)', () => {
  it('cooToCsr, trainingThreads and closestNames refuse what would be a RangeError, a TypeError or NaN', () => {
    assert.throws(
      () => cooToCsr(Infinity, 2, Int32Array.of(0), Int32Array.of(0), Float32Array.of(1), 1),
      isUsage(/^rows must be a whole number/),
    );
    assert.throws(
      () => cooToCsr(2, 2, Int32Array.of(0, 1), Int32Array.of(9, 1), Float32Array.of(1, 1), 2),
      isUsage(/^triple 0 is at \(0, 9\), outside the 2 × 2 matrix$/),
    );
    assert.throws(
      () => trainingThreads(Number.NaN, { rows: 4, cols: 4 }),
      isUsage(/^requested must be a whole number/),
    );
    assert.throws(() => closestNames([1, null] as never, 'a'), isUsage(/^names must be strings, not 1 at entry 0$/));
  });
});

describe(
  'issue 9: what the second attacker trial found',
  { skip: process.geteuid?.() !== 0 && 'needs root to make folders of nobody' },
  () => {
    it('root writes no output through a folder of another user (its owner could swap a subfolder for a link mid-write)', async () => {
      const theirs = join(work, 'their-tree');
      mkdirSync(join(theirs, 'sub'), { recursive: true });
      chownSync(theirs, NOBODY, NOBODY);
      const model = join(work, 'tree-model');
      await smallModel(model);
      const result = als('similar', '--all', '-n', '1', '--model', model, '--output', join(theirs, 'sub', 'out.tsv'));
      assert.equal(result.status, 6, result.stderr);
      assert.match(result.stderr, /their-tree is a directory of another user \(uid 65534\)/);
      assert.deepEqual(readdirSync(join(theirs, 'sub')), []);
    });

    it("root writes no model into a folder of another user, nor through one, nor into another user's .als", async () => {
      const owned = join(work, 'owned-by-nobody');
      mkdirSync(owned);
      chownSync(owned, NOBODY, NOBODY);
      const file = writeAndReturn(join(work, 'own.tsv'), 'u1\ti1\t3\nu2\ti1\t2\nu2\ti2\t1\n');
      for (const dir of [owned, join(owned, 'inner')]) {
        const result = als('train', file, '--format', 'triples', '--model', dir);
        assert.equal(result.status, 4, result.stderr);
        assert.match(result.stderr, /owned-by-nobody is a directory of another user \(uid 65534\)/);
      }
      assert.deepEqual(readdirSync(owned), []);
      const mine = join(work, 'mine-with-their-als');
      await smallModel(mine);
      chownSync(join(mine, '.als'), NOBODY, NOBODY);
      const result = als('train', file, '--format', 'triples', '--model', mine);
      assert.equal(result.status, 4, result.stderr);
      assert.match(result.stderr, /\.als is a directory of another user \(uid 65534\)/);
    });
  },
);

function writeAndReturn(path: string, text: string): string {
  writeFileSync(path, text);
  return path;
}
