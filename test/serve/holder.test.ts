import assert from 'node:assert/strict';
import { readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AlsError } from '../../src/errors.js';
import { loadModel, loadedVersion } from '../../src/model/load.js';
import { saveModel } from '../../src/model/save.js';
import { ModelHolder } from '../../src/serve/modelHolder.js';
import { currentVersion } from '../../src/serve/watch.js';
import { tempDir } from '../helpers.js';
import { freshModelDir, sharedSampleModel, until, writeCorruptVersion, writeNewVersion } from './reloadHelpers.js';

/** Every event of a holder, in order, as "type version". */
function record(holder: ModelHolder): string[] {
  const seen: string[] = [];
  holder.on('loaded', (e) => seen.push(`loaded ${e.version}`));
  holder.on('loadFailed', (e) => seen.push(`failed ${e.serving}`));
  holder.on('disposed', (e) => seen.push(`disposed ${e.version}`));
  return seen;
}

describe('ModelHolder', () => {
  it('loads a model directory as its live version, named as the store names it', async () => {
    const dir = await freshModelDir();
    const holder = await ModelHolder.fromDirectory(dir, { watch: false });
    const live = readlinkSync(join(dir, '.als', 'current'));
    assert.equal(holder.version, live);
    assert.equal(holder.current?.version, loadedVersion(loadModel(dir))?.version);
    assert.equal(holder.current?.dir, dir);
    assert.equal(holder.current?.model.items, 17620);
    assert.deepEqual(holder.stats(), { reloads: 0, failures: 0, leases: 0, retiring: 0 });
    holder.close();
    assert.equal(holder.acquire(), null);
  });

  it('names a flat format-2 directory by a digest of its model.json', async () => {
    const dir = await freshModelDir();
    // a flat directory: the files themselves at the top, no .als
    const flat = join(tempDir('als-flat-'), 'model');
    const { cpSync } = await import('node:fs');
    cpSync(join(dir, '.als', readlinkSync(join(dir, '.als', 'current'))), flat, { recursive: true });
    const holder = await ModelHolder.fromDirectory(flat, { watch: false });
    const digest = createHash('sha256')
      .update(readFileSync(join(flat, 'model.json')))
      .digest('hex')
      .slice(0, 12);
    assert.equal(holder.version, `flat-${digest}`);
    assert.equal(currentVersion(flat), holder.version);
    holder.close();
  });

  it('refuses a missing model with AlsError model, and a corrupt part at load, not at a request', async () => {
    await assert.rejects(
      ModelHolder.fromDirectory(join(tempDir(), 'none'), { watch: false }),
      (e: unknown) => e instanceof AlsError && e.code === 'model' && /no model in/.test(e.message),
    );
    const dir = await freshModelDir();
    writeCorruptVersion(dir);
    await assert.rejects(
      ModelHolder.fromDirectory(dir, { watch: false }),
      (e: unknown) =>
        e instanceof AlsError && e.code === 'model' && /item_factors\.f32 fails its checksum/.test(e.message),
    );
  });

  it('counts leases; a reload switches at once and frees the old model after its last lease', async () => {
    const dir = await freshModelDir();
    const holder = await ModelHolder.fromDirectory(dir, { watch: false });
    const events = record(holder);
    const first = holder.version as string;
    const a = holder.acquire()!;
    const b = holder.acquire()!;
    let disposed = 0;
    const dispose = a.served.queries.dispose.bind(a.served.queries);
    a.served.queries.dispose = () => {
      disposed++;
      dispose();
    };
    assert.equal(holder.stats().leases, 2);
    const second = await writeNewVersion(dir);
    const outcome = await holder.reload();
    assert.deepEqual({ ...outcome, ms: 0 }, { status: 'loaded', version: second, previous: first, ms: 0 });
    // the next acquire gets the new model; the old one is held by two leases
    const c = holder.acquire()!;
    assert.equal(c.served.version, second);
    assert.deepEqual(holder.stats(), { reloads: 1, failures: 0, leases: 3, retiring: 1 });
    a.release();
    a.release(); // a second release of one lease changes nothing
    assert.equal(disposed, 0);
    assert.equal(a.served.model.items, 17620, 'a retired model still answers its requests');
    b.release();
    assert.equal(disposed, 1);
    c.release();
    assert.deepEqual(holder.stats(), { reloads: 1, failures: 0, leases: 0, retiring: 0 });
    assert.deepEqual(events, [`loaded ${second}`, `disposed ${first}`]);
    holder.close();
    assert.deepEqual(events, [`loaded ${second}`, `disposed ${first}`, `disposed ${second}`]);
  });

  it('loads nothing when the live version has not changed, unless forced', async () => {
    const dir = await freshModelDir();
    const holder = await ModelHolder.fromDirectory(dir, { watch: false });
    const events = record(holder);
    assert.deepEqual(await holder.reload(), { status: 'unchanged', version: holder.version });
    const forced = await holder.reload({ force: true, reason: 'SIGHUP' });
    assert.equal(forced.status, 'loaded');
    assert.equal(holder.stats().reloads, 1);
    assert.equal(events.length, 2);
    holder.close();
  });

  it('runs reloads asked at once one after the other, the ones asked meanwhile as one', async () => {
    const dir = await freshModelDir();
    const holder = await ModelHolder.fromDirectory(dir, { watch: false });
    let loading = 0;
    let overlapped = false;
    const original = (holder as unknown as { loadAndSwitch: (...a: unknown[]) => Promise<unknown> }).loadAndSwitch.bind(
      holder,
    );
    (holder as unknown as { loadAndSwitch: (...a: unknown[]) => Promise<unknown> }).loadAndSwitch = async (
      ...args: unknown[]
    ) => {
      if (++loading > 1) overlapped = true;
      try {
        return await original(...args);
      } finally {
        loading--;
      }
    };
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => holder.reload({ force: true })));
    assert.equal(overlapped, false);
    // the first runs; the four asked while it ran are one more load
    assert.equal(holder.stats().reloads, 2);
    assert.equal(new Set(outcomes.slice(1)).size, 1);
    holder.close();
  });

  it('keeps the old model serving when a reload fails, and reports the failure', async () => {
    const dir = await freshModelDir();
    const holder = await ModelHolder.fromDirectory(dir, { watch: false });
    const events = record(holder);
    const first = holder.version;
    writeCorruptVersion(dir);
    const outcome = await holder.reload();
    assert.equal(outcome.status, 'failed');
    assert.match((outcome as { error: Error }).error.message, /item_factors\.f32 fails its checksum/);
    assert.equal(holder.version, first);
    assert.deepEqual(holder.stats(), { reloads: 0, failures: 1, leases: 0, retiring: 0 });
    assert.deepEqual(events, [`failed ${first}`]);
    // the directory removed altogether: a failure too, the model still served
    rmSync(dir, { recursive: true });
    assert.equal((await holder.reload({ force: true })).status, 'failed');
    assert.equal(holder.acquire()?.served.version, first);
    holder.close();
  });

  it('reloads by itself when the directory gets a new version (fs.watch), and not again for a version that failed', async () => {
    const dir = await freshModelDir();
    const holder = await ModelHolder.fromDirectory(dir, { pollMs: 0 });
    const events = record(holder);
    const second = await writeNewVersion(dir);
    await until(() => holder.version === second, 5000, 'the new version');
    const bad = writeCorruptVersion(dir);
    await until(() => holder.stats().failures === 1, 5000, 'the failure');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(holder.stats().failures, 1);
    assert.equal(holder.version, second);
    assert.notEqual(bad, second);
    const third = await writeNewVersion(dir);
    await until(() => holder.version === third, 5000, 'the third version');
    assert.equal(holder.stats().reloads, 2);
    assert.deepEqual(
      events.filter((e) => !e.startsWith('disposed')),
      [`loaded ${second}`, `failed ${second}`, `loaded ${third}`],
    );
    holder.close();
  });

  it('notices a new version by polling alone (a directory replaced as a whole)', async () => {
    const dir = await freshModelDir();
    const holder = await ModelHolder.fromDirectory(dir, { pollMs: 50 });
    // another directory renamed over the watched one: fs.watch on the old .als hears nothing
    const other = await freshModelDir();
    await writeNewVersion(other);
    const { renameSync } = await import('node:fs');
    rmSync(dir, { recursive: true });
    renameSync(other, dir);
    const version = readlinkSync(join(dir, '.als', 'current'));
    await until(() => holder.version === version, 5000, 'the replaced directory');
    holder.close();
  });

  it('a model handed over in memory is served and never reloaded', async () => {
    const holder = await ModelHolder.fromModel(await sharedSampleModel());
    assert.equal(holder.dir, null);
    const outcome = await holder.reload({ force: true });
    assert.equal(outcome.status, 'failed');
    assert.ok(holder.version !== null);
    holder.close();
  });

  it('saves made while the holder loads end with the newest version live', async () => {
    const dir = await freshModelDir();
    const holder = await ModelHolder.fromDirectory(dir, { pollMs: 20 });
    const model = await sharedSampleModel();
    for (let i = 0; i < 4; i++) await saveModel(model, dir);
    const last = readlinkSync(join(dir, '.als', 'current'));
    await until(() => holder.version === last, 5000, 'the last version');
    await until(() => holder.stats().retiring === 0, 5000, 'old models freed');
    holder.close();
  });
});

