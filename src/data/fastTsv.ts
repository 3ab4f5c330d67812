import type { BuiltInteractions } from './builder.js';
import { ByteTable, hashBytes, viewOf } from './byteTable.js';
import { CompactingCooList, replayTriples, type LoggedTriples, type TripleLog } from './coo.js';
import { IdMap } from './idMap.js';
import { MAX_LINE_BYTES } from './lines.js';
import type { InputSource } from './source.js';
import {
  canonicalName,
  fieldCountReason,
  isZeroCount,
  LASTFM_LAYOUT,
  OVERLONG_REASON,
  parseCount,
  rowProblem,
  TRIPLES_LAYOUT,
  type RowLayout,
} from './rows.js';

const TAB = 0x09;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const ZERO = 0x30;
/** counts of at most this many digits are exact doubles, read straight from the bytes */
const MAX_PLAIN_DIGITS = 15;
const REPLACEMENT_CHARACTER = '\uFFFD';

/**
 * The tab-separated formats (lastfm, triples) read from the stream's bytes: lines and fields are
 * found by scanning for tab and newline bytes; the mbid is never decoded; a count of plain
 * digits is read from its bytes; users and item spellings are looked up by their bytes in hash
 * tables, so a row whose user and item were seen before decodes nothing and makes no object.
 * Anything unusual (a count like " 2.5", a malformed row) is judged from the decoded field by the
 * same code as the string reader, so that both accept, reject and word their reasons alike.
 *
 * Lines are split on "\n" only; one "\r" before it is dropped; quotes and any other "\r" are data.
 * A user id or item name is made canonical (canonicalName: NFC, trimmed) once, when its bytes
 * are first seen: byte strings that differ but give one name (NFD, spaces at an end, invalid
 * UTF-8) get one index, so that the file reads as the string reader reads it.
 */
export class FastTsvReader {
  /** lines read, empty ones included */
  lines = 0;
  /** data rows: used, skipped and zero counts (not the header) */
  rows = 0;
  header = false;
  zeroCounts = 0;

  private readonly layout: RowLayout;
  private readonly fieldCount: number;
  private readonly hasMbid: boolean;

  /** raw user bytes → user index */
  private userTable = new ByteTable();
  private readonly userIds: string[] = [];
  /** the user-table entry holding each user's own (canonical) bytes */
  private userEntries: number[] = [];
  /** the user-table entry and user index of the last row used (files are grouped by user) */
  private lastUser = -1;
  private lastUserIndex = -1;

  /** raw item bytes (a spelling) → item index, with the first 44 bytes in each 64-byte slot */
  private itemTable = new ByteTable(11);
  /** item key (lower-cased for lastfm) → item index */
  private items = new IdMap();
  /** the text of each item-table entry (whose counter is how many rows spelled the item so) */
  private spellings: string[] = [];

  /** the matrix's triples; a later part's reader (readPart.ts) logs them for the first part's */
  private readonly triples: CompactingCooList | TripleLog;
  /** whether line 1 is the file's first line (so that it may be a header) */
  private readonly startsFile: boolean;

  /** the last tab found in the bytes being read (-1 when they change) */
  private tab = -1;
  /** the last NUL byte found in the bytes being read (-1 when they change) */
  private nul = -1;
  /** the unfinished line at the end of the last chunk */
  private carry = Buffer.alloc(1 << 12);
  private carryView = viewOf(this.carry);
  private carryLength = 0;
  /** a line is unfinished (in carry, or dropped because it is too long) */
  private pending = false;
  private overlong = false;

  constructor(
    format: 'lastfm' | 'triples',
    /** called for each malformed row; may throw to stop the read */
    private readonly skip: (line: number, reason: string) => void,
    /** a part of the file after its start, whose triples go to `log` (readPart.ts) */
    laterPart?: { log: TripleLog },
  ) {
    this.triples = laterPart?.log ?? new CompactingCooList();
    this.startsFile = laterPart === undefined;
    this.layout = format === 'lastfm' ? LASTFM_LAYOUT : TRIPLES_LAYOUT;
    this.fieldCount = this.layout.count + 1;
    this.hasMbid = format === 'lastfm';
  }

