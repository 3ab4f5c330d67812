import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { resolveTrainOptions } from '../../src/als/options.js';
import { cooToCsr } from '../../src/data/sparse.js';
import { createWasmKernels, createWasmKernelsSync, type Kernels } from '../../src/kernels/index.js';
import type { AlsModel } from '../../src/model/model.js';
import { BlockQueries, type SimilarBlockQuery, type VectorBlockQuery } from '../../src/query/blockQueries.js';
import { recommendForVector } from '../../src/query/recommend.js';
import { minMaxScale, scoreRange } from '../../src/query/scale.js';
import { itemNorms, rankSimilarToRow, type ScoredItem } from '../../src/query/similar.js';
import { sampleModel } from '../serve/fixtures.js';
import { candidatesFirst } from '../../src/serve/queries.js';
import { DEFAULT_MIN_ITEM_USERS } from '../../src/query/listeners.js';

/** The single-query kernels the references run on (as the CLI's queries). */
const single: Kernels = createWasmKernelsSync();
const two = await createWasmKernels(2);
after(() => two.dispose());

/**
 * The reference for a similar query with exclusions: rankSimilarToRow's steps, the excluded rows left
 * out of the candidates like the query item (never listed, not in the min-max range).
 */
function similarReference(
  model: AlsModel,
  { item, count, exclude, minListeners }: SimilarBlockQuery,
): { similar: ScoredItem[]; leftOut: number } {
  const { itemFactors: Y, items, factors: f, itemUserCounts } = model;
  const norms = itemNorms(model, single);
  const scores = new Float32Array(items);
  single.scores(Y, items, f, Y, item * f, scores);
  for (let j = 0; j < items; j++) {
    const denominator = norms[item] * norms[j];
    scores[j] = denominator > 0 ? scores[j] / denominator : 0;
  }
  const skip = new Uint8Array(items);
  let below = 0;
  for (let j = 0; j < items; j++) {
    // a minimum of 1 filters nothing, not even an item without listeners
    if (minListeners > 1 && itemUserCounts[j] < minListeners) {
      skip[j] = 1;
      if (j !== item) below++;
    }
  }
  skip[item] = 1;
  for (let n = 0; n < exclude.length; n++) skip[exclude[n]] = 1;
  const range = scoreRange(scores, skip);
  const best = single.topK(scores, Math.min(count, items), skip);
  const similar = Array.from(best, (j) => ({
    index: j,
    name: model.itemNames[j],
    score: minMaxScale(scores[j], range),
    raw: scores[j],
  }));
  return { similar, leftOut: minListeners > 1 ? below : 0 };
}

function vectorReference(model: AlsModel, query: VectorBlockQuery): ScoredItem[] {
  return recommendForVector(model, query.x, query.xOffset, query.exclude, { count: query.count, kernels: single });
}

/**
 * A small model made to be hard on the selection: identical item rows (ties, decided by the
 * lower row), zero rows (norm 0: cosine 0), listener counts from 0 to 6.
 */
function tieModel(): AlsModel {
  const users = 7;
  const items = 60;
  const f = 4;
  const Y = new Float32Array(items * f);
  for (let i = 0; i < items; i++) {
    for (let a = 0; a < f; a++) Y[i * f + a] = i % 7 === 0 ? 0 : (((i % 11) * 7 + a * 3) % 5) - 2;
  }
  const X = new Float32Array(users * f);
  for (let n = 0; n < X.length; n++) X[n] = ((n * 13) % 7) - 3;
  const rows: number[] = [];
  const cols: number[] = [];
  for (let i = 0; i < items; i++)
    for (let u = 0; u < i % 7; u++) {
      rows.push(u);
      cols.push(i);
    }
  const { matrix } = cooToCsr(
    users,
    items,
    Int32Array.from(rows),
    Int32Array.from(cols),
    new Float32Array(rows.length).fill(2),
    rows.length,
  );
  const itemUserCounts = new Int32Array(items);
  for (const c of cols) itemUserCounts[c]++;
  return {
    users,
    items,
    factors: f,
    userFactors: X,
    itemFactors: Y,
    userIds: Array.from({ length: users }, (_, u) => `u${u}`),
    itemNames: Array.from({ length: items }, (_, i) => `item ${i}`),
    userItems: matrix,
    itemUserCounts,
    options: resolveTrainOptions({ factors: f }),
    input: null,
    losses: null,
  };
}

