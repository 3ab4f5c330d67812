import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadedVersion } from '../../src/model/load.js';
import { ModelHolder } from '../../src/serve/modelHolder.js';
import { buildApp } from '../../src/serve/server.js';
import { freshModelDir, sharedSampleModel } from './reloadHelpers.js';

describe('/health', () => {
  it('/health/live and /health/ready answer with the live version', async () => {
    const model = await sharedSampleModel();
    const app = await buildApp({ model });
    const live = await app.inject('/health/live');
    assert.equal(live.statusCode, 200);
    assert.deepEqual(live.json(), { status: 'live' });
    const ready = await app.inject('/health/ready');
    assert.equal(ready.statusCode, 200);
    // a model loaded from a directory keeps that directory's version name
    assert.deepEqual(ready.json(), { status: 'ready', version: loadedVersion(model)?.version });
    assert.match(ready.json().version, /^v1-[0-9a-f]{12}$/);
    await app.close();
  });

  it('/health/ready is 503 loading until a model is loaded, then ready; live is 200 throughout', async () => {
    const dir = await freshModelDir();
    const holder = new ModelHolder(dir, { watch: false });
    const app = await buildApp({ holder });
    const loading = await app.inject('/health/ready');
    assert.equal(loading.statusCode, 503);
    assert.deepEqual(loading.json(), { status: 'loading' });
    assert.equal((await app.inject('/health/live')).statusCode, 200);
    // a route that needs the model is 503 too, in the error shape
    assert.equal((await app.inject('/api/similar/radiohead')).statusCode, 503);
    const outcome = await holder.reload();
    assert.equal(outcome.status, 'loaded');
    const ready = await app.inject('/health/ready');
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ready', version: holder.version });
    assert.equal(holder.stats().leases, 0, 'the health check released its lease');
    await app.close();
  });
});