describe('als/serve, the library entry', () => {
  it('exports buildApp and ModelHolder (package.json "exports" ./serve), and they serve a directory', async () => {
    // by the package's own name, as an app would (a variable, so that tsc does not resolve it to dist before building it)
    const entry = 'als/serve';
    const serve: Record<string, unknown> = await import(entry);
    assert.deepEqual(Object.keys(serve).sort(), ['DEFAULT_POLL_MS', 'ModelHolder', 'buildApp']);
    const { buildApp, ModelHolder: Holder } = serve as typeof import('../../src/serve/index.js');
    const dir = await freshModelDir();
    const holder = await Holder.fromDirectory(dir, { watch: false });
    const app = await buildApp({ holder });
    const reply = await app.inject('/health/ready');
    assert.deepEqual(reply.json(), { status: 'ready', version: readlinkSync(join(dir, '.als', 'current')) });
    await app.close();
  });

  it('buildApp refuses what is not a model or a holder with AlsError usage', async () => {
    const { buildApp } = await import('../../src/serve/index.js');
    for (const options of [null, {}, { model: {} }, { holder: {} }]) {
      await assert.rejects(
        buildApp(options as never),
        (e: unknown) => e instanceof AlsError && e.code === 'usage',
        JSON.stringify(options),
      );
    }
  });
});
