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

/**
 * A set of byte strings, each numbered in the order it was added (its entry) and carrying one
 * integer (its value): open addressing with linear probing over typed arrays, the bytes copied
 * into one growing arena. Looking up bytes that are already there makes no object and decodes
 * nothing.
 */
export class ByteTable {
  private arena = new Uint8Array(1 << 16);
  private arenaUsed = 0;
  private starts = new Int32Array(1 << 10);
  private lengths = new Int32Array(1 << 10);
  private hashes = new Int32Array(1 << 10);
  /** the value of each entry */
  values = new Int32Array(1 << 10);
  /** entry + 1 in each slot, 0 for a free slot */
  private slots = new Int32Array(1 << 11);
  private mask = (1 << 11) - 1;
  size = 0;

  /** The entry holding bytes[start, end) (whose finished hash is `hash`), or -1. */
  find(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const length = end - start;
    const slots = this.slots;
    const mask = this.mask;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot] - 1;
      if (entry < 0) return -1;
      if (this.hashes[entry] === hash && this.lengths[entry] === length && this.equals(entry, bytes, start, length)) {
        return entry;
      }
    }
  }

  /** Whether entry `entry` holds the `length` bytes at bytes[start]. */
  equals(entry: number, bytes: Uint8Array, start: number, length: number): boolean {
    if (this.lengths[entry] !== length) return false;
    const arena = this.arena;
    const from = this.starts[entry];
    for (let n = 0; n < length; n++) if (arena[from + n] !== bytes[start + n]) return false;
    return true;
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
    if (entry === this.values.length) this.growEntries();
    this.starts[entry] = this.arenaUsed;
    this.lengths[entry] = length;
    this.hashes[entry] = hash;
    this.values[entry] = value;
    this.arenaUsed += length;
    if (this.size * 2 > this.slots.length) this.growSlots();
    else this.place(entry);
    return entry;
  }

  private place(entry: number): void {
    const mask = this.mask;
    let slot = this.hashes[entry] & mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
    this.slots[slot] = entry + 1;
  }

  private growEntries(): void {
    const size = this.values.length * 2;
    const grow = (from: Int32Array) => {
      const to = new Int32Array(size);
      to.set(from);
      return to;
    };
    this.starts = grow(this.starts);
    this.lengths = grow(this.lengths);
    this.hashes = grow(this.hashes);
    this.values = grow(this.values);
  }

  private growSlots(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    this.mask = this.slots.length - 1;
    for (let entry = 0; entry < this.size; entry++) this.place(entry);
  }
}
