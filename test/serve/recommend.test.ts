import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { foldIn } from '../../src/als/foldIn.js';
import { loadedVersion } from '../../src/model/load.js';
import type { AlsModel } from '../../src/model/model.js';
import { explainedRecommendations, explainUser } from '../../src/query/explain.js';
import { medianPlays, recommendForList, resolveItemList, type ListedItem } from '../../src/query/listened.js';
import { closestNames } from '../../src/query/lookup.js';
import { recommendItems } from '../../src/query/recommend.js';
import type { ScoredItem } from '../../src/query/similar.js';
import { scoredItem } from '../../src/serve/names.js';
import { buildApp } from '../../src/serve/server.js';
import { sampleModel } from './fixtures.js';

let model: AlsModel;
let app: FastifyInstance;
let version: string | null | undefined;

before(async () => {
  model = await sampleModel();
  app = await buildApp({ model });
  version = loadedVersion(model)?.version;
});
after(() => app.close());

/** A scored item as the API sends it. */
function api(item: ScoredItem): { name: string; score: number; raw: number; users: number } {
  return { name: item.name, score: item.score, raw: item.raw, users: model.itemUserCounts[item.index] };
}

/** An explained item as the API sends it (contributions without their rows). */
function explained(
  item: Parameters<typeof api>[0] & {
    explanation: { score: number; contributions: { name: string; value: number; share: number }[]; others: object };
  },
) {
  const { score, contributions, others } = item.explanation;
  return {
    ...api(item),
    explanation: {
      score,
      contributions: contributions.map(({ name, value, share }) => ({ name, value, share })),
      others,
    },
  };
}

async function get(url: string) {
  return app.inject({ method: 'GET', url });
}

async function post(url: string, payload: unknown) {
  return app.inject({ method: 'POST', url, payload: payload as object });
}

describe('GET /api/recommend/:user', () => {
  it('answers what recommendItems answers, played items left out', async () => {
    const user = model.userIds[7];
    const reply = await get(`/api/recommend/${user}`);
    assert.equal(reply.statusCode, 200, reply.body);
    const core = recommendItems(model, user);
    assert.deepEqual(reply.json(), { version, user, recommendations: core.recommendations.map(api) });
    assert.equal(reply.json().recommendations.length, 10);
  });

  it('takes n and includePlayed as recommendItems takes count and includePlayed', async () => {
    const user = model.userIds[1];
    const reply = await get(`/api/recommend/${user}?n=40&includePlayed=true`);
    assert.deepEqual(
      reply.json().recommendations,
      recommendItems(model, user, { count: 40, includePlayed: true }).recommendations.map(api),
    );
  });

  it('with explain=true answers what explainUser answers: the re-solved ranking, explanations and stored scores', async () => {
    const user = model.userIds[2];
    const reply = await get(`/api/recommend/${user}?n=5&explain=true`);
    assert.equal(reply.statusCode, 200, reply.body);
    const core = explainUser(model, user, { count: 5 });
    assert.deepEqual(reply.json(), {
      version,
      user,
      recommendations: core.recommendations.map((r) => ({ ...explained(r), stored: r.stored })),
    });
    assert.equal(reply.json().recommendations[0].explanation.contributions.length, 3);
  });

  it('leaves out excluded items (case-insensitive names), with or without explain', async () => {
    const user = model.userIds[3];
    const top = recommendItems(model, user, { count: 8 }).recommendations;
    const query = `exclude=${encodeURIComponent(top[0].name.toLowerCase())}&exclude=${encodeURIComponent(top[2].name)}&exclude=nothing-like-this`;
    const plain = await get(`/api/recommend/${user}?n=6&${query}`);
    assert.deepEqual(
      plain.json().recommendations.map((r: { name: string }) => r.name),
      top.filter((_, k) => k !== 0 && k !== 2).map((r) => r.name),
    );
    const topExplained = explainUser(model, user, { count: 8 }).recommendations;
    const excluded = [topExplained[1].name, topExplained[3].name];
    const withExplain = await get(
      `/api/recommend/${user}?n=6&explain=true&${excluded.map((e) => `exclude=${encodeURIComponent(e)}`).join('&')}`,
    );
    assert.deepEqual(
      withExplain.json().recommendations.map((r: { name: string }) => r.name),
      topExplained.filter((_, k) => k !== 1 && k !== 3).map((r) => r.name),
    );
  });

  it('answers an unknown user with 404 and the closest ids', async () => {
    const reply = await get('/api/recommend/user99999');
    assert.equal(reply.statusCode, 404);
    assert.deepEqual(reply.json(), {
      statusCode: 404,
      code: 'not-found',
      error: 'Not Found',
      message: 'no user "user99999" in the model',
      suggestions: closestNames(model.userIds, 'user99999'),
    });
  });

  it('sends the share of a score of 0 as null (NaN would fail the serialiser)', () => {
    const explanation = {
      score: 0,
      contributions: [{ index: 1, name: 'b', value: 0, share: NaN }],
      others: { items: 2, value: 0, share: NaN },
    };
    assert.deepEqual(scoredItem(model, { index: 0, name: 'a', score: 0, raw: 0, explanation }), {
      name: 'a',
      score: 0,
      raw: 0,
      users: model.itemUserCounts[0],
      explanation: {
        score: 0,
        contributions: [{ name: 'b', value: 0, share: null }],
        others: { items: 2, value: 0, share: null },
      },
    });
  });

  it('refuses a bad explain or includePlayed with 400 naming the field', async () => {
    const reply = await get(`/api/recommend/${model.userIds[0]}?explain=maybe`);
    assert.equal(reply.statusCode, 400);
    assert.equal(reply.json().message, 'querystring/explain must be boolean');
  });
});

