import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { HTTPMethods } from 'fastify';
import { openApiDocument } from '../../src/serve/openapi.js';
import { ModelHolder } from '../../src/serve/modelHolder.js';
import { buildApp } from '../../src/serve/server.js';
import { ROOT } from '../helpers.js';

interface Document {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[] }>>;
  components: { schemas: Record<string, unknown> };
}

/** Every route of the contract; those not registered yet (health, metrics: other parts) are checked once they are. */
const ROUTES: [HTTPMethods, string, { required: boolean; statuses?: string[] }][] = [
  ['GET', '/api/similar/:item', { required: true, statuses: ['200', '400', '401', '404', '429', '500', '503'] }],
  ['GET', '/api/recommend/:user', { required: true, statuses: ['200', '400', '401', '404', '429', '500', '503'] }],
  [
    'POST',
    '/api/recommend',
    { required: true, statuses: ['200', '400', '401', '404', '413', '415', '429', '500', '503'] },
  ],
  [
    'POST',
    '/api/recommend/batch',
    { required: true, statuses: ['200', '400', '401', '413', '415', '429', '500', '503'] },
  ],
  ['GET', '/api/items', { required: true }],
  ['GET', '/api/model', { required: true }],
  ['GET', '/health/live', { required: false }],
  ['GET', '/health/ready', { required: false }],
  ['GET', '/metrics', { required: false }],
];

/** fastify's /a/:b as OpenAPI's /a/{b}. */
const openApiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');

async function generated(): Promise<Document> {
  return (await openApiDocument()) as Document;
}

describe('the OpenAPI document', () => {
  it('is committed at docs/openapi.json as the app generates it (run `node scripts/openapi.js` after changing a route)', async () => {
    const committed = JSON.parse(readFileSync(join(ROOT, 'docs', 'openapi.json'), 'utf8'));
    assert.deepEqual(committed, await generated());
  });

  it('is served at /openapi.json without a model or an API key', async () => {
    const app = await buildApp({ holder: new ModelHolder(null), apiKey: 'secret' });
    const reply = await app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(reply.statusCode, 200);
    assert.deepEqual(reply.json(), await generated());
    await app.close();
  });

  it('lists every route with its error statuses, and the API key on the protected ones', async () => {
    const doc = await generated();
    assert.equal(doc.openapi, '3.1.0');
    const app = await buildApp({ holder: new ModelHolder(null) });
    await app.ready();
    for (const [method, url, { required, statuses }] of ROUTES) {
      const registered = app.hasRoute({ method, url });
      if (required) assert.ok(registered, `${method} ${url} is registered`);
      if (!registered) continue;
      const operation = doc.paths[openApiPath(url)]?.[method.toLowerCase()];
      assert.ok(operation, `${method} ${url} is in the document`);
      if (statuses !== undefined)
        assert.deepEqual(Object.keys(operation.responses).sort(), statuses, `${method} ${url}`);
      if (url.startsWith('/api/')) assert.deepEqual(operation.security, [{ bearer: [] }, { apiKey: [] }]);
    }
    const documented = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((m) => `${m.toUpperCase()} ${path}`),
    );
    for (const route of documented) {
      const [method, path] = route.split(' ');
      assert.ok(
        app.hasRoute({ method: method as HTTPMethods, url: path.replace(/\{(\w+)\}/g, ':$1') }),
        `${route} is a route`,
      );
    }
    await app.close();
  });

  it('names the shared shapes by their $id and every $ref resolves', async () => {
    const doc = await generated();
    assert.deepEqual(Object.keys(doc.components.schemas).sort(), ['error', 'explanation', 'scoredItem']);
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]);
    assert.ok(refs.length > 20);
    for (const ref of new Set(refs)) {
      const name = /^#\/components\/schemas\/(.+)$/.exec(ref)?.[1];
      assert.ok(name !== undefined && name in doc.components.schemas, ref);
    }
  });
});
