import assert from 'node:assert/strict';
import { QueueFullError } from '../../src/serve/queries.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import type { AlsModel } from '../../src/model/model.js';
import { HTTP_STATUS } from '../../src/serve/errors.js';
import { ModelHolder } from '../../src/serve/modelHolder.js';
import type { ModelLease } from '../../src/serve/servedModel.js';
import { buildApp } from '../../src/serve/server.js';
import { ROOT } from '../helpers.js';
import { sampleModel } from './fixtures.js';

/** The members of the AlsErrorCode union, read from its source (a type has no runtime list). */
function alsErrorCodes(): string[] {
  const source = readFileSync(join(ROOT, 'src', 'errors.ts'), 'utf8');
  const union = /export type AlsErrorCode =([\s\S]*?);/.exec(source)?.[1] ?? '';
  return [...union.matchAll(/\|\s*'([a-z-]+)'/g)].map((m) => m[1]);
}

/** The routes of the API with a valid request each (the name parts are known to the sample). */
const ROUTES: { method: 'GET' | 'POST'; url: string; payload?: object }[] = [
  { method: 'GET', url: '/api/similar/radiohead' },
  { method: 'GET', url: '/api/recommend/user2' },
  { method: 'POST', url: '/api/recommend', payload: { items: [{ name: 'muse' }] } },
  { method: 'POST', url: '/api/recommend/batch', payload: { users: ['user2'] } },
  { method: 'GET', url: '/api/items?prefix=ra' },
  { method: 'GET', url: '/api/model' },
];

let model: AlsModel;
let app: FastifyInstance;

before(async () => {
  model = await sampleModel();
  app = await buildApp({ model });
});
after(() => app.close());

function isErrorBody(body: Record<string, unknown>, status: number): void {
  assert.equal(body.statusCode, status);
  assert.equal(typeof body.code, 'string');
  assert.equal(typeof body.error, 'string');
  assert.equal(typeof body.message, 'string');
  for (const key of Object.keys(body))
    assert.ok(['statusCode', 'code', 'error', 'message', 'suggestions'].includes(key), key);
}

describe('the error table', () => {
  it('maps every AlsErrorCode to an HTTP status', () => {
    const codes = alsErrorCodes();
    assert.deepEqual(codes.sort(), ['input', 'model', 'not-found', 'output', 'usage']);
    assert.deepEqual(Object.keys(HTTP_STATUS).sort(), codes);
    for (const code of codes) assert.ok(HTTP_STATUS[code as keyof typeof HTTP_STATUS] >= 400);
  });

  it('has a row for every AlsErrorCode in the table of docs/serving.md', () => {
    const page = readFileSync(join(ROOT, 'docs', 'serving.md'), 'utf8');
    const rows = page.split('\n').filter((line) => /^\|\s*\d{3}\s*\|/.test(line));
    for (const [code, status] of Object.entries(HTTP_STATUS)) {
      assert.ok(
        rows.some((row) => row.startsWith(`| ${status} |`) && row.includes(`\`${code}\``)),
        `docs/serving.md has no row "| ${status} | … \`${code}\` …"`,
      );
    }
  });
});

