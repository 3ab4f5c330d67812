import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { AlsModel } from '../../src/model/model.js';
import { isOpenRoute } from '../../src/serve/auth.js';
import { buildApp } from '../../src/serve/server.js';
import { sampleModel } from './fixtures.js';

const KEY = 'k3y-with-some-length-0123456789';

let model: AlsModel;
let app: FastifyInstance;

before(async () => {
  model = await sampleModel();
  app = await buildApp({ model, apiKey: KEY });
});
after(() => app.close());

const UNAUTHORIZED = {
  statusCode: 401,
  code: 'unauthorized',
  error: 'Unauthorized',
  message: 'this server needs an API key: send the header "Authorization: Bearer KEY" or "x-api-key: KEY"',
};

describe('the API key', () => {
  it('is required on /api/* and /metrics: 401 without it, in the one error shape', async () => {
    for (const url of ['/api/similar/radiohead', '/api/model', '/api/items', '/api/no-such-route', '/metrics']) {
      const reply = await app.inject({ method: 'GET', url });
      assert.equal(reply.statusCode, 401, url);
      assert.deepEqual(reply.json(), UNAUTHORIZED, url);
      assert.equal(reply.headers['www-authenticate'], 'Bearer');
    }
    const post = await app.inject({ method: 'POST', url: '/api/recommend', payload: { items: [{ name: 'muse' }] } });
    assert.equal(post.statusCode, 401);
  });

  it('is refused when wrong, whatever its length', async () => {
    for (const wrong of ['', 'x', KEY.slice(0, -1), `${KEY}x`, KEY.toUpperCase(), 'é'.repeat(5000)]) {
      const reply = await app.inject({
        method: 'GET',
        url: '/api/model',
        headers: { authorization: `Bearer ${wrong}` },
      });
      assert.equal(reply.statusCode, 401, wrong.slice(0, 20));
      const header = await app.inject({ method: 'GET', url: '/api/model', headers: { 'x-api-key': wrong } });
      assert.equal(header.statusCode, 401);
    }
    const wrongScheme = await app.inject({
      method: 'GET',
      url: '/api/model',
      headers: { authorization: `Basic ${KEY}` },
    });
    assert.equal(wrongScheme.statusCode, 401);
  });

  it('is taken as "Authorization: Bearer KEY" or "x-api-key: KEY"', async () => {
    const bearer = await app.inject({
      method: 'GET',
      url: '/api/similar/radiohead?n=2',
      headers: { authorization: `Bearer ${KEY}` },
    });
    assert.equal(bearer.statusCode, 200);
    assert.equal(bearer.json().similar.length, 2);
    const header = await app.inject({
      method: 'POST',
      url: '/api/recommend/batch',
      payload: { users: ['user2'] },
      headers: { 'x-api-key': KEY },
    });
    assert.equal(header.statusCode, 200);
  });

  it('is not needed for /health/*, the page or /openapi.json (the routes registered so far)', async () => {
    for (const url of ['/health/live', '/health/ready', '/', '/openapi.json']) {
      if (!app.hasRoute({ method: 'GET', url })) continue;
      const reply = await app.inject({ method: 'GET', url });
      assert.notEqual(reply.statusCode, 401, url);
    }
    assert.equal((await app.inject({ method: 'GET', url: '/openapi.json' })).statusCode, 200);
    for (const route of ['/health/live', '/health/ready', '/', '/page/*', '/page/app.js', '/openapi.json'])
      assert.ok(isOpenRoute(route), route);
    for (const route of [
      '/api/model',
      '/api/similar/:item',
      '/metrics',
      '/healthz',
      '/pages',
      '/openapi.json.bak',
      undefined,
    ])
      assert.ok(!isOpenRoute(route), route);
  });

  it('goes by the route matched, not the URL as sent: encoded, doubled or unknown paths need it too', async () => {
    for (const url of [
      '/%61pi/model',
      '/%61pi/similar/radiohead',
      '/api//model',
      '/API/model',
      '/%6detrics',
      '/nothing',
      '/api/model/',
    ]) {
      const reply = await app.inject({ method: 'GET', url });
      assert.equal(reply.statusCode, 401, url);
    }
    const keyed = await app.inject({ method: 'GET', url: '/%61pi/model', headers: { 'x-api-key': KEY } });
    assert.equal(keyed.statusCode, 200);
  });

  it('leaves every route open when no key is given', async () => {
    const open = await buildApp({ model });
    assert.equal((await open.inject({ method: 'GET', url: '/api/model' })).statusCode, 200);
    await open.close();
  });

  it('must be a non-empty string', async () => {
    await assert.rejects(buildApp({ model, apiKey: '' }), {
      code: 'usage',
      message: 'apiKey must be a non-empty string',
    });
  });
});

