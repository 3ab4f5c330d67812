import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { train } from '../../src/als/train.js';
import { readInteractions } from '../../src/data/read.js';
import { rowsInMemory, userFactorRows } from '../../src/model/fileRows.js';
import { loadModel } from '../../src/model/load.js';
import { saveModel } from '../../src/model/save.js';
import { tempDir } from '../helpers.js';

/** A served model's user factors, read a row at a time from the model's file (src/model/fileRows.ts). */

const work = tempDir('als-rows-');
const input = join(work, 'plays.tsv');
writeFileSync(
  input,
  ['u1\ti1\t3', 'u1\ti2\t1', 'u2\ti2\t5', 'u2\ti3\t2', 'u3\ti1\t1', 'u3\ti3\t9', 'u3\ti4\t2', 'u4\ti4\t7'].join('\n') +
    '\n',
);
const data = await readInteractions(input, { format: 'triples' });
const trained = await train(data, { factors: 5, iterations: 3, threads: 1, seed: 1 });
const base = join(work, 'base');
await saveModel(trained, base);
const F = 5;

let copies = 0;
function copy(): string {
  const target = join(work, `copy-${++copies}`);
  cpSync(base, target, { recursive: true, verbatimSymlinks: true });
  return target;
}

/** Changes user_factors.f32 of the live version, its checksum recorded (or not) in model.json. */
function rewriteFactors(dir: string, change: (values: Float32Array) => void, fixChecksum = true): void {
  const live = join(dir, '.als', 'current');
  const path = join(live, 'user_factors.f32');
  const bytes = readFileSync(path);
  change(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
  writeFileSync(path, bytes);
  if (!fixChecksum) return;
  const manifest = JSON.parse(readFileSync(join(live, 'model.json'), 'utf8'));
  manifest.files['user_factors.f32'].sha256 = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(live, 'model.json'), JSON.stringify(manifest));
}

describe('userFactorRows', () => {
  it('reads each row as stored, from the file; the model can no longer read the part whole', async () => {
    const model = loadModel(base);
    const rows = await userFactorRows(model);
    try {
      assert.equal(rows.inMemory, null);
      assert.equal(rows.rows, 4);
      assert.equal(rows.factors, F);
      for (let u = 0; u < 4; u++) assert.deepEqual(await rows.row(u), trained.userFactors.subarray(u * F, u * F + F));
      assert.throws(() => model.userFactors, { code: 'model' });
      await assert.rejects(rows.row(4), { code: 'usage' });
      await assert.rejects(rows.row(1.5), { code: 'usage' });
    } finally {
      await rows.close();
    }
    await assert.rejects(rows.row(0), { code: 'model' });
  });

  it('keeps reading the version it checked when a writer replaces the model', async () => {
    const dir = copy();
    const rows = await userFactorRows(loadModel(dir));
    try {
      const other = await train(data, { factors: F, iterations: 3, threads: 1, seed: 2 });
      await saveModel(other, dir);
      assert.notDeepEqual(loadModel(dir).userFactors, trained.userFactors);
      for (let u = 0; u < 4; u++) assert.deepEqual(await rows.row(u), trained.userFactors.subarray(u * F, u * F + F));
    } finally {
      await rows.close();
    }
  });

  it('checks the whole file first, as loading a part does: its checksum and every number', async () => {
    const flipped = copy();
    rewriteFactors(flipped, (v) => (v[3] += 1), false);
    await assert.rejects(
      userFactorRows(loadModel(flipped)),
      (e: Error & { code?: string }) => e.code === 'model' && /user_factors\.f32 fails its checksum/.test(e.message),
    );
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const dir = copy();
      rewriteFactors(dir, (v) => (v[7] = bad));
      await assert.rejects(
        userFactorRows(loadModel(dir)),
        (e: Error & { code?: string }) => e.code === 'model' && /non-finite value .* at position 7/.test(e.message),
      );
    }
  });

  it('refuses a row changed in place after the check (not a writer of als: it never rewrites a file)', async () => {
    const dir = copy();
    const rows = await userFactorRows(loadModel(dir));
    try {
      rewriteFactors(dir, (v) => (v[2 * F + 1] = Number.NaN), false);
      await assert.rejects(rows.row(2), { code: 'model' });
      assert.deepEqual(await rows.row(1), trained.userFactors.subarray(F, 2 * F));
    } finally {
      await rows.close();
    }
  });

  it('gives the array itself for a model built in memory, or a part already read', async () => {
    const rows = await userFactorRows(trained);
    assert.equal(rows.inMemory, trained.userFactors);
    assert.deepEqual(await rows.row(3), trained.userFactors.subarray(3 * F, 4 * F));
    const read = loadModel(base);
    const whole = read.userFactors;
    assert.equal((await userFactorRows(read)).inMemory, whole);
    const memory = rowsInMemory(whole, F);
    await memory.close();
    await assert.rejects(memory.row(0), { code: 'model' });
  });
});
