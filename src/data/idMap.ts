/** A dense index for string keys: the first key seen gets 0, the next new one 1, and so on. */
export class IdMap {
  private readonly index = new Map<string, number>();
  /** keys in index order */
  readonly keys: string[] = [];

  get size(): number {
    return this.keys.length;
  }

  /** The index of `key`, adding it if it is new. */
  intern(key: string): number {
    let id = this.index.get(key);
    if (id === undefined) {
      id = this.keys.length;
      this.index.set(key, id);
      this.keys.push(key);
    }
    return id;
  }

  get(key: string): number | undefined {
    return this.index.get(key);
  }
}

/**
 * Remembers how each item was spelled, so that an item keyed case-insensitively can be shown
 * with its most frequent spelling (ties go to the spelling seen first). Rows with the first
 * spelling only bump a counter; a map is made only for items that really have variants.
 */
export class SpellingTally {
  private readonly first: string[] = [];
  private readonly firstCount: number[] = [];
  private readonly variants = new Map<number, Map<string, number>>();

  add(id: number, spelling: string): void {
    if (id === this.first.length) {
      this.first.push(spelling);
      this.firstCount.push(1);
    } else if (this.first[id] === spelling) {
      this.firstCount[id]++;
    } else {
      let counts = this.variants.get(id);
      if (counts === undefined) this.variants.set(id, (counts = new Map()));
      counts.set(spelling, (counts.get(spelling) ?? 0) + 1);
    }
  }

  /** The display name of every item, in index order. */
  names(): string[] {
    const names = this.first.slice();
    for (const [id, counts] of this.variants) {
      let best = this.firstCount[id];
      for (const [spelling, count] of counts) {
        if (count > best) {
          best = count;
          names[id] = spelling;
        }
      }
    }
    return names;
  }
}
