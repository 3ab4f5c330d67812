import assert from 'node:assert/strict';
import { readlinkSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readInteractions } from '../../src/data/read.js';
import { updateModelDirectory } from '../../src/model/updateDirectory.js';
import { ModelHolder } from '../../src/serve/modelHolder.js';
import { buildApp } from '../../src/serve/server.js';
import { tempDir } from '../helpers.js';
import {
  freshModelDir,
  parseMetrics,
  requestStream,
  until,
  writeCorruptVersion,
  writeNewVersion,
} from './reloadHelpers.js';

const SIMILAR = '/api/similar/radiohead?n=5';

/** A real server on 127.0.0.1 (a free port) over a holder watching `dir`. */
async function serveDirectory(dir: string) {
  const holder = await ModelHolder.fromDirectory(dir, { pollMs: 20 });
  const app = await buildApp({ holder });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return { holder, app, base };
}

describe('reload under a stream of requests', () => {
  it('a model rewritten five times (save and update) while 4 clients loop: zero failures, answers switch, old models freed', async () => {
    const dir = await freshModelDir();
    const { holder, app, base } = await serveDirectory(dir);
    const first = holder.version as string;
    const disposed: string[] = [];
    const loaded: string[] = [];
    holder.on('disposed', (e) => disposed.push(e.version));
    holder.on('loaded', (e) => loaded.push(e.version));
    const stream = requestStream(base, SIMILAR, 4);
    const written: string[] = [first];
    const plays = join(tempDir('als-plays-'), 'new.tsv');
    writeFileSync(
      plays,
      'user2\t\tRadiohead\t500\nuser2\t\tMuse\t300\nnewcomer\t\tRadiohead\t40\nnewcomer\t\tPortishead\t20\n',
    );
    for (let i = 0; i < 5; i++) {
      // requests keep running on the old model meanwhile
      await new Promise((resolve) => setTimeout(resolve, 60));
      if (i === 2) {
        const update = await updateModelDirectory(dir, () => readInteractions(plays));
        assert.ok(update.saved !== null);
        written.push(readlinkSync(join(dir, '.als', 'current')));
      } else {
        written.push(await writeNewVersion(dir));
      }
      await until(() => holder.version === written[written.length - 1], 5000, `version ${written[written.length - 1]}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 60));
    const result = await stream.stop();
    assert.deepEqual(result.failures, []);
    assert.deepEqual([...result.statuses.keys()], [200]);
    assert.ok(result.requests > 50, `only ${result.requests} requests`);
    // every answer came from a version written, in the order written, ending with the last
    assert.equal(result.versions[0], first);
    assert.equal(result.versions[result.versions.length - 1], written[5]);
    assert.deepEqual(
      result.versions,
      written.filter((v) => result.versions.includes(v)),
    );
    // each version loaded once, each replaced one freed once, nothing held at the end
    assert.deepEqual(loaded, written.slice(1));
    assert.deepEqual(disposed, written.slice(0, 5));
    assert.deepEqual(holder.stats(), { reloads: 5, failures: 0, leases: 0, retiring: 0 });
    await app.close();
  });

  it('a version that fails to load: the old model keeps answering, /health/ready stays 200 on it, the failure is counted', async () => {
    const dir = await freshModelDir();
    const { holder, app, base } = await serveDirectory(dir);
    const first = holder.version as string;
    const stream = requestStream(base, SIMILAR, 2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    writeCorruptVersion(dir);
    await until(() => holder.stats().failures === 1, 5000, 'the failed load');
    // not tried again every poll
    await new Promise((resolve) => setTimeout(resolve, 150));
    const result = await stream.stop();
    assert.deepEqual(result.failures, []);
    assert.deepEqual(result.versions, [first]);
    const ready = await fetch(`${base}/health/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', version: first });
    const metrics = parseMetrics(await (await fetch(`${base}/metrics`)).text());
    assert.equal(metrics.get('als_model_reload_failures_total'), 1);
    assert.equal(metrics.get('als_model_reloads_total'), 0);
    assert.ok(metrics.has(`als_model_loaded_timestamp_seconds{version="${first}"}`));
    // a good version afterwards is loaded
    const next = await writeNewVersion(dir);
    await until(() => holder.version === next, 5000, 'the good version');
    const similar = await fetch(`${base}${SIMILAR}`);
    assert.equal(((await similar.json()) as { version: string }).version, next);
    await app.close();
  });
});