describe('POST /api/recommend (a listener not in the model)', () => {
  const list: ListedItem[] = [
    { name: 'radiohead' },
    { name: 'Muse', plays: 120 },
    { name: 'portishead', plays: 40 },
    { name: 'radiohed zz' },
  ];

  it('answers what recommendForList answers: found with plays (median for none given), unknown with suggestions, listed items left out', async () => {
    const reply = await post('/api/recommend', { items: list, n: 7 });
    assert.equal(reply.statusCode, 200, reply.body);
    const core = recommendForList(model, list, { count: 7 });
    assert.deepEqual(reply.json(), {
      version,
      found: core.found.map(({ name, plays }) => ({ name, plays })),
      unknown: [{ name: 'radiohed zz', suggestions: closestNames(model.itemNames, 'radiohed zz') }],
      recommendations: core.recommendations.map(api),
    });
    assert.equal(reply.json().found[0].plays, Math.fround(medianPlays(model)));
    const listed = new Set(core.found.map((f) => f.name));
    assert.ok(reply.json().recommendations.every((r: { name: string }) => !listed.has(r.name)));
  });

  it('with explain answers what explainedRecommendations answers for the folded-in list', async () => {
    const reply = await post('/api/recommend', { items: list, n: 4, explain: true });
    assert.equal(reply.statusCode, 200, reply.body);
    const resolved = resolveItemList(model, list);
    const core = explainedRecommendations(model, foldIn(model, resolved.plays), { count: 4 });
    assert.deepEqual(reply.json().recommendations, core.map(explained));
  });

  it('sums the plays of an item listed twice, as resolveItemList does', async () => {
    const twice = [
      { name: 'muse', plays: 10 },
      { name: 'MUSE', plays: 5 },
    ];
    const reply = await post('/api/recommend', { items: twice, n: 3 });
    assert.deepEqual(reply.json().found, [{ name: 'Muse', plays: 15 }]);
    assert.deepEqual(
      reply.json().recommendations,
      recommendForList(model, twice, { count: 3 }).recommendations.map(api),
    );
  });

  it('leaves out excluded items too', async () => {
    const top = recommendForList(model, list, { count: 5 }).recommendations;
    const reply = await post('/api/recommend', { items: list, n: 4, exclude: [top[0].name, 'unknown band'] });
    assert.deepEqual(
      reply.json().recommendations.map((r: { name: string }) => r.name),
      top.slice(1).map((r) => r.name),
    );
  });

  it('answers 404 when no listed name is in the model, with suggestions', async () => {
    const reply = await post('/api/recommend', { items: [{ name: 'radiohed' }, { name: 'zzzzqqqq' }] });
    assert.equal(reply.statusCode, 404);
    assert.deepEqual(reply.json(), {
      statusCode: 404,
      code: 'not-found',
      error: 'Not Found',
      message: 'none of the 2 items listed in items is in the model',
      suggestions: ['Radiohead'],
    });
  });

  it('refuses an empty or malformed list with 400 naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ items: [] }, 'body/items must NOT have fewer than 1 items'],
      [{}, "body must have required property 'items'"],
      [{ items: { name: 'radiohead' } }, 'body/items must be array'],
      [{ items: [{ plays: 3 }] }, "body/items[0] must have required property 'name'"],
      [{ items: [{ name: 'muse' }, { name: 'x', plays: -1 }] }, 'body/items[1].plays must be > 0'],
      [{ items: [{ name: 'muse', plays: 1e16 }] }, 'body/items[0].plays must be <= 1000000000000000'],
      [{ items: [{ name: 'muse', plays: 'twelve' }] }, 'body/items[0].plays must be number'],
      [{ items: [{ name: '' }] }, 'body/items[0].name must NOT have fewer than 1 characters'],
      [{ items: [{ name: 'muse' }], n: 0 }, 'body/n must be >= 1'],
      [
        { items: Array.from({ length: 1001 }, () => ({ name: 'muse' })) },
        'body/items must NOT have more than 1000 items',
      ],
      // a JSON body has types: a number or boolean sent as another type is not converted
      [{ items: [{ name: 'muse', plays: '12' }] }, 'body/items[0].plays must be number'],
      [{ items: [{ name: 'muse', plays: true }] }, 'body/items[0].plays must be number'],
      [{ items: [{ name: 'muse' }], n: '5' }, 'body/n must be integer'],
      [{ items: [{ name: 'muse' }], explain: 'true' }, 'body/explain must be boolean'],
      [{ items: [{ name: 'muse' }], explain: 1 }, 'body/explain must be boolean'],
      [{ items: 'muse' }, 'body/items must be array'],
      [{ items: [{ name: 7 }] }, 'body/items[0].name must be string'],
    ];
    for (const [payload, message] of cases) {
      const reply = await post('/api/recommend', payload);
      assert.equal(reply.statusCode, 400, JSON.stringify(payload).slice(0, 80));
      assert.equal(reply.json().message, message);
    }
  });

  it('refuses plays that are 0 once stored as float32 with 400 naming the entry', async () => {
    const reply = await post('/api/recommend', { items: [{ name: 'muse', plays: 1e-300 }] });
    assert.equal(reply.statusCode, 400);
    assert.deepEqual(reply.json(), {
      statusCode: 400,
      code: 'usage',
      error: 'Bad Request',
      message: 'body/items[0].plays must be at least 1.4e-45 (a count above 0 as stored in float32)',
    });
  });
});

