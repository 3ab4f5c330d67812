/** A DataView of the bytes, to read them four at a time. */
export function viewOf(bytes: ArrayBufferView): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A hash of bytes[start, end) (seen through `view`), after MurmurHash3: four bytes a step. */
export function hashBytes(view: DataView, start: number, end: number): number {
  let hash = end - start;
  let p = start;
  for (; p + 4 <= end; p += 4) {
    let k = Math.imul(view.getInt32(p, true), 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    hash ^= k;
    hash = (hash << 13) | (hash >>> 19);
    hash = (Math.imul(hash, 5) + 0xe6546b64) | 0;
  }
  for (; p < end; p++) hash = Math.imul(hash ^ view.getUint8(p), 0x01000193);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return hash ^ (hash >>> 16);
}

/** Whether the `length` bytes at a[aStart] and b[bStart] are the same, compared four at a time. */
function sameBytes(a: DataView, aStart: number, b: DataView, bStart: number, length: number): boolean {
  let n = 0;
  for (; n + 4 <= length; n += 4) if (a.getInt32(aStart + n, true) !== b.getInt32(bStart + n, true)) return false;
  for (; n < length; n++) if (a.getUint8(aStart + n) !== b.getUint8(bStart + n)) return false;
  return true;
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
  private arenaView = viewOf(this.arena);
  private arenaUsed = 0;
  /** where each entry's bytes start in the arena */
  private starts = new Int32Array(1 << 10);
  private readonly stride: number;
  private readonly inlineBytes: number;
  private slots: Int32Array;
  private slotView: DataView;
  private mask = (1 << 11) - 1;
  size = 0;

  /** `inlineWords`: Int32s of each slot that hold the start of the string (e.g. 11 for 64-byte slots). */
  constructor(inlineWords = 0) {
    this.stride = HEADER + inlineWords;
    this.inlineBytes = 4 * inlineWords;
    this.slots = new Int32Array(this.stride * (this.mask + 1));
    this.slotView = viewOf(this.slots);
  }

  /** The slot holding the bytes [start, end) of `bytes` (whose hash is `hash`), or -1. */
  find(bytes: DataView, start: number, end: number, hash: number): number {
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
      if (
        sameBytes(this.slotView, 4 * (at + HEADER), bytes, start, inline) &&
        (inline === length || sameBytes(this.arenaView, this.starts[entry] + inline, bytes, start + inline, length - inline))
      ) {
        return slot;
      }
    }
  }

  /** Whether entry `entry` holds the `length` bytes at `start` in `bytes`. */
  equals(entry: number, bytes: DataView, start: number, length: number): boolean {
    return this.starts[entry + 1] - this.starts[entry] === length && sameBytes(this.arenaView, this.starts[entry], bytes, start, length);
  }

  entryAt(slot: number): number {
    return this.slots[this.stride * slot + ENTRY] - 1;
  }

  valueAt(slot: number): number {
    return this.slots[this.stride * slot + VALUE];
  }

  /** Adds one to the counter of the entry in `slot` (it stops at 2^31 − 1 instead of wrapping). */
  tally(slot: number): void {
    const at = this.stride * slot + COUNT;
    if (this.slots[at] !== 0x7fffffff) this.slots[at]++;
  }

  /** Adds `times` to the counter of the entry in `slot`, stopping at 2^31 − 1 as tally does. */
  addToCount(slot: number, times: number): void {
    const at = this.stride * slot + COUNT;
    this.slots[at] = Math.min(this.slots[at] + times, 0x7fffffff);
  }

  /** The bytes of every entry, one after the other, and where each starts (size + 1 offsets). */
  entryBytes(): { bytes: Uint8Array; starts: Int32Array } {
    return { bytes: this.arena.slice(0, this.arenaUsed), starts: this.starts.slice(0, this.size + 1) };
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

  /** Adds the bytes [start, end) of `view`, which must not be in the table yet; returns its slot. */
  add(view: DataView, start: number, end: number, hash: number, value: number): number {
    const length = end - start;
    const bytes = new Uint8Array(view.buffer, view.byteOffset + start, length);
    if (this.arenaUsed + length > this.arena.length) {
      const arena = new Uint8Array(Math.max(this.arena.length * 2, this.arenaUsed + length));
      arena.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = arena;
      this.arenaView = viewOf(arena);
    }
    this.arena.set(bytes, this.arenaUsed);
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
    new Uint8Array(this.slots.buffer).set(bytes.subarray(0, Math.min(length, this.inlineBytes)), 4 * (at + HEADER));
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
    this.slotView = viewOf(this.slots);
    for (let at = 0; at < old.length; at += stride) {
      if (old[at + ENTRY] === 0) continue;
      this.slots.set(old.subarray(at, at + stride), stride * this.freeSlot(old[at + HASH]));
    }
  }
}