  /** rows that went into the matrix */
  get used(): number {
    return this.triples.length;
  }

  /** Reads the whole input, calling `onChunk` after each chunk; returns the number of lines. */
  async read(source: InputSource, onChunk: () => void): Promise<number> {
    for await (const chunk of source.chunks()) {
      this.chunk(chunk);
      onChunk();
    }
    this.end();
    return this.lines;
  }

  /** Reads the lines of a chunk; the end of an unfinished line is kept for the next. */
  chunk(bytes: Buffer): void {
    let at = 0;
    if (this.pending) {
      const newline = bytes.indexOf(NEWLINE);
      if (newline === -1) {
        this.keep(bytes, 0, bytes.length);
        return;
      }
      this.keep(bytes, 0, newline);
      this.finishCarried();
      at = newline + 1;
    }
    this.tab = -1;
    this.nul = -1;
    const view = viewOf(bytes);
    for (let newline = bytes.indexOf(NEWLINE, at); newline !== -1; newline = bytes.indexOf(NEWLINE, at)) {
      this.line(bytes, view, at, newline);
      at = newline + 1;
    }
    if (at < bytes.length) {
      this.pending = true;
      this.keep(bytes, at, bytes.length);
    }
  }

  /** The end of the stream: a last line without a newline is a line too. */
  end(): void {
    if (this.pending) this.finishCarried();
  }

  private keep(bytes: Buffer, start: number, end: number): void {
    if (this.overlong) return;
    const length = this.carryLength + end - start;
    if (length > MAX_LINE_BYTES) {
      this.overlong = true; // drop the bytes, remember that the line is bad
      this.carryLength = 0;
      return;
    }
    if (length > this.carry.length) {
      const carry = Buffer.alloc(Math.min(Math.max(this.carry.length * 2, length), MAX_LINE_BYTES));
      this.carry.copy(carry, 0, 0, this.carryLength);
      this.carry = carry;
      this.carryView = viewOf(carry);
    }
    bytes.copy(this.carry, this.carryLength, start, end);
    this.carryLength = length;
  }

  private finishCarried(): void {
    this.pending = false;
    if (this.overlong) {
      this.overlong = false;
      this.rows++;
      this.skip(++this.lines, OVERLONG_REASON);
      return;
    }
    const length = this.carryLength;
    this.carryLength = 0;
    this.tab = -1;
    this.nul = -1;
    this.line(this.carry, this.carryView, 0, length);
  }

  /**
   * The first tab in bytes at or after `from` (bytes.length when there is none). Searches are
   * remembered, so that each tab of a chunk is searched for once, however the tabs and newlines fall.
   */
  private findTab(bytes: Buffer, from: number): number {
    let tab = this.tab;
    if (tab < from) {
      tab = bytes.indexOf(TAB, from);
      if (tab === -1) tab = bytes.length;
      this.tab = tab;
    }
    return tab;
  }

