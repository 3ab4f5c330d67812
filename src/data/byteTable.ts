/** FNV-1a over bytes: start with HASH_SEED, then `hash = Math.imul(hash ^ byte, HASH_PRIME)`. */
export const HASH_SEED = 0x811c9dc5 | 0;
export const HASH_PRIME = 0x01000193;

/** The end of a byte hash (after HASH_PRIME steps): mixes the high bits into the low ones. */
export function finishHash(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return hash ^ (hash >>> 16);
}

/** The finished hash of bytes[start, end). */
export function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let hash = HASH_SEED;
  for (let p = start; p < end; p++) hash = Math.imul(hash ^ bytes[p], HASH_PRIME);
  return finishHash(hash);
}

/** Int32s per entry in `entries`: start in the arena, length, value, count. */
const STRIDE = 4;

/**
 * A set of byte strings, each numbered in the order it was added (its entry) and carrying an
 * integer value and a counter: open addressing with linear probing over typed arrays, the bytes
 * copied into one growing arena. Looking up bytes that are already there makes no object and
 * decodes nothing. What a lookup reads lies together (a slot holds the hash next to the entry,
 * an entry its place, length, value and counter), to touch few cache lines in a large table.
 */
export class ByteTable {
  private arena = new Uint8Array(1 << 16);
  private arenaUsed = 0;
  /** STRIDE Int32s per entry */
  private entries = new Int32Array(STRIDE << 10);
  /** two Int32s per slot: the hash, and entry + 1 (0 for a free slot) */
  private slots = new Int32Array(2 << 11);
  private mask = (1 << 11) - 1;
  size = 0;

  /** The entry holding bytes[start, end) (whose finished hash is `hash`), or -1. */
  find(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const slots = this.slots;
    const mask = this.mask;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[2 * slot + 1] - 1;
      if (entry < 0) return -1;
      if (slots[2 * slot] === hash && this.equals(entry, bytes, start, end - start)) return entry;
    }
  }

  /** Whether entry `entry` holds the `length` bytes at bytes[start]. */
  equals(entry: number, bytes: Uint8Array, start: number, length: number): boolean {
    const entries = this.entries;
    if (entries[STRIDE * entry + 1] !== length) return false;
    const arena = this.arena;
    const from = entries[STRIDE * entry] - start;
    for (let p = start, end = start + length; p < end; p++) if (arena[from + p] !== bytes[p]) return false;
    return true;
  }

  value(entry: number): number {
    return this.entries[STRIDE * entry + 2];
  }

  count(entry: number): number {
    return this.entries[STRIDE * entry + 3];
  }

  /** Adds one to the entry's counter. */
  tally(entry: number): void {
    this.entries[STRIDE * entry + 3]++;
  }

  /** Adds bytes[start, end), which must not be in the table yet; returns its entry. */
  add(bytes: Uint8Array, start: number, end: number, hash: number, value: number): number {
    const length = end - start;
    if (this.arenaUsed + length > this.arena.length) {
      const arena = new Uint8Array(Math.max(this.arena.length * 2, this.arenaUsed + length));
      arena.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = arena;
    }
    this.arena.set(bytes.subarray(start, end), this.arenaUsed);
    const entry = this.size++;
    if (STRIDE * this.size > this.entries.length) {
      const entries = new Int32Array(this.entries.length * 2);
      entries.set(this.entries);
      this.entries = entries;
    }
    this.entries[STRIDE * entry] = this.arenaUsed;
    this.entries[STRIDE * entry + 1] = length;
    this.entries[STRIDE * entry + 2] = value;
    this.arenaUsed += length;
    if (this.size * 2 > this.mask + 1) this.growSlots();
    this.place(hash, entry);
    return entry;
  }

  private place(hash: number, entry: number): void {
    const mask = this.mask;
    let slot = hash & mask;
    while (this.slots[2 * slot + 1] !== 0) slot = (slot + 1) & mask;
    this.slots[2 * slot] = hash;
    this.slots[2 * slot + 1] = entry + 1;
  }

  private growSlots(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2);
    this.mask = old.length - 1;
    for (let slot = 0; slot < old.length; slot += 2) if (old[slot + 1] !== 0) this.place(old[slot], old[slot + 1] - 1);
  }
}
