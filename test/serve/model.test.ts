import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeModelDirectory } from '../../src/model/files.js';
import { FORMAT_NAME, FORMAT_VERSION } from '../../src/model/format.js';
import { loadedVersion } from '../../src/model/load.js';
import { train } from '../../src/als/train.js';
import { plantedGroups } from '../helpers.js';
import { buildApp } from '../../src/serve/server.js';
import { sampleModel } from './fixtures.js';

describe('GET /api/model', () => {
  it('describes the loaded model as als info --json does, with its version, load time and directory', async () => {
    const model = await sampleModel();
    const before = Date.now();
    const app = await buildApp({ model });
    const reply = await app.inject({ method: 'GET', url: '/api/model' });
    assert.equal(reply.statusCode, 200, reply.body);
    const body = reply.json();
    const version = loadedVersion(model);
    const directory = describeModelDirectory(model);
    const { loadedAt, ...rest } = body;
    assert.deepEqual(rest, {
      version: version?.version,
      dir: version?.dir,
      format: FORMAT_NAME,
      formatVersion: FORMAT_VERSION,
      users: model.users,
      items: model.items,
      factors: model.factors,
      interactions: model.userItems.indptr[model.users],
      options: JSON.parse(JSON.stringify(model.options)),
      input: JSON.parse(JSON.stringify(model.input)),
      seconds: directory.timings,
      losses: model.losses,
      files: directory.files,
      totalBytes: directory.totalBytes,
      modified: directory.modified.toISOString(),
    });
    assert.match(version?.version ?? '', /^v\d+-/);
    assert.ok(Date.parse(loadedAt) >= before - 1000 && Date.parse(loadedAt) <= Date.now());
    await app.close();
  });

  it('describes a model trained in memory (embedded through the package export als/serve) with a null directory and no files', async () => {
    const data = plantedGroups(20, 1);
    const model = await train(data, { factors: 4, iterations: 2, seed: 1 });
    const embedding = (await import('als/serve' as string)) as { buildApp: typeof buildApp };
    const app = await embedding.buildApp({ model });
    const body = (await app.inject({ method: 'GET', url: '/api/model' })).json();
    assert.equal(body.version, 'memory');
    assert.equal(body.dir, null);
    assert.equal(body.files, null);
    assert.equal(body.totalBytes, null);
    assert.equal(body.modified, null);
    assert.equal(body.users, 20);
    assert.equal(body.items, 40);
    assert.equal(body.interactions, data.userItems.indptr[20]);
    await app.close();
  });
});
