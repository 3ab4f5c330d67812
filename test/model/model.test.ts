import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { train } from '../../src/als/train.js';
import { readInteractions } from '../../src/data/read.js';
import { columnCounts } from '../../src/data/sparse.js';
import { AlsError } from '../../src/errors.js';
import { loadModel } from '../../src/model/load.js';
import { saveModel } from '../../src/model/save.js';
import { tempDir } from '../helpers.js';
import { createWasmKernelsSync } from '../../src/kernels/index.js';

const dir = tempDir();
const input = join(dir, 'plays.tsv');
writeFileSync(input, ['a\t\tX\t3', 'a\t\tY\t1', 'b\t\tY\t5', 'b\t\tZ\t2', 'c\t\tX\t1', 'c\t\t"Q"\t9'].join('\n'));
const data = await readInteractions(input);
const model = await train(data, { factors: 3, iterations: 2, computeLoss: true, threads: 1 });

function bytes(array: Float32Array | Int32Array): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

function modelError(run: () => unknown, pattern: RegExp): void {
  assert.throws(
    run,
    (e: unknown) => e instanceof AlsError && e.code === 'model' && pattern.test(e.message) && !e.message.includes('\n'),
  );
}

async function savedCopy(name: string): Promise<string> {
  const target = join(dir, name);
  await saveModel(model, target);
  return target;
}

