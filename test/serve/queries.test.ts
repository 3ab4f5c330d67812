import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createWasmKernelsSync, type Kernels } from '../../src/kernels/index.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadedVersion, loadModel } from '../../src/model/load.js';
import { saveModel } from '../../src/model/save.js';
import { tempDir } from '../helpers.js';
import { recommendForVector } from '../../src/query/recommend.js';
import { rankSimilarToRow } from '../../src/query/similar.js';
import { prepareServing, QueueFullError } from '../../src/serve/queries.js';
import { userFactorRows } from '../../src/model/fileRows.js';
import { sampleModel } from './fixtures.js';
import { foldIn, foldInUserRow } from '../../src/als/foldIn.js';
import type { AlsModel } from '../../src/model/model.js';
import { DEFAULT_MIN_ITEM_USERS } from '../../src/query/listeners.js';
import { medianPlays, resolveItemList } from '../../src/query/listened.js';

const single = createWasmKernelsSync();

/** The sample's user factors read whole (a served model reads them a row at a time from its file). */
async function storedUserFactors(): Promise<Float32Array> {
  return (await sampleModel()).userFactors;
}

/** `model` with other training options, its parts not read (a spread would call every getter). */
function withOptions(model: AlsModel, options: AlsModel['options']): AlsModel {
  return Object.defineProperties(
    {},
    { ...Object.getOwnPropertyDescriptors(model), options: { value: options, enumerable: true } },
  ) as AlsModel;
}

/** rankSimilarToRow with `exclude` left out afterwards: equal to the batched answer when no excluded row would be listed or bound the range. */
function similarAlone(
  model: Parameters<typeof rankSimilarToRow>[0],
  item: number,
  count: number,
  minListeners: number,
) {
  const { similar, leftOut } = rankSimilarToRow(model, item, { count, minItemUsers: minListeners, kernels: single });
  return { similar, leftOut };
}

/** The loaded row of each served row (by name: prepareServing renumbers the items). */
function originalRows(served: AlsModel, loaded: AlsModel): Int32Array {
  const byName = new Map(loaded.itemNames.map((name, i) => [name, i]));
  return Int32Array.from(served.itemNames, (name) => byName.get(name) as number);
}

/** Served answers with their rows as the loaded model numbers them. */
function inLoadedRows<T extends { index: number }>(answers: T[], original: Int32Array): T[] {
  return answers.map((a) => ({ ...a, index: original[a.index] }));
}

