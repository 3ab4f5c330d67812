import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
// by package name, as a user of the library imports it
import {
  evaluate,
  explainUser,
  loadModel,
  parseItemList,
  readInteractions,
  recommendForList,
  recommendItems,
  saveModel,
  similarItems,
  train,
  tune,
  updateModel,
  type AlsModel,
} from 'als';
import { tempDir } from '../helpers.js';

it('the library API trains, saves, loads and queries', async () => {
  const dir = tempDir();
  const input = join(dir, 'plays.tsv');
  const rows: string[] = [];
  // two taste groups: users 0–9 play a*, users 10–19 play b*
  for (let u = 0; u < 20; u++)
    for (let i = 0; i < 5; i++)
      if ((u + i) % 5 !== 0) rows.push(`u${u}\t${u < 10 ? 'a' : 'b'}${i}\t${1 + ((u * i) % 7)}`);
  writeFileSync(input, rows.join('\n'));
  const data = await readInteractions(input, { format: 'triples' });
  const model = await train(data, { factors: 4, iterations: 10, threads: 1 });
  await saveModel(model, join(dir, 'model'));
  const loaded = loadModel(join(dir, 'model'));
  const { similar } = similarItems(loaded, 'a1', { count: 3 });
  assert.deepEqual(
    similar.map((s) => s.name[0]),
    ['a', 'a', 'a'],
  );
  const { recommendations } = recommendItems(loaded, 'u1', { count: 1 });
  assert.equal(recommendations[0].name, 'a4', 'the one a* item u1 has not played');
});

it('the library API folds in new listeners, explains, updates, evaluates and tunes', async () => {
  const dir = tempDir();
  const input = join(dir, 'plays.tsv');
  const rows: string[] = [];
  for (let u = 0; u < 40; u++)
    for (let i = 0; i < 10; i++)
      if ((u + i) % 10 !== 0) rows.push(`u${u}\t${u % 2 === 0 ? 'a' : 'b'}${i}\t${1 + ((u * i) % 7)}`);
  writeFileSync(input, rows.join('\n'));
  const data = await readInteractions(input, { format: 'triples' });
  const model: AlsModel = await train(data, { factors: 4, iterations: 10, threads: 1 });

  const listener = recommendForList(model, parseItemList('a1,a2=5,nobody'), { count: 2 });
  assert.deepEqual(
    listener.unknown.map((u) => u.name),
    ['nobody'],
  );
  assert.deepEqual(
    listener.recommendations.map((r) => r.name[0]),
    ['a', 'a'],
  );

  const { recommendations } = explainUser(model, 'u1', { count: 1 });
  const { score, contributions, others } = recommendations[0].explanation;
  assert.ok(Math.abs(contributions.reduce((sum, c) => sum + c.value, others.value) - score) < 1e-9);

  writeFileSync(join(dir, 'new.tsv'), 'newcomer\tb1\t3\nnewcomer\tb2\t4\n');
  const update = updateModel(model, await readInteractions(join(dir, 'new.tsv'), { format: 'triples' }));
  assert.deepEqual(update.addedUsers, ['newcomer']);
  assert.equal(update.model.users, model.users + 1);
  assert.equal(recommendItems(update.model, 'newcomer', { count: 1 }).recommendations[0].name[0], 'b');

  const evaluation = await evaluate(data, { k: 2, trainOptions: { factors: 4, iterations: 5, threads: 1 } });
  assert.ok(evaluation.model.precision > evaluation.popularity.precision);
  const tuned = await tune(data.userItems, { trials: 2, k: 2, fixed: { iterations: 3, threads: 1 } });
  assert.equal(tuned.trials.length, 2);
});
