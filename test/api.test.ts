import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
// by package name, as a user of the library imports it
import { loadModel, readInteractions, recommendItems, saveModel, similarItems, train } from 'als';
import { tempDir } from './helpers.js';

it('the library API trains, saves, loads and queries', async () => {
  const dir = tempDir();
  const input = join(dir, 'plays.tsv');
  const rows: string[] = [];
  // two taste groups: users 0–9 play a*, users 10–19 play b*
  for (let u = 0; u < 20; u++) for (let i = 0; i < 5; i++) if ((u + i) % 5 !== 0) rows.push(`u${u}\t${u < 10 ? 'a' : 'b'}${i}\t${1 + ((u * i) % 7)}`);
  writeFileSync(input, rows.join('\n'));
  const data = await readInteractions(input, { format: 'triples' });
  const model = await train(data, { factors: 4, iterations: 10, threads: 1 });
  await saveModel(model, join(dir, 'model'));
  const loaded = loadModel(join(dir, 'model'));
  const { similar } = similarItems(loaded, 'a1', { count: 3 });
  assert.deepEqual(similar.map((s) => s.name[0]), ['a', 'a', 'a']);
  const { recommendations } = recommendItems(loaded, 'u1', { count: 1 });
  assert.equal(recommendations[0].name, 'a4', 'the one a* item u1 has not played');
});