describe('error responses', () => {
  it('answers an unknown route with 404 in the one shape', async () => {
    const reply = await app.inject({ method: 'GET', url: '/api/nothing?x=1' });
    assert.deepEqual(reply.json(), {
      statusCode: 404,
      code: 'route-not-found',
      error: 'Not Found',
      message: 'no route GET "/api/nothing"',
    });
    const wrongMethod = await app.inject({ method: 'DELETE', url: '/api/model' });
    assert.equal(wrongMethod.statusCode, 404);
    assert.equal(wrongMethod.json().code, 'route-not-found');
  });

  it('answers a body over the limit with 413', async () => {
    const items = Array.from({ length: 1100 }, (_, k) => ({ name: `${k}${'n'.repeat(1000)}`.slice(0, 1000) }));
    const reply = await app.inject({ method: 'POST', url: '/api/recommend', payload: { items } });
    assert.equal(reply.statusCode, 413);
    assert.deepEqual(reply.json(), {
      statusCode: 413,
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
      error: 'Payload Too Large',
      message: 'the body is larger than this server takes',
    });
    const small = await buildApp({ model, bodyLimit: 100 });
    const refused = await small.inject({
      method: 'POST',
      url: '/api/recommend/batch',
      payload: { users: Array(20).fill('user2') },
    });
    assert.equal(refused.statusCode, 413);
    await small.close();
  });

  it('answers a body that is not JSON with 415, and malformed JSON with 400', async () => {
    const text = await app.inject({
      method: 'POST',
      url: '/api/recommend',
      payload: 'radiohead',
      headers: { 'content-type': 'text/plain' },
    });
    assert.deepEqual(text.json(), {
      statusCode: 415,
      code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
      error: 'Unsupported Media Type',
      message: 'the body must be JSON (content-type: application/json)',
    });
    const form = await app.inject({
      method: 'POST',
      url: '/api/recommend',
      payload: 'items=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.statusCode, 415);
    for (const payload of ['{"items": [', 'null', '', '[1,2]', '"x"']) {
      const reply = await app.inject({
        method: 'POST',
        url: '/api/recommend',
        payload,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(reply.statusCode, 400, payload);
      isErrorBody(reply.json(), 400);
    }
  });

  it('refuses prototype-pollution keys with 400 and leaves Object.prototype alone', async () => {
    const payloads = [
      '{"items":[{"name":"muse"}],"__proto__":{"polluted":1}}',
      '{"items":[{"name":"muse","__proto__":{"polluted":1}}]}',
      '{"items":[{"name":"muse"}],"constructor":{"prototype":{"polluted":1}}}',
    ];
    for (const payload of payloads) {
      const reply = await app.inject({
        method: 'POST',
        url: '/api/recommend',
        payload,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(reply.statusCode, 400, payload);
      isErrorBody(reply.json(), 400);
    }
    const query = await app.inject({
      method: 'GET',
      url: '/api/similar/radiohead?__proto__[polluted]=1&constructor[prototype][polluted]=1&n=2',
    });
    assert.equal(query.statusCode, 200);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('answers a malformed URL with 400 without echoing it', async () => {
    const reply = await app.inject({ method: 'GET', url: `/api/similar/%ZZ${'a'.repeat(5000)}` });
    assert.deepEqual(reply.json(), {
      statusCode: 400,
      code: 'FST_ERR_BAD_URL',
      error: 'Bad Request',
      message: 'the URL holds a malformed percent-encoding',
    });
  });

  it('survives hostile requests: each is a 4xx in the one shape and the server answers afterwards', async () => {
    const long = 'x'.repeat(10_000);
    const hostile = [
      { method: 'GET', url: `/api/similar/${long}` },
      { method: 'GET', url: `/api/recommend/${long}` },
      { method: 'GET', url: `/api/similar/radiohead?n=${'9'.repeat(400)}` },
      { method: 'GET', url: '/api/similar/radiohead?n=-1e308' },
      { method: 'GET', url: '/api/similar/radiohead?n=' },
      { method: 'GET', url: '/api/similar/radiohead?minItemUsers=NaN' },
      { method: 'GET', url: `/api/items?prefix=${long}` },
      { method: 'GET', url: '/api/similar/%00%ED%A0%80' },
      { method: 'GET', url: `/api/similar/${encodeURIComponent('   ')}` },
      {
        method: 'POST',
        url: '/api/recommend',
        payload: { items: Array.from({ length: 2000 }, () => ({ name: 'muse' })) },
      },
      { method: 'POST', url: '/api/recommend', payload: { items: [{ name: long }] } },
      { method: 'POST', url: '/api/recommend', payload: { items: [{ name: 'muse', plays: 1e308 }] } },
      {
        method: 'POST',
        url: '/api/recommend',
        payload: { items: [{ name: 'muse' }], exclude: Array.from({ length: 2000 }, (_, k) => `e${k}`) },
      },
      { method: 'POST', url: '/api/recommend', payload: { items: [{ name: 'muse' }], n: 1e9 } },
      {
        method: 'POST',
        url: '/api/recommend/batch',
        payload: { users: Array.from({ length: 2000 }, (_, k) => `u${k}`) },
      },
      { method: 'POST', url: '/api/recommend/batch', payload: { users: [long] } },
      { method: 'POST', url: '/api/recommend/batch', payload: { users: 'user2', n: 'ten' } },
    ] as const;
    for (const request of hostile) {
      const reply = await app.inject(request as InjectOptions);
      assert.ok(
        reply.statusCode >= 400 && reply.statusCode < 500,
        `${request.method} ${request.url.slice(0, 60)}: ${reply.statusCode} ${reply.body.slice(0, 200)}`,
      );
      isErrorBody(reply.json(), reply.statusCode);
      assert.ok(reply.body.length < 1000, 'the message does not echo the request');
    }
    const blank = await app.inject({
      method: 'POST',
      url: '/api/recommend/batch',
      payload: { users: ['   ', 'user2'] },
    });
    assert.equal(blank.statusCode, 200);
    assert.equal(blank.json().results[0].error.statusCode, 400);
    assert.ok(Array.isArray(blank.json().results[1].recommendations));
    assert.equal((await app.inject({ method: 'GET', url: '/api/similar/radiohead' })).statusCode, 200);
  });

  it('answers every /api route with 503 while no model is loaded', async () => {
    const empty = await buildApp({ holder: new ModelHolder(null) });
    for (const route of ROUTES) {
      const reply = await empty.inject(route);
      assert.deepEqual(
        reply.json(),
        { statusCode: 503, code: 'model', error: 'Service Unavailable', message: 'no model is loaded yet' },
        route.url,
      );
    }
    await empty.close();
  });

  it('answers a full query queue with 429 and a bug with 500, without its message', async () => {
    const holder = await ModelHolder.fromModel(model);
    const lease = holder.acquire() as ModelLease;
    // the error the batched queries throw (queries.ts), not a stand-in: it once answered 503
    let failure: Error = new QueueFullError(1024);
    const queries = { ...lease.served.queries, similarToRow: async () => Promise.reject(failure) };
    // a real holder whose leases carry the failing queries
    holder.acquire = () => ({ served: { ...lease.served, queries }, release() {} });
    const failing = await buildApp({ holder });
    const full = await failing.inject({ method: 'GET', url: '/api/similar/radiohead' });
    assert.deepEqual(full.json(), {
      statusCode: 429,
      code: 'queue-full',
      error: 'Too Many Requests',
      message: 'too many queries are waiting (1024); try again shortly',
    });
    assert.equal(full.headers['retry-after'], '1');
    failure = new TypeError('secret internals');
    const bug = await failing.inject({ method: 'GET', url: '/api/similar/radiohead' });
    assert.deepEqual(bug.json(), {
      statusCode: 500,
      code: 'internal',
      error: 'Internal Server Error',
      message: 'internal error (a bug; see the server log)',
    });
    await failing.close();
  });

  it('releases every lease it takes, whatever the answer', async () => {
    const holder = await ModelHolder.fromModel(model);
    let acquired = 0;
    let released = 0;
    const acquire = holder.acquire.bind(holder);
    holder.acquire = () => {
      const lease = acquire() as ModelLease;
      acquired++;
      return { served: lease.served, release: () => (released++, lease.release()) };
    };
    const counting = await buildApp({ holder });
    const requests = [
      ...ROUTES,
      { method: 'GET', url: '/api/similar/nothing-like-it' },
      { method: 'GET', url: '/api/recommend/nobody' },
      { method: 'GET', url: '/api/recommend/user2?explain=true' },
      { method: 'POST', url: '/api/recommend', payload: { items: [{ name: 'nothing-like-it' }] } },
      { method: 'POST', url: '/api/recommend', payload: { items: [{ name: 'muse', plays: 1e-300 }] } },
    ] as const;
    await Promise.all(requests.map((request) => counting.inject(request as InjectOptions)));
    assert.equal(acquired, requests.length);
    assert.equal(released, acquired);
    await counting.close();
  });
});