describe('prepareServing', () => {
  it('renumbers the items: the candidates of similar first, names, listeners, factors and plays moved together', async () => {
    const loaded = await sampleModel();
    // the user factors read a row at a time from their file, as ModelHolder serves a directory
    const { model, queries } = await prepareServing(loaded, { threads: 2 }, await userFactorRows(loaded));
    try {
      assert.ok(
        model.itemFactors.buffer instanceof SharedArrayBuffer,
        'the item factors live in the kernels’ shared memory',
      );
      const original = originalRows(model, loaded);
      const f = model.factors;
      // a permutation: every loaded row once
      assert.deepEqual(
        Array.from(original).sort((a, b) => a - b),
        Array.from({ length: loaded.items }, (_, i) => i),
      );
      const candidates = Array.from(loaded.itemUserCounts).filter((l) => l >= DEFAULT_MIN_ITEM_USERS).length;
      assert.ok(candidates > 0 && candidates < model.items, 'the sample has items below the minimum');
      for (let r = 0; r < model.items; r++) {
        assert.equal(model.itemUserCounts[r] >= DEFAULT_MIN_ITEM_USERS, r < candidates);
        // each group in its loaded order
        if (r > 0 && r !== candidates) assert.ok(original[r - 1] < original[r]);
        assert.equal(model.itemNames[r], loaded.itemNames[original[r]]);
        assert.equal(model.itemUserCounts[r], loaded.itemUserCounts[original[r]]);
        assert.deepEqual(
          model.itemFactors.subarray(r * f, r * f + f),
          loaded.itemFactors.subarray(original[r] * f, original[r] * f + f),
        );
      }
      // the same (user, name, plays) triples, indices ascending within each row
      const a = model.userItems;
      const b = loaded.userItems;
      assert.deepEqual(a.indptr, b.indptr);
      assert.equal(a.cols, b.cols);
      for (let u = 0; u < a.rows; u++) {
        const triples = (m: typeof a, names: string[]) =>
          Array.from(
            { length: m.indptr[u + 1] - m.indptr[u] },
            (_, k) => `${names[m.indices[m.indptr[u] + k]]}=${m.data[m.indptr[u] + k]}`,
          ).sort();
        for (let n = a.indptr[u] + 1; n < a.indptr[u + 1]; n++) assert.ok(a.indices[n - 1] < a.indices[n]);
        assert.deepEqual(triples(a, model.itemNames), triples(b, loaded.itemNames));
      }
      // the user factors stay in their file: a row per request, as stored
      assert.throws(() => model.userFactors, { code: 'model' });
      const stored = await storedUserFactors();
      for (const u of [0, 1, 17, model.users - 1])
        assert.deepEqual(await queries.userVector(u), stored.subarray(u * f, u * f + f));
      await assert.rejects(queries.userVector(model.users), { code: 'usage' });
      await assert.rejects(queries.userVector(-1), { code: 'usage' });
      // the rest as read
      assert.deepEqual(model.userIds, loaded.userIds);
      assert.deepEqual(model.options, loaded.options);
      assert.equal(loadedVersion(model), null);
    } finally {
      queries.dispose();
    }
  });

  it('folds in the same names to the same x, bit for bit, on the renumbered model (YᵀY, the order of the sums, medianPlays)', async () => {
    const loaded = await sampleModel();
    const { model, queries } = await prepareServing(loaded, { threads: 1 });
    try {
      assert.equal(medianPlays(model), medianPlays(loaded));
      const names = loaded.itemNames.filter((_, i) => i % 97 === 5 || loaded.itemUserCounts[i] < 2).slice(0, 40);
      const list = names.map((name, k) => ({ name, plays: k % 3 === 0 ? undefined : 1 + k * 7 }));
      const served = foldIn(model, resolveItemList(model, list).plays);
      const core = foldIn(loaded, resolveItemList(loaded, list).plays);
      assert.deepEqual(served.x, core.x);
      for (const user of [0, 1, 17, model.users - 1])
        assert.deepEqual(foldInUserRow(model, user).x, foldInUserRow(loaded, user).x);
      // bm25: per-item totals and their average
      const bm25 = withOptions(loaded, { ...loaded.options, weighting: 'bm25' as const });
      const bm25Served = withOptions(model, bm25.options);
      assert.deepEqual(foldInUserRow(bm25Served, 3).x, foldInUserRow(bm25, 3).x);
    } finally {
      queries.dispose();
    }
  });

  it('with compact: false returns a plain model with every part read, the item factors in kernel memory and equal to the loaded ones', async () => {
    const loaded = await sampleModel();
    // read before: the served model keeps this array (rows in memory)
    const stored = loaded.userFactors;
    const { model, queries } = await prepareServing(loaded, { threads: 2, compact: false });
    try {
      assert.deepEqual(Object.getOwnPropertyDescriptor(model, 'itemFactors')?.get, undefined);
      assert.deepEqual(model.itemFactors, loaded.itemFactors);
      assert.notEqual(model.itemFactors, loaded.itemFactors);
      assert.ok(
        model.itemFactors.buffer instanceof SharedArrayBuffer,
        'the item factors live in the kernels’ shared memory',
      );
      // the user factors as read: a query copies one row
      assert.equal(model.userFactors, stored);
      assert.deepEqual(await queries.userVector(3), stored.subarray(3 * model.factors, 4 * model.factors));
      assert.deepEqual(model.itemNames, loaded.itemNames);
      assert.deepEqual(model.userItems, loaded.userItems);
      assert.deepEqual(model.itemUserCounts, loaded.itemUserCounts);
      assert.equal(model.factors, 32);
      assert.deepEqual(model.options, loaded.options);
      // the holder takes the version from the model it loaded
      assert.equal(loadedVersion(model), null);
      assert.notEqual(loadedVersion(loaded), null);
      assert.equal(queries.kernels.threads, 2);
    } finally {
      queries.dispose();
    }
  });

  it('fails at once on a model with a bad part, not in a request', async () => {
    const target = join(tempDir('als-serve-'), 'flipped');
    await saveModel(await sampleModel(), target);
    const path = join(target, 'user_items.plays.f32');
    const raw = readFileSync(path);
    raw[5] ^= 0x40;
    writeFileSync(path, raw);
    const loaded = loadModel(target);
    await assert.rejects(
      prepareServing(loaded, { threads: 1 }),
      (error: Error & { code?: string }) =>
        error.code === 'model' && /user_items\.plays\.f32 fails its checksum/.test(error.message),
    );
    await assert.rejects(prepareServing(await sampleModel(), { threads: 0 }), {
      code: 'usage',
      message: 'options.threads must be a whole number from 1 to 1024, not 0',
    });
  });
});

