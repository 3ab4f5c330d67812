import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelHolder } from '../../src/serve/modelHolder.js';
import { buildApp } from '../../src/serve/server.js';
import {
  freshModelDir,
  parseMetrics,
  sharedSampleModel,
  writeCorruptVersion,
  writeNewVersion,
} from './reloadHelpers.js';

describe('GET /metrics', () => {
  it('counts the requests just made by route pattern and status, with their latency', async () => {
    const app = await buildApp({ model: await sharedSampleModel() });
    for (const url of [
      '/api/similar/radiohead',
      '/api/similar/muse?n=3',
      '/api/similar/no-such-artist-at-all',
      '/health/live',
      '/nope/1',
      '/nope/2',
    ]) {
      await app.inject(url);
    }
    const reply = await app.inject('/metrics');
    assert.equal(reply.statusCode, 200);
    assert.equal(reply.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    const metrics = parseMetrics(reply.body);
    const count = (labels: string) => metrics.get(`als_http_requests_total{${labels}}`);
    assert.equal(count('method="GET",route="/api/similar/:item",status="200"'), 2);
    assert.equal(count('method="GET",route="/api/similar/:item",status="404"'), 1);
    assert.equal(count('method="GET",route="/health/live",status="200"'), 1);
    // unmatched URLs share one series, never one per URL
    assert.equal(count('method="GET",route="unmatched",status="404"'), 2);
    assert.equal([...metrics.keys()].filter((k) => k.includes('/nope')).length, 0);
    // the histogram counted the three similar requests, in buckets that add up
    const route = 'method="GET",route="/api/similar/:item"';
    assert.equal(metrics.get(`als_http_request_duration_seconds_count{${route}}`), 3);
    assert.equal(metrics.get(`als_http_request_duration_seconds_bucket{le="+Inf",${route}}`), 3);
    assert.ok((metrics.get(`als_http_request_duration_seconds_sum{${route}}`) as number) > 0);
    assert.ok(metrics.has(`als_http_request_duration_seconds_bucket{le="0.001",${route}}`));
    // the model, held by nobody now
    const versions = [...metrics.keys()].filter((k) => k.startsWith('als_model_loaded_timestamp_seconds'));
    assert.equal(versions.length, 1);
    assert.ok(Math.abs((metrics.get(versions[0]) as number) - Date.now() / 1000) < 60);
    assert.equal(metrics.get('als_model_leases'), 0);
    assert.equal(metrics.get('als_model_reloads_total'), 0);
    assert.equal(metrics.get('als_model_reload_failures_total'), 0);
    assert.ok((metrics.get('process_resident_memory_bytes') as number) > 1e6);
    await app.close();
  });

  it('each app counts in its own registry', async () => {
    const model = await sharedSampleModel();
    const a = await buildApp({ model });
    const b = await buildApp({ model });
    await a.inject('/health/live');
    await a.inject('/health/live');
    await b.inject('/health/live');
    const live = 'als_http_requests_total{method="GET",route="/health/live",status="200"}';
    assert.equal(parseMetrics((await a.inject('/metrics')).body).get(live), 2);
    assert.equal(parseMetrics((await b.inject('/metrics')).body).get(live), 1);
    await a.close();
    await b.close();
  });

  it('gives the version after a reload, and counts reloads and failures', async () => {
    const dir = await freshModelDir();
    const holder = await ModelHolder.fromDirectory(dir, { watch: false });
    const app = await buildApp({ holder });
    const second = await writeNewVersion(dir);
    await holder.reload();
    writeCorruptVersion(dir);
    await holder.reload();
    await holder.reload({ force: true });
    const metrics = parseMetrics((await app.inject('/metrics')).body);
    assert.deepEqual(
      [...metrics.entries()].filter(([k]) => k.startsWith('als_model_')),
      [
        [
          `als_model_loaded_timestamp_seconds{version="${second}"}`,
          (holder.current as { loadedAt: Date }).loadedAt.getTime() / 1000,
        ],
        ['als_model_reloads_total', 1],
        ['als_model_reload_failures_total', 2],
        ['als_model_leases', 0],
        ['als_model_retiring', 0],
      ],
    );
    await app.close();
  });
});