interface Case {
  kind: 'similar' | 'vector';
  row: number;
  count: number;
  exclude: number[];
  minListeners: number;
  withItem: boolean;
  played: boolean;
}

/** A batch of mixed queries: counts, exclusions (the query item among them, or not), minimums. */
function batchArbitrary(items: number, users: number): fc.Arbitrary<Case[]> {
  return fc.array(
    fc.record({
      kind: fc.constantFrom('similar' as const, 'vector' as const),
      row: fc.nat({ max: Math.max(items, users) - 1 }),
      count: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.constant(10_000)),
      exclude: fc.array(fc.nat({ max: items - 1 }), { maxLength: 8 }),
      minListeners: fc.constantFrom(1, 2, 3, 4, 5, 50),
      withItem: fc.boolean(),
      played: fc.boolean(),
    }),
    { minLength: 1, maxLength: 40 },
  );
}

function queriesOf(model: AlsModel, cases: Case[]): { similar: SimilarBlockQuery[]; vector: VectorBlockQuery[] } {
  const similar: SimilarBlockQuery[] = [];
  const vector: VectorBlockQuery[] = [];
  for (const c of cases) {
    if (c.kind === 'similar') {
      const item = c.row % model.items;
      similar.push({
        item,
        count: c.count,
        exclude: c.withItem ? [...c.exclude, item] : c.exclude,
        minListeners: c.minListeners,
      });
    } else {
      const user = c.row % model.users;
      const { indptr, indices } = model.userItems;
      const played = c.played ? Array.from(indices.subarray(indptr[user], indptr[user + 1])) : [];
      vector.push({
        x: model.userFactors,
        xOffset: user * model.factors,
        count: c.count,
        exclude: [...played, ...c.exclude],
      });
    }
  }
  return { similar, vector };
}

async function checkBatches(
  model: AlsModel,
  kernels: Kernels,
  block: number,
  runs: number,
  compact = true,
): Promise<void> {
  const blocks = new BlockQueries(model, kernels, { block, compact });
  fc.assert(
    fc.property(batchArbitrary(model.items, model.users), (cases) => {
      const { similar, vector } = queriesOf(model, cases);
      assert.deepEqual(
        blocks.similar(similar),
        similar.map((q) => similarReference(model, q)),
      );
      assert.deepEqual(
        blocks.recommend(vector),
        vector.map((q) => vectorReference(model, q)),
      );
    }),
    { numRuns: runs, seed: 42 },
  );
}