describe('the model on disk', () => {
  it('round-trips bit for bit', async () => {
    const loaded = loadModel(await savedCopy('round-trip'));
    assert.equal(loaded.users, 3);
    assert.equal(loaded.items, 4);
    assert.equal(loaded.factors, 3);
    assert.deepEqual(bytes(loaded.userFactors), bytes(model.userFactors));
    assert.deepEqual(bytes(loaded.itemFactors), bytes(model.itemFactors));
    assert.deepEqual(bytes(loaded.userItems.indptr), bytes(model.userItems.indptr));
    assert.deepEqual(bytes(loaded.userItems.indices), bytes(model.userItems.indices));
    assert.deepEqual(bytes(loaded.userItems.data), bytes(model.userItems.data));
    assert.deepEqual(loaded.userIds, ['a', 'b', 'c']);
    assert.deepEqual(loaded.itemNames, ['X', 'Y', 'Z', '"Q"']);
    assert.deepEqual(loaded.itemUserCounts, columnCounts(model.userItems));
    // every option but the thread count, which is the loading machine's (see the next test)
    assert.deepEqual({ ...loaded.options, threads: 1 }, model.options);
    assert.deepEqual(loaded.losses, model.losses);
    assert.equal(loaded.input?.rows, 6);
  });

  it('is the same bytes when written twice (timings aside)', async () => {
    const a = await savedCopy('same-a');
    const b = await savedCopy('same-b');
    for (const name of readdirSync(a).filter((n) => n !== 'timings.json' && n !== '.als')) {
      assert.deepEqual(readFileSync(join(a, name)), readFileSync(join(b, name)), name);
    }
  });

  it('has the documented little-endian float32 layout', async () => {
    const target = await savedCopy('layout');
    const manifest = JSON.parse(readFileSync(join(target, 'model.json'), 'utf8'));
    assert.equal(manifest.format, 'als-model');
    assert.equal(manifest.version, 2);
    assert.equal('threads' in manifest.options, false, 'model.json is the same on machines with other CPU counts');
    assert.deepEqual(manifest.files['item_factors.f32'].shape, [4, 3]);
    const raw = readFileSync(join(target, 'item_factors.f32'));
    assert.equal(raw.length, 4 * 3 * 4);
    assert.equal(raw.readFloatLE(4 * 4), model.itemFactors[4]);
  });

  it('replaces an earlier model, keeping the previous version and nothing else (issue 9, class 5)', async () => {
    const target = await savedCopy('replace');
    await saveModel(model, target);
    await saveModel(model, target);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.includes('.tmp-') || n.includes('.old-')),
      [],
    );
    const store = readdirSync(join(target, '.als')).sort();
    assert.deepEqual(
      store.filter((n) => !/^v\d+-[0-9a-f]{12}$/.test(n)),
      ['current'],
    );
    assert.deepEqual(
      store.filter((n) => n.startsWith('v')).map((n) => n.split('-')[0]),
      ['v2', 'v3'],
    );
    assert.equal(
      readlinkSync(join(target, '.als', 'current')),
      store.find((n) => n.startsWith('v3-')),
    );
    assert.equal(loadModel(target).users, 3);
  });

  it('refuses to replace a directory that is not a model', async () => {
    const target = join(dir, 'precious');
    mkdirSync(target);
    writeFileSync(join(target, 'notes.txt'), 'keep me');
    await assert.rejects(
      saveModel(model, target),
      (e: unknown) => e instanceof AlsError && /not an als model; refusing/.test(e.message),
    );
    assert.equal(readFileSync(join(target, 'notes.txt'), 'utf8'), 'keep me');
  });

  it('refuses to save non-finite factors or play counts, and writes nothing (issue 9, class 4)', async () => {
    const target = join(dir, 'poisoned');
    const nanFactors = { ...model, itemFactors: model.itemFactors.map((v, k) => (k === 2 ? NaN : v)) };
    await assert.rejects(
      saveModel(nanFactors, target),
      (e: unknown) =>
        e instanceof AlsError && e.code === 'model' && /item factors hold a non-finite value/.test(e.message),
    );
    const infinitePlays = {
      ...model,
      userItems: { ...model.userItems, data: model.userItems.data.map((v, k) => (k === 0 ? Infinity : v)) },
    };
    await assert.rejects(saveModel(infinitePlays, target), /a play count of Infinity/);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.includes('poisoned')),
      [],
    );
  });

  it('rejects a missing model', () => {
    modelError(() => loadModel(join(dir, 'nothing-here')), /no model in .*nothing-here \(saveModel writes one\)$/);
  });

  it('rejects a file that fails its checksum, when it is read', async () => {
    const target = await savedCopy('flipped');
    const path = join(target, 'item_factors.f32');
    const raw = readFileSync(path);
    raw[5] ^= 0x40;
    writeFileSync(path, raw);
    const loaded = loadModel(target);
    modelError(() => loaded.itemFactors, /item_factors\.f32 fails its checksum/);
  });

  it('reads factors straight into kernel memory with factorMemory: the same bytes, and a flipped byte still fails its checksum', async () => {
    const kernels = createWasmKernelsSync();
    const loaded = loadModel(await savedCopy('kernel-memory'), { factorMemory: kernels });
    assert.ok(
      loaded.itemFactors.buffer instanceof SharedArrayBuffer,
      "item factors live in the kernels' shared memory",
    );
    assert.deepEqual(bytes(loaded.itemFactors), bytes(model.itemFactors));
    assert.deepEqual(bytes(loaded.userFactors), bytes(model.userFactors));

    const target = await savedCopy('kernel-memory-flipped');
    const path = join(target, 'user_factors.f32');
    const raw = readFileSync(path);
    raw[2] ^= 0x01;
    writeFileSync(path, raw);
    modelError(() => loadModel(target, { factorMemory: kernels }).userFactors, /user_factors\.f32 fails its checksum/);
    for (const bad of [null, 5, {}, { float32: 'x' }]) {
      assert.throws(
        () => loadModel(target, { factorMemory: bad as never }),
        (e: unknown) => e instanceof AlsError && e.code === 'usage' && /factorMemory/.test(e.message),
      );
    }
  });

  it('rejects a truncated file at once', async () => {
    const target = await savedCopy('truncated');
    truncateSync(join(target, 'user_factors.f32'), 8);
    modelError(() => loadModel(target), /user_factors\.f32 has 8 bytes, expected 36/);
  });

  it('rejects a missing file, another version, another format and broken JSON', async () => {
    const missing = await savedCopy('missing');
    rmSync(join(missing, '.als', 'current', 'user_ids.json'));
    modelError(() => loadModel(missing), /user_ids\.json is missing/);

    const broken = () => {
      const target = join(dir, 'missing');
      writeFileSync(join(target, 'model.json'), '{"format": "als-mo');
      return target;
    };
    const edit = async (name: string, change: (m: Record<string, unknown>) => void) => {
      const target = await savedCopy(name);
      const manifest = JSON.parse(readFileSync(join(target, 'model.json'), 'utf8'));
      change(manifest);
      writeFileSync(join(target, 'model.json'), JSON.stringify(manifest));
      return target;
    };
    modelError(() => loadModel(broken()), /model\.json is not valid JSON/);
    const version = await edit('version', (m) => (m.version = 99));
    modelError(() => loadModel(version), /model format version 99, but this als reads version 2/);
    const other = await edit('other', (m) => (m.format = 'something-else'));
    modelError(() => loadModel(other), /does not describe an als model/);
    const shape = await edit('shape', (m) => (m.items = 5));
    modelError(() => loadModel(shape), /describes item_factors\.f32 wrongly/);
  });
});

describe('an interrupted save', () => {
  it('leaves a version directory that the next save removes (issue 9, class 5)', async () => {
    const target = await savedCopy('interrupted');
    // what a save killed before its switch leaves behind: a version newer than current, unfinished
    mkdirSync(join(target, '.als', 'v7-abcdef123456'));
    writeFileSync(join(target, '.als', 'v7-abcdef123456', 'user_factors.f32'), 'partial');
    assert.equal(loadModel(target).users, 3, 'the live model is untouched by the leftover');
    await saveModel(model, target);
    const versions = readdirSync(join(target, '.als')).filter((n) => n.startsWith('v'));
    assert.equal(versions.includes('v7-abcdef123456'), false);
    assert.equal(versions.length, 2, versions.join(' '));
    assert.equal(loadModel(target).users, 3);
  });
});
