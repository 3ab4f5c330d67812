import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/als/random.js';
import { CompactingCooList, CooList } from '../../src/data/coo.js';

/**
 * Issue 9 class 6 (the attacker trial): a gzip bomb of a few pairs repeated in turn (u1 a, u2 a,
 * u1 a, …) defeated the merge of consecutive duplicates and took 23 bytes a row. A compacting
 * list sums its duplicates when it holds enough triples, so that its memory follows the distinct
 * pairs, and gives the matrix, the duplicate count and the length of a plain list.
 */
describe('the triple list keeps memory near the distinct pairs (issue 9 class 6)', () => {
  it('gives the same matrix, duplicates and length as a plain list, with few triples held', () => {
    for (const [pairs, rows, seed] of [
      [3, 200_000, 1],
      [500, 50_000, 2],
      [40_000, 60_000, 3],
    ] as const) {
      const random = seededRandom(seed);
      const plain = new CooList();
      const compacting = new CompactingCooList(1000);
      let mostHeld = 0;
      for (let n = 0; n < rows; n++) {
        const pair = Math.floor(random() * pairs);
        const [row, col, value] = [pair % 97, Math.floor(pair / 97), 1 + Math.floor(random() * 5)];
        plain.push(row, col, value);
        compacting.push(row, col, value);
        mostHeld = Math.max(mostHeld, (compacting as unknown as { list: CooList }).list.stored);
      }
      assert.equal(compacting.length, plain.length);
      const a = plain.toCsr(97, Math.ceil(pairs / 97));
      const b = compacting.toCsr(97, Math.ceil(pairs / 97));
      assert.equal(b.duplicates, a.duplicates);
      assert.deepEqual(b.matrix, a.matrix, `${pairs} pairs`);
      // at most twice the distinct pairs, or the first threshold
      assert.ok(
        mostHeld <= Math.max(1000, 2 * a.matrix.indices.length) + 1,
        `${mostHeld} triples held for ${a.matrix.indices.length} pairs`,
      );
    }
  });
});
