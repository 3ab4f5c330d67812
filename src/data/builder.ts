import { IdMap, SpellingTally } from './idMap.js';
import { cooToCsr, type CsrMatrix } from './sparse.js';

/**
 * Collects (user, item, count) rows as they stream in: ids interned into dense indices and
 * the triples appended to typed arrays that double when full, so no object is made per row.
 */
export class InteractionsBuilder {
  readonly users = new IdMap();
  readonly items = new IdMap();
  private readonly spellings = new SpellingTally();
  private rowIndex = new Int32Array(1 << 16);
  private colIndex = new Int32Array(1 << 16);
  private values = new Float32Array(1 << 16);
  private length = 0;

  /** `itemKey` identifies the item (e.g. a lower-cased name); `itemName` is how this row spells it. */
  add(user: string, itemKey: string, itemName: string, count: number): void {
    if (this.length === this.values.length) this.grow();
    const item = this.items.intern(itemKey);
    this.spellings.add(item, itemName);
    this.rowIndex[this.length] = this.users.intern(user);
    this.colIndex[this.length] = item;
    this.values[this.length] = count;
    this.length++;
  }

  get rows(): number {
    return this.length;
  }

  private grow(): void {
    const size = this.values.length * 2;
    const rowIndex = new Int32Array(size);
    rowIndex.set(this.rowIndex);
    const colIndex = new Int32Array(size);
    colIndex.set(this.colIndex);
    const values = new Float32Array(size);
    values.set(this.values);
    this.rowIndex = rowIndex;
    this.colIndex = colIndex;
    this.values = values;
  }

  /** The users × items matrix (duplicates summed), the ids in index order. */
  build(): { userItems: CsrMatrix; userIds: string[]; itemNames: string[]; duplicates: number } {
    const { matrix, duplicates } = cooToCsr(
      this.users.size,
      this.items.size,
      this.rowIndex,
      this.colIndex,
      this.values,
      this.length,
    );
    return { userItems: matrix, userIds: this.users.keys, itemNames: this.spellings.names(), duplicates };
  }
}
