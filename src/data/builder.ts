import { IdMap, SpellingTally } from './idMap.js';
import { CompactingCooList } from './coo.js';
import type { CsrMatrix } from './sparse.js';

/**
 * Collects (user, item, count) rows as they stream in: ids interned into dense indices and
 * the triples appended to a list of typed-array chunks, so no object is made per row.
 */
export class InteractionsBuilder {
  readonly users = new IdMap();
  readonly items = new IdMap();
  private readonly spellings = new SpellingTally();
  private readonly triples = new CompactingCooList();

  /** `itemKey` identifies the item (e.g. a lower-cased name); `itemName` is how this row spells it. */
  add(user: string, itemKey: string, itemName: string, count: number): void {
    const item = this.items.intern(itemKey);
    this.spellings.add(item, itemName);
    this.triples.push(this.users.intern(user), item, count);
  }

  get rows(): number {
    return this.triples.length;
  }

  /** The users × items matrix (duplicates summed), the ids in index order. Call once. */
  build(): BuiltInteractions {
    const { matrix, duplicates } = this.triples.toCsr(this.users.size, this.items.size);
    return { userItems: matrix, userIds: this.users.keys, itemNames: this.spellings.names(), duplicates };
  }
}

/** What a builder gives at the end of a read. */
export interface BuiltInteractions {
  userItems: CsrMatrix;
  userIds: string[];
  itemNames: string[];
  duplicates: number;
}
