import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { AlsModel } from '../../src/model/model.js';
import { buildApp } from '../../src/serve/server.js';
import { sampleModel } from './fixtures.js';

let model: AlsModel;
let app: FastifyInstance;

before(async () => {
  model = await sampleModel();
  app = await buildApp({ model });
});
after(() => app.close());

/** The search by its definition, over every item: starts-with by users, then contains by users. */
function expected(prefix: string, n: number): { name: string; users: number }[] {
  const q = prefix.toLowerCase();
  const rows = Array.from(model.itemNames.keys()).sort(
    (a, b) => model.itemUserCounts[b] - model.itemUserCounts[a] || a - b,
  );
  const starts = rows.filter((r) => model.itemNames[r].toLowerCase().startsWith(q));
  const contains = rows.filter(
    (r) => !model.itemNames[r].toLowerCase().startsWith(q) && model.itemNames[r].toLowerCase().includes(q),
  );
  return [...starts, ...contains]
    .slice(0, n)
    .map((r) => ({ name: model.itemNames[r], users: model.itemUserCounts[r] }));
}

async function search(query: string) {
  const reply = await app.inject({ method: 'GET', url: `/api/items?${query}` });
  return { status: reply.statusCode, body: reply.json() };
}

describe('GET /api/items', () => {
  it('gives the names that start with the prefix, most users first, case-insensitively', async () => {
    const { status, body } = await search('prefix=RAD&n=5');
    assert.equal(status, 200);
    assert.deepEqual(body.items, expected('rad', 5));
    assert.equal(body.items[0].name, 'Radiohead');
    assert.equal(body.items[0].users, model.itemUserCounts[model.itemNames.indexOf('Radiohead')]);
    assert.equal(typeof body.version, 'string');
  });

  it('fills up with names that contain the prefix once those that start with it run out', async () => {
    const { body } = await search('prefix=head&n=40');
    const want = expected('head', 40);
    assert.deepEqual(body.items, want);
    assert.ok(
      want.some((item) => !item.name.toLowerCase().startsWith('head')),
      'the sample has names containing "head" elsewhere',
    );
  });

  it('gives the most used items for an empty or absent prefix, 10 by default', async () => {
    assert.deepEqual((await search('prefix=')).body.items, expected('', 10));
    assert.deepEqual((await search('n=100')).body.items, expected('', 100));
  });

  it('gives an empty list when nothing matches', async () => {
    assert.deepEqual((await search(`prefix=${'q'.repeat(1000)}`)).body.items, []);
  });

  it('refuses n above 100 and a prefix over 1000 characters with 400 naming the field', async () => {
    assert.equal((await search('n=101')).body.message, 'querystring/n must be <= 100');
    assert.equal(
      (await search(`prefix=${'q'.repeat(1001)}`)).body.message,
      'querystring/prefix must NOT have more than 1000 characters',
    );
  });
});