  /** Reads the line bytes[start, newline) (`view` shows the same bytes). */
  private line(bytes: Buffer, view: DataView, start: number, newline: number): void {
    const line = ++this.lines;
    if (newline - start > MAX_LINE_BYTES) {
      this.rows++;
      this.skip(line, OVERLONG_REASON);
      return;
    }
    let end = newline;
    if (end > start && bytes[end - 1] === CARRIAGE_RETURN) end--;
    if (end === start) return; // an empty line

    const userEnd = this.findTab(bytes, start);
    if (userEnd >= end) return this.wrongFieldCount(line, 1);
    let itemStart = userEnd + 1;
    if (this.hasMbid) {
      const mbidEnd = this.findTab(bytes, itemStart);
      if (mbidEnd >= end) return this.wrongFieldCount(line, 2);
      itemStart = mbidEnd + 1;
    }
    const itemEnd = this.findTab(bytes, itemStart);
    if (itemEnd >= end) return this.wrongFieldCount(line, this.fieldCount - 1);
    const countStart = itemEnd + 1;

    // the count is the last field: plain digits are read here, anything else by parseCount
    let count = 0;
    let p = countStart;
    for (; p < end; p++) {
      const digit = bytes[p] - ZERO;
      if (digit < 0 || digit > 9) break;
      count = count * 10 + digit;
    }
    if (p < end || p === countStart || p - countStart > MAX_PLAIN_DIGITS) {
      let fields = this.fieldCount;
      for (let tab = this.findTab(bytes, countStart); tab < end; tab = this.findTab(bytes, tab + 1)) fields++;
      if (fields !== this.fieldCount) return this.wrongFieldCount(line, fields);
      count = parseCount(bytes.toString('utf8', countStart, end));
    }
    if (line === 1 && this.startsFile) {
      // a header only when its count field holds no digit (so "12abc" on line 1 is a bad row)
      let digit = countStart;
      while (digit < end && (bytes[digit] < ZERO || bytes[digit] > ZERO + 9)) digit++;
      if (digit === end) {
        this.header = true;
        return;
      }
    }
    this.rows++;
    // anything not plainly good is judged from the decoded fields by the string reader's rule
    if (this.findNul(bytes, start) < end || userEnd === start || itemEnd === itemStart || Number.isNaN(count)) {
      return this.judge(bytes, start, end, line);
    }
    const users = this.userTable;
    let userSlot = -1;
    let userHash = 0;
    const sameUser = this.lastUser >= 0 && users.equals(this.lastUser, view, start, userEnd - start);
    if (!sameUser) {
      userHash = hashBytes(view, start, userEnd);
      userSlot = users.find(view, start, userEnd, userHash);
      if (userSlot < 0 && (this.blank(bytes, start, userEnd) || this.unreadable(bytes, start, userEnd))) return this.judge(bytes, start, end, line);
    }
    const items = this.itemTable;
    const itemHash = hashBytes(view, itemStart, itemEnd);
    let itemSlot = items.find(view, itemStart, itemEnd, itemHash);
    if (itemSlot < 0 && (this.blank(bytes, itemStart, itemEnd) || this.unreadable(bytes, itemStart, itemEnd))) return this.judge(bytes, start, end, line);
    if (isZeroCount(count)) {
      this.zeroCounts++;
      return;
    }
    if (!sameUser) {
      if (userSlot < 0) userSlot = this.newUser(bytes, view, start, userEnd, userHash);
      this.lastUser = users.entryAt(userSlot);
      this.lastUserIndex = users.valueAt(userSlot);
    }
    // a new user may have grown the user table only; item slots still hold
    if (itemSlot < 0) itemSlot = this.newSpelling(bytes, view, itemStart, itemEnd, itemHash);
    items.tally(itemSlot);
    this.triples.push(this.lastUserIndex, items.valueAt(itemSlot), count);
  }

  /** The next NUL byte at or after `from` (bytes.length when there is none), remembered like tabs. */
  private findNul(bytes: Buffer, from: number): number {
    let nul = this.nul;
    if (nul < from) {
      nul = bytes.indexOf(0, from);
      if (nul === -1) nul = bytes.length;
      this.nul = nul;
    }
    return nul;
  }

  /**
   * Whether the field bytes[start, end) (not empty, not in a table) holds nothing but whitespace:
   * decoded only when neither end is a printable ASCII byte, which no trimmed whitespace is.
   */
  private blank(bytes: Buffer, start: number, end: number): boolean {
    const first = bytes[start];
    const last = bytes[end - 1];
    if ((first > 0x20 && first < 0x7f) || (last > 0x20 && last < 0x7f)) return false;
    return canonicalName(bytes.toString('utf8', start, end)).length === 0;
  }

  /**
   * Whether the field bytes[start, end) (new to its table) decode to U+FFFD: not UTF-8, or the
   * replacement character itself. Such bytes never enter a table, so every row holding them is
   * judged (and skipped) like this one.
   */
  private unreadable(bytes: Buffer, start: number, end: number): boolean {
    let ascii = true;
    for (let p = start; p < end && ascii; p++) ascii = bytes[p] < 0x80;
    return !ascii && bytes.toString('utf8', start, end).includes(REPLACEMENT_CHARACTER);
  }

