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

// the Int32s at the start of a slot
const HASH = 0;
const ENTRY = 1; // entry + 1, 0 for a free slot
const VALUE = 2;
const LENGTH = 3;
const COUNT = 4;
const HEADER = 5;

/**
 * A set of byte strings, each numbered in the order it was added (its entry) and carrying an
 * integer value and a counter: open addressing with linear probing over typed arrays, all bytes
 * copied into one growing arena. Looking up bytes that are already there makes no object and
 * decodes nothing.
 *
 * In a table too large for the cache, a lookup costs the cache misses it waits for, one after
 * the other: a slot therefore holds all that a lookup reads (hash, entry, value, length,
 * counter) and, with `inlineBytes`, the first bytes of the string, so that a lookup of a string
 * that short touches one slot and nothing else.
 */
export class ByteTable {
  private arena = new Uint8Array(1 << 16);
  private arenaUsed = 0;
  /** where each entry's bytes start in the arena */
  private starts = new Int32Array(1 << 10);
  private readonly stride: number;
  private readonly inlineBytes: number;
  private slots: Int32Array;
  private slotBytes: Uint8Array;
  private mask = (1 << 11) - 1;
  size = 0;

  /** `inlineWords`: Int32s of each slot that hold the start of the string (e.g. 11 for 64-byte slots). */
  constructor(inlineWords = 0) {
    this.stride = HEADER + inlineWords;
    this.inlineBytes = 4 * inlineWords;
    this.slots = new Int32Array(this.stride * (this.mask + 1));
    this.slotBytes = new Uint8Array(this.slots.buffer);
  }

  /** The slot holding bytes[start, end) (whose finished hash is `hash`), or -1. */
  find(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const slots = this.slots;
    const stride = this.stride;
    const mask = this.mask;
    const length = end - start;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const at = stride * slot;
      const entry = slots[at + ENTRY] - 1;
      if (entry < 0) return -1;
      if (slots[at + HASH] !== hash || slots[at + LENGTH] !== length) continue;
      const inline = this.inlineBytes < length ? this.inlineBytes : length;
      const slotBytes = this.slotBytes;
      const from = 4 * (at + HEADER) - start;
      let same = true;
      for (let p = start, stop = start + inline; p < stop; p++) {
        if (slotBytes[from + p] !== bytes[p]) {
          same = false;
          break;
        }
      }
      if (same && (inline === length || this.sameRest(entry, bytes, start + inline, end, inline))) return slot;
    }
  }

  /** Whether bytes[start, end) are the entry's bytes from `offset` on. */
  private sameRest(entry: number, bytes: Uint8Array, start: number, end: number, offset: number): boolean {
    const arena = this.arena;
    const from = this.starts[entry] + offset - start;
    for (let p = start; p < end; p++) if (arena[from + p] !== bytes[p]) return false;
    return true;
  }

  /** Whether entry `entry` holds the `length` bytes at bytes[start] (`length` must be its length). */
  equals(entry: number, bytes: Uint8Array, start: number, length: number): boolean {
    if (this.starts[entry + 1] - this.starts[entry] !== length) return false;
    return this.sameRest(entry, bytes, start, start + length, 0);
  }

  entryAt(slot: number): number {
    return this.slots[this.stride * slot + ENTRY] - 1;
  }

  valueAt(slot: number): number {
    return this.slots[this.stride * slot + VALUE];
  }

  /** Adds one to the counter of the entry in `slot`. */
  tally(slot: number): void {
    this.slots[this.stride * slot + COUNT]++;
  }

  /** The value of every entry, in entry order. */
  values(): Int32Array {
    return this.byEntry(VALUE);
  }

  /** The counter of every entry, in entry order. */
  counts(): Int32Array {
    return this.byEntry(COUNT);
  }

  private byEntry(field: number): Int32Array {
    const out = new Int32Array(this.size);
    for (let at = 0; at < this.slots.length; at += this.stride) {
      const entry = this.slots[at + ENTRY] - 1;
      if (entry >= 0) out[entry] = this.slots[at + field];
    }
    return out;
  }

  /** Adds bytes[start, end), which must not be in the table yet; returns its slot. */
  add(bytes: Uint8Array, start: number, end: number, hash: number, value: number): number {
    const length = end - start;
    if (this.arenaUsed + length > this.arena.length) {
      const arena = new Uint8Array(Math.max(this.arena.length * 2, this.arenaUsed + length));
      arena.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = arena;
    }
    this.arena.set(bytes.subarray(start, end), this.arenaUsed);
    const entry = this.size++;
    if (this.size + 1 > this.starts.length) {
      const starts = new Int32Array(this.starts.length * 2);
      starts.set(this.starts);
      this.starts = starts;
    }
    this.starts[entry] = this.arenaUsed;
    this.arenaUsed += length;
    this.starts[entry + 1] = this.arenaUsed;
    if (4 * this.size > 3 * (this.mask + 1)) this.growSlots();

    const slot = this.freeSlot(hash);
    const at = this.stride * slot;
    this.slots[at + HASH] = hash;
    this.slots[at + ENTRY] = entry + 1;
    this.slots[at + VALUE] = value;
    this.slots[at + LENGTH] = length;
    this.slotBytes.set(bytes.subarray(start, start + Math.min(length, this.inlineBytes)), 4 * (at + HEADER));
    return slot;
  }

  private freeSlot(hash: number): number {
    const mask = this.mask;
    let slot = hash & mask;
    while (this.slots[this.stride * slot + ENTRY] !== 0) slot = (slot + 1) & mask;
    return slot;
  }

  private growSlots(): void {
    const old = this.slots;
    const stride = this.stride;
    this.mask = 2 * (this.mask + 1) - 1;
    this.slots = new Int32Array(stride * (this.mask + 1));
    this.slotBytes = new Uint8Array(this.slots.buffer);
    for (let at = 0; at < old.length; at += stride) {
      if (old[at + ENTRY] === 0) continue;
      this.slots.set(old.subarray(at, at + stride), stride * this.freeSlot(old[at + HASH]));
    }
  }
}
