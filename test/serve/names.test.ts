import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SuggestionBudget } from '../../src/serve/names.js';

describe('SuggestionBudget', () => {
  it('gives suggestions the time it holds, refilled at its rate up to the burst, and the fallback once spent (a stream of 404s cannot hold the event loop)', () => {
    let clock = 0;
    const budget = new SuggestionBudget(100, 10, () => clock);
    // a search that takes 6 ms of the clock
    const search = () => {
      clock += 6;
      return ['found'];
    };
    assert.deepEqual(budget.spend(search, []), ['found']); // 10 → 4
    assert.deepEqual(budget.spend(search, []), ['found']); // 4 → -2: a search is never cut short
    assert.equal(clock, 12);
    assert.deepEqual(budget.spend(search, []), []); // none left: not searched
    assert.equal(clock, 12);
    clock += 30; // 3 ms back (100 ms per second): -2 → 1
    assert.deepEqual(budget.spend(search, []), ['found']);
    clock += 10_000; // at most the burst
    assert.deepEqual(budget.spend(search, []), ['found']); // 10 → 4
    assert.deepEqual(budget.spend(search, []), ['found']); // 4 → -2
    assert.deepEqual(budget.spend(search, []), []);
  });
});
