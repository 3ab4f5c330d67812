import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { findItem, findUser, indexNames } from '../../src/query/lookup.js';

/** The lookups before the index: the first row holding the name, exactly, then case-insensitively. */
function scanItem(names: string[], name: string): number {
  const exact = names.indexOf(name);
  return exact !== -1 ? exact : names.map((n) => n.toLowerCase()).indexOf(name.toLowerCase());
}

/** findItem and findUser answer `query` in `names` as the scans do (not found where they find nothing). */
function looksUpAsScan(names: string[], query: string): void {
  const expected = scanItem(names, query);
  if (expected === -1) assert.throws(() => findItem(names, query, { suggest: false }), { code: 'not-found' });
  else assert.equal(findItem(names, query), expected);
  const exact = names.indexOf(query);
  if (exact === -1) assert.throws(() => findUser(names, query, { suggest: false }), { code: 'not-found' });
  else assert.equal(findUser(names, query), exact);
}

describe('name lookups by index', () => {
  it('find the first row holding a name, as a scan does, over random lists with repeats and case variants', () => {
    const name = fc.constantFrom('a', 'A', 'b', 'B', 'ab', 'Ab', 'aB', 'b a', 'é', 'É', 'z', 'zz');
    fc.assert(
      fc.property(fc.array(name, { minLength: 1, maxLength: 30 }), name, (names, query) => {
        looksUpAsScan(names, query);
      }),
      { numRuns: 500, seed: 7 },
    );
  });

  it('answers alike before and after a list is looked up often enough to be sorted (the 17th lookup)', () => {
    const name = fc.constantFrom('a', 'A', 'b', 'B', 'ab', 'Ab', 'aB', 'b a', 'é', 'É', 'z', 'zz');
    fc.assert(
      fc.property(
        fc.array(name, { minLength: 1, maxLength: 30 }),
        fc.array(name, { minLength: 40, maxLength: 60 }),
        (names, queries) => {
          for (const query of queries) {
            looksUpAsScan(names, query);
          }
        },
      ),
      { numRuns: 200, seed: 11 },
    );
  });

  it('builds the indexes ahead with indexNames; a list holding a non-string is still looked up by scan', () => {
    const names = ['Radiohead', 'radiohead', 'Muse', 'radiohead'];
    indexNames(names, true);
    assert.equal(findItem(names, 'radiohead'), 1);
    assert.equal(findItem(names, 'RADIOHEAD'), 0);
    assert.equal(findUser(names, 'Muse'), 2);
    const odd = ['x', 5, 'y'] as unknown as string[];
    assert.equal(findUser(odd, 'y'), 2);
    assert.throws(() => indexNames(null as never), { code: 'usage' });
  });
});
