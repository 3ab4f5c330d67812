import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { train } from '../../src/als/train.js';
import { closeModel, loadModel } from '../../src/model/load.js';
import type { AlsModel } from '../../src/model/model.js';
import { indexModelDirectory } from '../../src/model/indexDirectory.js';
import { saveModel } from '../../src/model/save.js';
import { buildItemIndex, carryItemIndex, indexFits, openItemIndex, unitRows } from '../../src/query/itemIndex.js';
import { candidateRows } from '../../src/query/candidates.js';
import { searchHnsw } from '../../src/query/hnsw.js';
import { writeAllSimilar } from '../../src/query/similarAll.js';
import { isAlsError, plantedGroups, tempDir } from '../helpers.js';

// issue 13: the item index, its binding to the model and its use by writeAllSimilar
const work = tempDir('als-item-index-');
// plantedGroups' summary names no file: a model of it describes no input
const trained: AlsModel = {
  ...(await train(plantedGroups(300, 4), { factors: 8, iterations: 3, threads: 1 })),
  input: null,
};

describe('the item index of a model', () => {
  it('covers the items of the default candidate set, bound to the item factors; the same bytes every time', () => {
    const { data, entry } = buildItemIndex(trained, { efConstruction: 40 });
    const candidates = candidateRows(trained.itemUserCounts, 3);
    assert.equal(entry.rows, candidates.count);
    assert.equal(entry.minItemUsers, 3);
    assert.deepEqual(buildItemIndex(trained, { efConstruction: 40 }).data, data);
    assert.ok(indexFits(entry, trained));
    const other = { ...trained, itemFactors: trained.itemFactors.map((v) => v * 2) } as AlsModel;
    assert.ok(!indexFits(entry, other), 'other factors');
    assert.throws(() => buildItemIndex(trained, { minItemUsers: 0 }), isAlsError('usage', /minItemUsers/));
  });

  it('unit rows have norm 1 (a zero row stays zero)', () => {
    const rows = candidateRows(new Int32Array([5, 5, 5]), 1);
    const units = unitRows(Float32Array.from([3, 4, 0, 0, 1, 1]), 2, rows);
    assert.deepEqual(Array.from(units.subarray(0, 4)), [0.6000000238418579, 0.800000011920929, 0, 0]);
    assert.ok(Math.abs(Math.hypot(units[4], units[5]) - 1) < 1e-6);
  });

  it('is saved, found fresh, searched by writeAllSimilar, and refused by saveModel for other factors', async () => {
    const dir = join(work, 'model');
    await saveModel(trained, dir);
    assert.equal(openItemIndex(loadModel(dir)).kind, 'none');
    const done = await indexModelDirectory(dir, { efConstruction: 40 });
    assert.equal(done.saved?.itemIndex, 'saved');
    const model = loadModel(dir);
    const state = openItemIndex(model);
    assert.equal(state.kind, 'fresh');
    if (state.kind !== 'fresh') return;
    // a query finds its own row first
    const f = model.factors;
    const { ids } = searchHnsw(state.search.index, state.search.vectors, state.search.vectors.slice(0, f), 1);
    assert.equal(ids[0], 0);
    const approx = join(work, 'approx.tsv');
    const summary = await writeAllSimilar(model, approx, { itemIndex: state.search, count: 5 });
    assert.equal(summary.search, 'approximate');
    const exact = join(work, 'exact.tsv');
    assert.equal((await writeAllSimilar(model, exact, { count: 5 })).search, 'exact');
    const lines = (p: string) => readFileSync(p, 'utf8').split('\n');
    assert.equal(lines(approx).length, lines(exact).length);
    await assert.rejects(
      writeAllSimilar(model, approx, { itemIndex: state.search, minItemUsers: 1 }),
      isAlsError('usage', /itemIndex covers the items with at least 3 users, not minItemUsers 1/),
    );
    const built = buildItemIndex(model, { efConstruction: 40 });
    const other = { ...trained, itemFactors: trained.itemFactors.map((v) => v * 2) } as AlsModel;
    await assert.rejects(
      saveModel(other, dir, {}, { itemIndex: built }),
      isAlsError('usage', /built from other item factors/),
    );
    // an update-like successor with the same factors and items keeps it; one with other factors does not
    assert.notEqual(carryItemIndex(model, model), null);
    assert.equal(carryItemIndex(model, other), null);
    closeModel(model);
    // a save without it drops it, and says so
    assert.equal((await saveModel(other, dir)).itemIndex, 'dropped');
    assert.equal(openItemIndex(loadModel(dir)).kind, 'none');
  });

  it('a model.json that describes the index wrongly is a corrupt model', async () => {
    const dir = join(work, 'bad-entry');
    await saveModel(trained, dir);
    await indexModelDirectory(dir, { efConstruction: 40 });
    const path = join(dir, '.als', 'current', 'model.json');
    const manifest = JSON.parse(readFileSync(path, 'utf8'));
    manifest.itemIndex.rows += 1;
    writeFileSync(path, JSON.stringify(manifest));
    assert.throws(() => loadModel(dir), isAlsError('model', /describes the item index item_index\.hnsw wrongly/));
  });
});