describe('BlockQueries', () => {
  it('gives each similar query what rankSimilarToRow gives (no exclusions), number for number', async () => {
    const model = await sampleModel();
    const blocks = new BlockQueries(model, two);
    const queries: SimilarBlockQuery[] = [];
    for (let item = 0; item < 40; item++)
      queries.push({ item: item * 37, count: 1 + (item % 15), exclude: [], minListeners: 1 + (item % 5) });
    const answers = blocks.similar(queries);
    queries.forEach((q, n) => {
      const { similar, leftOut } = rankSimilarToRow(model, q.item, {
        count: q.count,
        minItemUsers: q.minListeners,
        kernels: single,
      });
      assert.deepEqual(answers[n], { similar, leftOut });
    });
    // the sample has candidates to leave out under the default minimum (a compacted set is used)
    assert.ok(answers.some((a) => a.leftOut > 0));
  });

  it('answers random mixed batches of the sample model as the single queries do (block 16 on 2 threads, block 3 on 1)', async () => {
    const model = await sampleModel();
    await checkBatches(model, two, 16, 25);
    // without the compacted candidates: every item scored, the minimum by exclusion
    await checkBatches(model, two, 16, 10, false);
    const one = await createWasmKernels(1);
    try {
      await checkBatches(model, one, 3, 25);
    } finally {
      one.dispose();
    }
  });

  it('breaks ties and zero norms as the single queries do', async () => {
    await checkBatches(tieModel(), two, 5, 200);
    await checkBatches(tieModel(), two, 5, 50, false);
  });

  it('lists nothing when every candidate is left out, with the range of none', () => {
    const model = tieModel();
    const blocks = new BlockQueries(model, two, { block: 4 });
    const [none] = blocks.similar([{ item: 3, count: 5, exclude: [], minListeners: 1000 }]);
    assert.deepEqual(none, { similar: [], leftOut: model.items - 1 });
    const all = Array.from({ length: model.items }, (_, i) => i);
    assert.deepEqual(blocks.recommend([{ x: model.userFactors, xOffset: 0, count: 3, exclude: all }]), [[]]);
  });

  it('refuses malformed queries with AlsError usage naming the field', () => {
    const model = tieModel();
    const blocks = new BlockQueries(model, two, { block: 4 });
    const usage = (field: string) => (error: unknown) =>
      (error as { code?: string }).code === 'usage' && (error as Error).message.includes(field);
    assert.throws(() => blocks.similar([{ item: model.items, count: 1, exclude: [], minListeners: 1 }]), usage('item'));
    assert.throws(() => blocks.similar([{ item: 0, count: 0, exclude: [], minListeners: 1 }]), usage('count'));
    assert.throws(() => blocks.similar([{ item: 0, count: 1, exclude: [1.5], minListeners: 1 }]), usage('exclude[0]'));
    assert.throws(() => blocks.similar([{ item: 0, count: 1, exclude: [], minListeners: 0 }]), usage('min'));
    assert.throws(
      () => blocks.recommend([{ x: new Float32Array(3), xOffset: 0, count: 1, exclude: [] }]),
      usage('xOffset'),
    );
    assert.throws(
      () => blocks.recommend([{ x: Float32Array.of(0, NaN, 0, 0), xOffset: 0, count: 1, exclude: [] }]),
      usage('x'),
    );
    assert.throws(() => blocks.recommend(null as never), usage('queries'));
  });
});

describe('BlockQueries on a model renumbered candidates first (prepareServing)', () => {
  const permuted = (model: AlsModel, kernels: Kernels): AlsModel => ({
    ...model,
    ...candidatesFirst(kernels, model.factors, model),
  });

  it('scores the candidates in place, a prefix of the item factors: nothing copied', async () => {
    const model = await sampleModel();
    const served = permuted(model, two);
    const count = Array.from(model.itemUserCounts).filter((l) => l >= DEFAULT_MIN_ITEM_USERS).length;
    const allocated = (m: AlsModel) => {
      let floats = 0;
      const counting = Object.create(two) as Kernels;
      counting.float32 = (length: number) => ((floats += length), two.float32(length));
      new BlockQueries(m, counting, { block: 4 });
      return floats;
    };
    assert.equal(allocated(model) - allocated(served), count * model.factors + count);
  });

  it('answers random mixed batches as the single queries on it do, ties and zero norms included', async () => {
    await checkBatches(permuted(await sampleModel(), two), two, 16, 25);
    await checkBatches(permuted(tieModel(), two), two, 5, 200);
  });

  it('gives the original model’s scores; only items of exactly equal scores may swap places', async () => {
    const model = tieModel();
    const served = permuted(model, two);
    const original = new BlockQueries(model, two, { block: 8 });
    const renumbered = new BlockQueries(served, two, { block: 8 });
    const rowOf = new Map(served.itemNames.map((name, r) => [name, r]));
    let swapped = 0;
    for (let item = 0; item < model.items; item++) {
      for (const minListeners of [1, 3, 5]) {
        const [a] = original.similar([{ item, count: 12, exclude: [], minListeners }]);
        const [b] = renumbered.similar([
          { item: rowOf.get(model.itemNames[item]) as number, count: 12, exclude: [], minListeners },
        ]);
        assert.equal(b.leftOut, a.leftOut);
        assert.deepEqual(
          b.similar.map((s) => [s.score, s.raw]),
          a.similar.map((s) => [s.score, s.raw]),
        );
        if (b.similar.some((s, n) => s.name !== a.similar[n].name)) swapped++;
      }
    }
    // the tie model's identical rows with 0–2 and 3–6 listeners: their order changes under a minimum of 1
    assert.ok(swapped > 0);
  });
});