  /** Skips a row that is not plainly good, with the reason the string reader gives for its fields. */
  private judge(bytes: Buffer, start: number, end: number, line: number): void {
    const fields = bytes.toString('utf8', start, end).split('\t');
    this.skip(line, rowProblem(fields, this.layout) ?? 'unreadable row');
  }

  private wrongFieldCount(line: number, fields: number): void {
    this.rows++;
    this.skip(line, fieldCountReason(String(this.fieldCount), fields));
  }

  /**
   * Adds a user for the raw bytes [start, end), which are not in the user table; returns its slot.
   * Bytes whose id (decoded, NFC, trimmed) has other bytes (invalid UTF-8, NFD, spaces at an end)
   * map to the user of that id: the id's own bytes are added too, as an alias, so that whichever
   * comes first, both find one user.
   */
  private newUser(bytes: Buffer, view: DataView, start: number, end: number, hash: number): number {
    const users = this.userTable;
    const text = bytes.toString('utf8', start, end);
    const id = canonicalName(text);
    if (id === text && !text.includes(REPLACEMENT_CHARACTER)) return this.addUser(id, view, start, end, hash);
    const own = Buffer.from(id);
    const ownView = viewOf(own);
    if (own.equals(bytes.subarray(start, end))) return this.addUser(id, view, start, end, hash);
    const ownHash = hashBytes(ownView, 0, own.length);
    let ownSlot = users.find(ownView, 0, own.length, ownHash);
    if (ownSlot < 0) ownSlot = this.addUser(id, ownView, 0, own.length, ownHash);
    return users.add(view, start, end, hash, users.valueAt(ownSlot));
  }

  /** A new user `id`, whose own bytes are [start, end) of `view` (not in the user table); returns their slot. */
  private addUser(id: string, view: DataView, start: number, end: number, hash: number): number {
    this.userIds.push(id);
    this.userEntries.push(this.userTable.size);
    return this.userTable.add(view, start, end, hash, this.userIds.length - 1);
  }

  private newSpelling(bytes: Buffer, view: DataView, start: number, end: number, hash: number): number {
    return this.addSpelling(canonicalName(bytes.toString('utf8', start, end)), view, start, end, hash);
  }

  /** Adds the raw bytes [start, end) of `view`, which spell the item `text` (canonical); returns the slot. */
  private addSpelling(text: string, view: DataView, start: number, end: number, hash: number): number {
    const item = this.items.intern(this.layout.foldCase ? text.toLowerCase() : text);
    this.spellings.push(text);
    return this.itemTable.add(view, start, end, hash, item);
  }

  /**
   * What this reader of a later part found, as plain data for the first part's reader (merge).
   * Skipped rows are the caller's: the skip callback saw them.
   */
  part(): PartRead {
    const { bytes, starts } = this.itemTable.entryBytes();
    const users = this.userTable.entryBytes();
    return {
      lines: this.lines,
      rows: this.rows,
      zeroCounts: this.zeroCounts,
      userIds: this.userIds,
      userBytes: { bytes: users.bytes, starts: users.starts, entries: Int32Array.from(this.userEntries) },
      spellings: { bytes, starts, texts: this.spellings, items: this.itemTable.values(), counts: this.itemTable.counts() },
      triples: (this.triples as TripleLog).logged(),
    };
  }