describe('POST /api/recommend with explain, at the limits', () => {
  it('refuses explain when n × the items found exceeds LIMITS.explainedTerms with 400, so that one request cannot hold the server for half a second (attacker trial of issue 10)', async () => {
    // 1000 listed items, n 1000, explain: a million contributions computed on the event loop
    // (0.43 s on the Last.fm sample), while every other request waited
    const items = model.itemNames.slice(0, 1000).map((name) => ({ name }));
    const reply = await post('/api/recommend', { items, n: 1000, explain: true });
    assert.equal(reply.statusCode, 400, reply.body.slice(0, 200));
    assert.equal(reply.json().code, 'usage');
    assert.match(reply.json().message, /n × the items found must be at most 100000 with explain/);
    assert.equal((await post('/api/recommend', { items, n: 100, explain: true })).statusCode, 200);
    assert.equal((await post('/api/recommend', { items, n: 1000 })).statusCode, 200);
  });
});

describe('POST /api/recommend/batch', () => {
  it('answers each user as GET /api/recommend/:user does, an unknown user as an error entry', async () => {
    const users = [model.userIds[0], 'nobody-here', model.userIds[5], model.userIds[0]];
    const reply = await post('/api/recommend/batch', { users, n: 4 });
    assert.equal(reply.statusCode, 200, reply.body);
    const body = reply.json();
    assert.equal(body.version, version);
    assert.equal(body.results.length, 4);
    for (const [k, id] of users.entries()) {
      const single = await get(`/api/recommend/${encodeURIComponent(id)}?n=4`);
      if (single.statusCode === 200)
        assert.deepEqual(body.results[k], { user: id, recommendations: single.json().recommendations });
      else assert.deepEqual(body.results[k], { user: id, error: single.json() });
    }
    assert.equal(body.results[1].error.statusCode, 404);
    assert.deepEqual(
      body.results[0].recommendations,
      recommendItems(model, users[0], { count: 4 }).recommendations.map(api),
    );
  });

  it('leaves out excluded items for every user', async () => {
    const users = [model.userIds[10], model.userIds[11]];
    const excluded = recommendItems(model, users[0], { count: 1 }).recommendations[0].name;
    const reply = await post('/api/recommend/batch', { users, exclude: [excluded] });
    for (const result of reply.json().results)
      assert.ok(result.recommendations.every((r: { name: string }) => r.name !== excluded));
  });

  it('refuses an empty, too long or malformed list with 400 naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ users: [] }, 'body/users must NOT have fewer than 1 items'],
      [{ users: [{ id: 'user2' }] }, 'body/users[0] must be string'],
      [{ users: Array.from({ length: 1001 }, (_, k) => `u${k}`) }, 'body/users must NOT have more than 1000 items'],
      [{ users: ['user2'], n: 1001 }, 'body/n must be <= 1000'],
      [{ users: ['user2'], n: '4' }, 'body/n must be integer'],
      [{ users: [2] }, 'body/users[0] must be string'],
    ];
    for (const [payload, message] of cases) {
      const reply = await post('/api/recommend/batch', payload);
      assert.equal(reply.statusCode, 400);
      assert.equal(reply.json().message, message);
    }
  });

  it('answers two batches of 1000 users and a single query sent together: a batch does not take the whole query queue (attacker trial of issue 10)', async () => {
    // every user of a batch was queued at once: 1000 of the 1024 places, so that a second batch
    // (or any request arriving behind one) was refused with 429
    const users = Array.from({ length: 1000 }, (_, k) => model.userIds[k % model.users]);
    const replies = await Promise.all([
      post('/api/recommend/batch', { users, n: 1 }),
      post('/api/recommend/batch', { users, n: 1 }),
      get(`/api/recommend/${encodeURIComponent(model.userIds[3])}?n=1`),
    ]);
    assert.deepEqual(
      replies.map((r) => r.statusCode),
      [200, 200, 200],
      replies.map((r) => r.body.slice(0, 120)).join('\n'),
    );
    assert.equal(replies[0].json().results.length, 1000);
    assert.deepEqual(replies[0].json(), replies[1].json());
  });

  it('refuses more than LIMITS.batchItems listed items in all (users × n) with 400, so that one batch cannot hold the server for seconds (attacker trial of issue 10)', async () => {
    // 1000 users × n 1000 was a million scored items, an 80 MB answer serialised on the event
    // loop: 7 s during which every other request waited
    const users = Array.from({ length: 1000 }, (_, k) => model.userIds[k % model.users]);
    const reply = await post('/api/recommend/batch', { users, n: 1000 });
    assert.equal(reply.statusCode, 400, reply.body.slice(0, 200));
    assert.equal(reply.json().code, 'usage');
    assert.match(reply.json().message, /users × n must be at most 20000/);
    assert.equal((await post('/api/recommend/batch', { users: users.slice(0, 20), n: 1000 })).statusCode, 200);
    assert.equal((await post('/api/recommend/batch', { users, n: 20 })).statusCode, 200);
  });
});