/**
 * Calls `count` with the queries of every block that `kernels` select: through selectBlock,
 * cosineBlock (the quantized similar pass of the candidate set default queries use), or both
 * (their Async forms, off the event loop's thread, which the served queries call).
 */
function onSelect(kernels: Kernels, which: 'cosineBlock' | 'both', count: (queries: number) => void): void {
  for (const name of which === 'both'
    ? (['selectBlockAsync', 'cosineBlockAsync'] as const)
    : ([`${which}Async`] as const)) {
    const original = kernels[name].bind(kernels) as (selection: { queries: number }) => Promise<void>;
    (kernels as unknown as Record<string, unknown>)[name] = (selection: { queries: number }) => {
      count(selection.queries);
      return original(selection);
    };
  }
}

describe('ModelQueries', () => {
  it('scores queries asked in the same turn together, each answer equal to its single query', async () => {
    const loaded = await sampleModel();
    const { model, queries } = await prepareServing(loaded, { threads: 2, block: 16 });
    try {
      // count the passes over the item factors (off the event loop's thread: the Async forms)
      const kernels = queries.kernels;
      let passes = 0;
      const scoresBlock = kernels.scoresBlockAsync.bind(kernels);
      (kernels as { scoresBlockAsync: typeof scoresBlock }).scoresBlockAsync = (...args) => {
        passes++;
        return scoresBlock(...args);
      };
      onSelect(kernels, 'cosineBlock', () => passes++);
      const f = model.factors;
      const { indptr, indices } = model.userItems;
      const similarItems = Array.from({ length: 20 }, (_, n) => (n * 211) % model.items);
      const users = Array.from({ length: 20 }, (_, n) => (n * 97) % model.users);
      const similar = similarItems.map((item, n) =>
        queries.similarToRow(item, { count: 1 + (n % 12), exclude: [], minItemUsers: 1 + (n % 4) }),
      );
      const played = (u: number) => indices.subarray(indptr[u], indptr[u + 1]);
      const vectors = await Promise.all(users.map((u) => queries.userVector(u)));
      const recommended = users.map((u, n) =>
        queries.recommendForVector(vectors[n], { count: 1 + (n % 7), exclude: played(u) }),
      );
      const [similarAnswers, recommendAnswers] = await Promise.all([Promise.all(similar), Promise.all(recommended)]);
      const original = originalRows(model, loaded);
      const stored = await storedUserFactors();
      similarItems.forEach((item, n) => {
        const { similar, leftOut } = similarAnswers[n];
        assert.deepEqual(
          { similar: inLoadedRows(similar, original), leftOut },
          similarAlone(loaded, original[item], 1 + (n % 12), 1 + (n % 4)),
        );
      });
      users.forEach((u, n) => {
        const expected = recommendForVector(
          loaded,
          stored,
          u * f,
          Array.from(played(u), (r) => original[r]),
          { count: 1 + (n % 7), kernels: single },
        );
        assert.deepEqual(inLoadedRows(recommendAnswers[n], original), expected);
      });
      // 20 similar queries, 10 on each candidate set (minimum 1–2: every item; 3–4: compacted): one
      // pass each; 20 vector queries in blocks of 16: two
      assert.equal(passes, 2 + 2);
    } finally {
      queries.dispose();
    }
  });

  it('leaves out a request’s excluded rows: not listed, not counted in the min-max range', async () => {
    const loaded = await sampleModel();
    const { model, queries } = await prepareServing(loaded, { threads: 1 });
    try {
      const item = 0;
      const whole = await queries.similarToRow(item, { count: 5, exclude: [], minItemUsers: 1 });
      const gone = [whole.similar[0].index, whole.similar[2].index];
      const less = await queries.similarToRow(item, { count: 3, exclude: gone, minItemUsers: 1 });
      // the best left out: the second becomes the top, scored 1 (the range's maximum)
      assert.deepEqual(
        less.similar.map((s) => s.index),
        [whole.similar[1].index, whole.similar[3].index, whole.similar[4].index],
      );
      assert.equal(less.similar[0].score, 1);
      assert.equal(less.similar[0].raw, whole.similar[1].raw);
      const x = await queries.userVector(0);
      const top = await queries.recommendForVector(x, { count: 4, exclude: [] });
      const rest = await queries.recommendForVector(x, { count: 3, exclude: [top[0].index] });
      const original = originalRows(model, loaded);
      assert.deepEqual(
        inLoadedRows(rest, original),
        recommendForVector(loaded, await storedUserFactors(), 0, [original[top[0].index]], {
          count: 3,
          kernels: single,
        }),
      );
      assert.deepEqual(
        rest.map((r) => r.index),
        top.slice(1).map((r) => r.index),
      );
    } finally {
      queries.dispose();
    }
  });

  it('refuses a query beyond maxWaiting with QueueFullError (status 429), and answers the others', async () => {
    const loaded = await sampleModel();
    const { queries } = await prepareServing(loaded, { threads: 1, maxWaiting: 3 });
    try {
      const asked = [0, 1, 2, 3, 4].map((item) =>
        queries.similarToRow(item, { count: 2, exclude: [], minItemUsers: 3 }),
      );
      const settled = await Promise.allSettled(asked);
      assert.deepEqual(
        settled.map((s) => s.status),
        ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected'],
      );
      const error = (settled[3] as PromiseRejectedResult).reason;
      assert.ok(error instanceof QueueFullError);
      assert.equal(error.statusCode, 429);
      assert.equal(error.code, 'model');
      assert.equal(error.message, 'too many queries are waiting (3); try again shortly');
      // the queue drained: room again
      assert.equal((await queries.similarToRow(5, { count: 1, exclude: [], minItemUsers: 3 })).similar.length, 1);
    } finally {
      queries.dispose();
    }
  });

  it('refuses malformed queries naming the field, without failing the others of the batch', async () => {
    const loaded = await sampleModel();
    const { model, queries } = await prepareServing(loaded, { threads: 1 });
    try {
      const good = queries.similarToRow(1, { count: 2, exclude: [], minItemUsers: 3 });
      await assert.rejects(queries.similarToRow(model.items, { count: 2, exclude: [], minItemUsers: 3 }), {
        code: 'usage',
        message: `item must be a row from 0 to ${model.items - 1}, not ${model.items}`,
      });
      await assert.rejects(queries.similarToRow(1, { count: 2, exclude: [-1], minItemUsers: 3 }), {
        code: 'usage',
        message: `exclude[0] must be a row from 0 to ${model.items - 1}, not -1`,
      });
      await assert.rejects(
        queries.recommendForVector(new Float32Array(2), { count: 2, exclude: [] }),
        (error: Error & { code?: string }) => error.code === 'usage' && /xOffset/.test(error.message),
      );
      await assert.rejects(queries.recommendForVector(new Float32Array(model.factors), null as never), {
        code: 'usage',
        message: 'request must be an object, not null',
      });
      assert.equal((await good).similar.length, 2);
    } finally {
      queries.dispose();
    }
  });

  it('answers a repeated similar query from its cache (copies), and identical queries of one turn with one scoring', async () => {
    const loaded = await sampleModel();
    const { model, queries } = await prepareServing(loaded, { threads: 1 });
    try {
      const kernels = queries.kernels;
      let scored = 0;
      onSelect(kernels, 'both', (queries) => (scored += queries));
      const ask = (exclude: number[]) => queries.similarToRow(7, { count: 4, exclude, minItemUsers: 3 });
      const [a, b, c] = await Promise.all([ask([]), ask([]), ask([9])]);
      assert.equal(scored, 2);
      const original = originalRows(model, loaded);
      assert.deepEqual(
        { similar: inLoadedRows(a.similar, original), leftOut: a.leftOut },
        similarAlone(loaded, original[7], 4, 3),
      );
      assert.deepEqual(b, a);
      assert.notEqual(b.similar, a.similar);
      a.similar[0].score = -1; // a route may change what it was given
      const again = await ask([]);
      assert.deepEqual(again, b);
      // the same exclusions in another order and repeated: the same query
      assert.deepEqual(await ask([9, 9]), c);
      assert.equal(scored, 2);
      // another count, minimum or item is another query
      await queries.similarToRow(7, { count: 5, exclude: [], minItemUsers: 3 });
      await queries.similarToRow(7, { count: 4, exclude: [], minItemUsers: 2 });
      assert.equal(scored, 4);
    } finally {
      queries.dispose();
    }
  });

  it('keeps at most cacheItems listed items, least recently used dropped first; 0 caches nothing', async () => {
    const loaded = await sampleModel();
    const { queries } = await prepareServing(loaded, { threads: 1, cacheItems: 10 });
    const { queries: uncached } = await prepareServing(loaded, { threads: 1, cacheItems: 0 });
    try {
      let scored = 0;
      for (const q of [queries, uncached]) onSelect(q.kernels, 'both', (queries) => (scored += queries));
      const ask = (item: number) => queries.similarToRow(item, { count: 5, exclude: [], minItemUsers: 1 });
      await ask(1);
      await ask(2);
      await ask(1); // cached; 2 is now the least recent
      assert.equal(scored, 2);
      await ask(3); // 15 listed: 2 goes
      await ask(1);
      assert.equal(scored, 3);
      await ask(2);
      assert.equal(scored, 4);
      await uncached.similarToRow(1, { count: 5, exclude: [], minItemUsers: 1 });
      await uncached.similarToRow(1, { count: 5, exclude: [], minItemUsers: 1 });
      assert.equal(scored, 6);
    } finally {
      queries.dispose();
      uncached.dispose();
    }
  });

  it('counts an empty similar answer as one listed item, so that empty answers cannot fill the cache without bound (attacker trial of issue 10)', async () => {
    // GET /api/similar/X?minItemUsers=K for ever new K above every item's users: each answer lists
    // nothing, and counted as 0 items it was never dropped (memory grew with every request)
    const loaded = await sampleModel();
    const { queries } = await prepareServing(loaded, { threads: 1, cacheItems: 2 });
    try {
      let scored = 0;
      onSelect(queries.kernels, 'both', (queries) => (scored += queries));
      const ask = (minItemUsers: number) => queries.similarToRow(1, { count: 5, exclude: [], minItemUsers });
      const huge = 1_000_000_000;
      assert.deepEqual((await ask(huge)).similar, []);
      const first = scored;
      assert.ok(first > 0, 'an empty answer is scored');
      await ask(huge); // cached
      assert.equal(scored, first);
      for (let k = 1; k <= 3; k++) await ask(huge + k);
      await ask(huge); // dropped for the three more recent ones: scored again
      assert.ok(scored > 4 * first, `scored ${scored}`);
    } finally {
      queries.dispose();
    }
  });

  it('dispose() refuses waiting and later queries with AlsError model, and ends the kernels', async () => {
    const loaded = await sampleModel();
    const { queries } = await prepareServing(loaded, { threads: 2 });
    const waiting = queries.similarToRow(0, { count: 2, exclude: [], minItemUsers: 3 });
    queries.dispose();
    const unloaded = { code: 'model', message: 'the model was unloaded before the query was answered' };
    await assert.rejects(waiting, unloaded);
    await assert.rejects(queries.recommendForVector(new Float32Array(32), { count: 1, exclude: [] }), unloaded);
    queries.dispose(); // twice is harmless
  });
});