describe('CORS', () => {
  it('sends no CORS header unless origins are given', async () => {
    const reply = await app.inject({
      method: 'GET',
      url: '/openapi.json',
      headers: { origin: 'https://shop.example' },
    });
    assert.equal(reply.headers['access-control-allow-origin'], undefined);
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/api/model',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'GET' },
    });
    assert.notEqual(preflight.statusCode, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], undefined);
  });

  it('allows the listed origins only, and answers their preflight before the key check', async () => {
    const cors = await buildApp({ model, apiKey: KEY, cors: ['https://shop.example'] });
    const allowed = await cors.inject({
      method: 'GET',
      url: '/api/model',
      headers: { origin: 'https://shop.example', 'x-api-key': KEY },
    });
    assert.equal(allowed.statusCode, 200);
    assert.equal(allowed.headers['access-control-allow-origin'], 'https://shop.example');
    assert.equal(allowed.headers.vary, 'Origin');
    const other = await cors.inject({
      method: 'GET',
      url: '/api/model',
      headers: { origin: 'https://evil.example', 'x-api-key': KEY },
    });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    const preflight = await cors.inject({
      method: 'OPTIONS',
      url: '/api/recommend',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization',
      },
    });
    assert.equal(preflight.statusCode, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://shop.example');
    assert.equal(preflight.headers['access-control-allow-methods'], 'GET, POST, OPTIONS');
    assert.equal(preflight.headers['access-control-allow-headers'], 'Authorization, Content-Type, X-API-Key');
    assert.equal(preflight.headers['access-control-max-age'], '600');
    const refusedPreflight = await cors.inject({
      method: 'OPTIONS',
      url: '/api/recommend',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(refusedPreflight.headers['access-control-allow-origin'], undefined);
    assert.notEqual(refusedPreflight.statusCode, 204);
    await cors.close();
  });

  it("allows any origin with '*'", async () => {
    const cors = await buildApp({ model, cors: ['*'] });
    const reply = await cors.inject({ method: 'GET', url: '/api/items', headers: { origin: 'https://any.example' } });
    assert.equal(reply.headers['access-control-allow-origin'], '*');
    await cors.close();
  });
});

describe('the HTTP server', () => {
  it('has request, connection and keep-alive timeouts and a 1 MiB body limit', async () => {
    const { requestTimeout, connectionTimeout, keepAliveTimeout, bodyLimit } =
      app.initialConfig as typeof app.initialConfig & { requestTimeout: number };
    assert.deepEqual(
      { requestTimeout, connectionTimeout, keepAliveTimeout, bodyLimit },
      { requestTimeout: 30_000, connectionTimeout: 60_000, keepAliveTimeout: 5_000, bodyLimit: 1_048_576 },
    );
  });

  it('refuses a request without the key over a real socket on 127.0.0.1, and answers one with it', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    assert.equal(app.server.requestTimeout, 30_000);
    assert.equal(app.server.keepAliveTimeout, 5_000);
    const get = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/api/similar/radiohead?n=1', headers }, (res) => {
          let body = '';
          res
            .setEncoding('utf8')
            .on('data', (chunk: string) => (body += chunk))
            .on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject).end();
      });
    const refused = await get({});
    assert.equal(refused.status, 401);
    assert.deepEqual(JSON.parse(refused.body), UNAUTHORIZED);
    const answered = await get({ authorization: `Bearer ${KEY}` });
    assert.equal(answered.status, 200);
    assert.equal(JSON.parse(answered.body).similar.length, 1);
  });
});