  /**
   * Takes in the next part of the file, read by another reader (part()), as if this reader had
   * read its lines next: its new users and spellings join in the order they first appeared, its
   * spellings' rows are counted with this reader's, and its triples are pushed in their order (so
   * that duplicates are summed as in one pass). Its skipped rows are the caller's to report.
   */
  merge(part: PartRead): void {
    const users = this.userTable;
    const userOf = new Int32Array(part.userIds.length);
    const own = part.userBytes;
    const ownView = viewOf(own.bytes);
    for (let user = 0; user < part.userIds.length; user++) {
      // every user's own bytes are an entry of the user table (newUser adds them)
      const start = own.starts[own.entries[user]];
      const end = own.starts[own.entries[user] + 1];
      const hash = hashBytes(ownView, start, end);
      let slot = users.find(ownView, start, end, hash);
      if (slot < 0) slot = this.addUser(part.userIds[user], ownView, start, end, hash);
      userOf[user] = users.valueAt(slot);
    }
    const { bytes, starts, texts, items, counts } = part.spellings;
    const view = viewOf(bytes);
    // the part's items are numbered from 0 in the order of their first entries: fewer than the entries
    const itemOf = new Int32Array(texts.length);
    for (let entry = 0; entry < texts.length; entry++) {
      const start = starts[entry];
      const end = starts[entry + 1];
      const hash = hashBytes(view, start, end);
      let slot = this.itemTable.find(view, start, end, hash);
      if (slot < 0) slot = this.addSpelling(texts[entry], view, start, end, hash);
      this.itemTable.addToCount(slot, counts[entry]);
      itemOf[items[entry]] = this.itemTable.valueAt(slot);
    }
    const triples = this.triples;
    replayTriples(part.triples, userOf, itemOf, (user, item, count) => triples.push(user, item, count));
    this.lines += part.lines;
    this.rows += part.rows;
    this.zeroCounts += part.zeroCounts;
    this.lastUser = -1;
  }

  /**
   * The display name of every item: its most frequent spelling, ties going to the one seen
   * first (spellings whose bytes differ but whose text is the same count as one).
   */
  private itemNames(): string[] {
    const itemOf = this.itemTable.values();
    const rowsOf = this.itemTable.counts();
    const items = this.items.size;
    const entries = itemOf.length;
    const names = new Array<string>(items);
    if (entries === items) {
      for (let entry = 0; entry < entries; entry++) names[itemOf[entry]] = this.spellings[entry];
      return names;
    }
    const spellingsOf = new Int32Array(items);
    for (let entry = 0; entry < entries; entry++) spellingsOf[itemOf[entry]]++;
    const totals = new Map<string, number>();
    for (let entry = 0; entry < entries; entry++) {
      if (spellingsOf[itemOf[entry]] === 1) continue;
      const text = this.spellings[entry];
      totals.set(text, (totals.get(text) ?? 0) + rowsOf[entry]);
    }
    const best = new Float64Array(items);
    for (let entry = 0; entry < entries; entry++) {
      const item = itemOf[entry];
      const text = this.spellings[entry];
      const rows = spellingsOf[item] === 1 ? rowsOf[entry] : (totals.get(text) as number);
      if (names[item] === undefined || rows > best[item]) {
        names[item] = text;
        best[item] = rows;
      }
    }
    return names;
  }

  /** The users × items matrix (duplicates summed), the ids in index order. Call once, at the end. */
  build(): BuiltInteractions {
    const triples = this.triples;
    if (!(triples instanceof CompactingCooList)) throw new Error("a later part's reader has no matrix to build");
    const itemNames = this.itemNames();
    const users = this.userIds.length;
    // the tables can go before the matrix is built
    this.userTable = new ByteTable();
    this.userEntries = [];
    this.itemTable = new ByteTable();
    this.items = new IdMap();
    this.spellings = [];
    const { matrix, duplicates } = triples.toCsr(users, itemNames.length);
    return { userItems: matrix, userIds: this.userIds, itemNames, duplicates };
  }
}

/** What the reader of a later part of a file found (FastTsvReader.part), as plain data. */
export interface PartRead {
  lines: number;
  rows: number;
  zeroCounts: number;
  /** users in the order they first appeared in the part */
  userIds: string[];
  /** the part's user table: its entries' bytes, where each starts, and the entry of each user's own bytes */
  userBytes: { bytes: Uint8Array; starts: Int32Array; entries: Int32Array };
  /** the item table's entries in order: raw bytes, canonical text, item (of the part), rows */
  spellings: { bytes: Uint8Array; starts: Int32Array; texts: string[]; items: Int32Array; counts: Int32Array };
  triples: LoggedTriples;
}
