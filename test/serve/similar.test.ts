import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildApp } from '../../src/serve/server.js';
import { similarItems } from '../../src/query/similar.js';
import { sampleModel } from './fixtures.js';

describe('GET /api/similar/:item', () => {
  it('answers what similarItems answers', async () => {
    const model = await sampleModel();
    const app = await buildApp({ model });
    const reply = await app.inject({ method: 'GET', url: '/api/similar/radiohead?n=5' });
    assert.equal(reply.statusCode, 200, reply.body);
    const expected = similarItems(model, 'radiohead', { count: 5 });
    assert.deepEqual(reply.json().similar.map((s: { name: string }) => s.name), expected.similar.map((s) => s.name));
    await app.close();
  });
});
