import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadedVersion } from '../../src/model/load.js';
import type { AlsModel } from '../../src/model/model.js';
import { closestNames } from '../../src/query/lookup.js';
import { similarItems } from '../../src/query/similar.js';
import { buildApp } from '../../src/serve/server.js';
import { sampleModel } from './fixtures.js';

let model: AlsModel;
let app: FastifyInstance;

before(async () => {
  model = await sampleModel();
  app = await buildApp({ model });
});
after(() => app.close());

/** The core's answer as the API sends it. */
function expected(name: string, options: { count?: number; minItemUsers?: number } = {}) {
  const result = similarItems(model, name, options);
  return {
    version: loadedVersion(model)?.version,
    item: result.item,
    minItemUsers: result.minItemUsers,
    leftOut: result.leftOut,
    similar: result.similar.map((s) => ({
      name: s.name,
      score: s.score,
      raw: s.raw,
      users: model.itemUserCounts[s.index],
    })),
  };
}

describe('GET /api/similar/:item', () => {
  it('answers what similarItems answers: names, scaled scores, cosines, users, filter count', async () => {
    const reply = await app.inject({ method: 'GET', url: '/api/similar/radiohead' });
    assert.equal(reply.statusCode, 200, reply.body);
    assert.equal(reply.headers['content-type'], 'application/json; charset=utf-8');
    const body = reply.json();
    assert.deepEqual(body, expected('radiohead'));
    assert.equal(body.similar.length, 10);
    assert.equal(body.minItemUsers, 3);
    assert.equal(body.similar[0].score, 1);
  });

  it('takes n and minItemUsers as similarItems takes count and minItemUsers', async () => {
    const reply = await app.inject({ method: 'GET', url: '/api/similar/radiohead?n=25&minItemUsers=1' });
    assert.equal(reply.statusCode, 200, reply.body);
    assert.deepEqual(reply.json(), expected('radiohead', { count: 25, minItemUsers: 1 }));
    assert.equal(reply.json().leftOut, 0);
  });

  it('looks the item up case-insensitively and names it as in the model', async () => {
    const reply = await app.inject({ method: 'GET', url: `/api/similar/${encodeURIComponent('RADIOHEAD')}?n=3` });
    assert.equal(reply.json().item, 'Radiohead');
    assert.deepEqual(reply.json(), expected('Radiohead', { count: 3 }));
  });

  it('never returns an excluded item, ignores names not in the model, and fills n from the next best', async () => {
    const top = expected('radiohead', { count: 13 }).similar;
    const excluded = [top[0].name, top[4].name.toUpperCase(), 'no such band at all'];
    const query = excluded.map((name) => `exclude=${encodeURIComponent(name)}`).join('&');
    const reply = await app.inject({ method: 'GET', url: `/api/similar/radiohead?n=10&${query}` });
    assert.equal(reply.statusCode, 200, reply.body);
    const names = reply.json().similar.map((s: { name: string }) => s.name);
    const wanted = top.filter((_, k) => k !== 0 && k !== 4).slice(0, 10);
    assert.deepEqual(
      names,
      wanted.map((s) => s.name),
    );
    assert.deepEqual(
      reply.json().similar.map((s: { raw: number }) => s.raw),
      wanted.map((s) => s.raw),
    );
  });

  it('takes one exclude name as a list of one', async () => {
    const top = expected('radiohead', { count: 2 }).similar;
    const reply = await app.inject({
      method: 'GET',
      url: `/api/similar/radiohead?n=1&exclude=${encodeURIComponent(top[0].name)}`,
    });
    assert.deepEqual(
      reply.json().similar.map((s: { name: string }) => s.name),
      [top[1].name],
    );
  });

  it('answers an unknown item with 404 and the close names', async () => {
    const reply = await app.inject({ method: 'GET', url: '/api/similar/radiohed' });
    assert.equal(reply.statusCode, 404);
    assert.deepEqual(reply.json(), {
      statusCode: 404,
      code: 'not-found',
      error: 'Not Found',
      message: 'no item named "radiohed" in the model',
      suggestions: closestNames(model.itemNames, 'radiohed'),
    });
    assert.deepEqual(reply.json().suggestions, ['Radiohead']);
  });

  it('refuses a bad n, minItemUsers or exclude with 400 naming the field', async () => {
    const cases: [string, string][] = [
      ['n=0', 'querystring/n must be >= 1'],
      ['n=1001', 'querystring/n must be <= 1000'],
      ['n=1e400', 'querystring/n must be a finite number'],
      ['n=Infinity', 'querystring/n must be a finite number'],
      ['minItemUsers=-Infinity', 'querystring/minItemUsers must be a finite number'],
      ['n=NaN', 'querystring/n must be integer'],
      ['n=2.5', 'querystring/n must be integer'],
      ['n=-3', 'querystring/n must be >= 1'],
      ['n=1&n=2', 'querystring/n must be integer'],
      ['minItemUsers=0', 'querystring/minItemUsers must be >= 1'],
      ['minItemUsers=99999999999', 'querystring/minItemUsers must be <= 2147483647'],
      [`exclude=${'x'.repeat(1001)}`, 'querystring/exclude[0] must NOT have more than 1000 characters'],
      [
        Array.from({ length: 1001 }, (_, k) => `exclude=a${k}`).join('&'),
        'querystring/exclude must NOT have more than 1000 items',
      ],
    ];
    for (const [query, message] of cases) {
      const reply = await app.inject({ method: 'GET', url: `/api/similar/radiohead?${query}` });
      assert.equal(reply.statusCode, 400, query);
      assert.deepEqual(
        reply.json(),
        { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message },
        query,
      );
    }
  });

  it('refuses an item name over 1000 characters with 400, and answers one of 1000 with 404', async () => {
    const long = await app.inject({ method: 'GET', url: `/api/similar/${'a'.repeat(1001)}` });
    assert.equal(long.statusCode, 400);
    assert.equal(long.json().message, 'params/item must NOT have more than 1000 characters');
    const longest = await app.inject({ method: 'GET', url: `/api/similar/${'é'.repeat(1000)}` });
    assert.equal(longest.statusCode, 404);
    assert.equal(longest.json().code, 'not-found');
  });
});
