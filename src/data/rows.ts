import { MAX_LINE_BYTES } from './lines.js';

/**
 * What a row of an interactions file must look like, shared by the readers (and by every other
 * place that takes a count or a name from a user: update, fold-in's `=plays`, the library) so
 * that they judge alike and word their reasons alike. Each rule is decided here once.
 */

/**
 * The largest count als takes, in a file, an update, a fold-in's `=plays` or the library: far above
 * any play or purchase count, far below float32's 3.4e38, so that summed duplicates and the
 * confidences made from them stay finite (issue 9). A larger count is refused, never clamped.
 */
export const MAX_COUNT = 1e15;
/** MAX_COUNT as messages write it. */
const MAX_COUNT_TEXT = '1e15';
/** The phrase every message about a count above MAX_COUNT ends with. */
export const ABOVE_MAX_COUNT = `above the largest count als takes (${MAX_COUNT_TEXT})`;

/**
 * Whether `value` is a count als stores: above 0 as float32 (1e-300 is a count of 0) and at most
 * MAX_COUNT. The one test of a count given as a number (library, update sums, fold-in plays).
 */
export function isStoredCount(value: number): boolean {
  return Math.fround(value) > 0 && value <= MAX_COUNT;
}

const COUNT_PATTERN = /^\+?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DIGIT = /[0-9]/;

/**
 * The count in `text` (whitespace at either end ignored), or NaN when `countProblem` finds a
 * problem with it: not a plain non-negative decimal number, or above MAX_COUNT.
 */
export function parseCount(text: string): number {
  const trimmed = text.trim();
  if (!COUNT_PATTERN.test(trimmed)) return NaN;
  const value = Number(trimmed);
  return value <= MAX_COUNT ? value : NaN;
}

/**
 * Why `text` is not a count als takes, or null when it is one (0 included: what a zero means
 * is the caller's). A count is a non-negative decimal number (`12`, `+7`, `0.5`, `.5`, `1e3`),
 * with whitespace at either end ignored, of at most MAX_COUNT; hex, signs other than `+`,
 * `NaN`, `Infinity` and `1e39` are refused. For example: `"0x10" is not a non-negative number`,
 * `1e39 is above the largest count als takes (1e15)`.
 */
export function countProblem(text: string): string | null {
  const trimmed = text.trim();
  if (!COUNT_PATTERN.test(trimmed)) return `${quote(text)} is not a non-negative number`;
  if (!(Number(trimmed) <= MAX_COUNT)) return `${cut(trimmed)} is ${ABOVE_MAX_COUNT}`;
  return null;
}

/**
 * Why the number `value` is not a count als takes, or null when it is one (0 included): the
 * same rule as `countProblem` for counts that come as numbers (a matrix given to the library).
 */
export function countValueProblem(value: number): string | null {
  if (typeof value !== 'number' || Number.isNaN(value)) return `${String(value)} is not a non-negative number`;
  if (value < 0) return `${value} is not a non-negative number`;
  if (!(value <= MAX_COUNT)) return `${value} is ${ABOVE_MAX_COUNT}`;
  return null;
}

/**
 * Whether a count is zero as als stores it (float32): such rows are ignored, so that every
 * stored count is > 0.
 */
export function isZeroCount(count: number): boolean {
  return Math.fround(count) === 0;
}

/** Whether line 1 with this count field is a header: its count field holds no digit (issue 9). */
export function isHeaderCount(text: string): boolean {
  return !DIGIT.test(text);
}

/**
 * A user id or item name as als keeps it: Unicode-normalized to NFC (so that "Björk" typed with
 * a combining diaeresis is the same item) and without whitespace at either end, where whitespace
 * is what String.prototype.trim drops (space, tab, \v, \f, \r, \n, no-break space, U+FEFF and the
 * other Unicode spaces), the same set a count is trimmed of.
 */
export function canonicalName(text: string): string {
  return text.normalize('NFC').trim();
}

function cut(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function quote(text: string): string {
  return JSON.stringify(cut(text));
}

/** Where the fields of a row are (0-based), for a row of `fields` fields; null when none fits. */
export interface RowLayout {
  item: number;
  count: number;
  /** the item is an artist name, matched case-insensitively */
  foldCase: boolean;
}

export const TRIPLES_LAYOUT: RowLayout = { item: 1, count: 2, foldCase: false };
export const LASTFM_LAYOUT: RowLayout = { item: 2, count: 3, foldCase: true };

export function fieldCountReason(expected: string, found: number): string {
  return `expected ${expected} fields, found ${found}`;
}

export const EMPTY_USER_REASON = 'field 1 (user) is empty';

export function emptyItemReason(layout: RowLayout): string {
  return `field ${layout.item + 1} (${layout.foldCase ? 'artist name' : 'item'}) is empty`;
}

export function badCountReason(layout: RowLayout, text: string): string {
  const trimmed = text.trim();
  if (COUNT_PATTERN.test(trimmed) && !(Number(trimmed) <= MAX_COUNT)) {
    return `field ${layout.count + 1} (count) is ${cut(trimmed)}, ${ABOVE_MAX_COUNT}`;
  }
  return `field ${layout.count + 1} (count) is ${quote(text)}, not a non-negative number`;
}

/**
 * The characters no user id or item name may hold, wherever it comes from (a file, the library's
 * train, saveModel, a model loaded from disk): NUL, tab and line feed. A tab or a line feed ends a
 * field or a line of every tab-separated file als reads and writes, and NUL ends a string in C,
 * so such a name could not be written out and read back as itself. A carriage return is kept (the
 * Last.fm 360K file has names holding one; see tsvNames.ts).
 */
const NAME_BREAKERS = '\\0\\t\\n';
const NAME_BREAKER = new RegExp(`[${NAME_BREAKERS}]`);
/** A field the readers refuse: a name breaker, or U+FFFD (see fieldWithBadCharacter). */
const BAD_FIELD_CHARACTER = new RegExp(`[${NAME_BREAKERS}\\uFFFD]`);

/** The character of `name` that no id or name may hold, in words ("a NUL byte", "a tab", "a line break"), or null. */
export function nameBreaker(name: string): string | null {
  if (!NAME_BREAKER.test(name)) return null;
  return name.includes('\0') ? 'a NUL byte' : name.includes('\t') ? 'a tab' : 'a line break';
}

/** The words every refusal of such a name ends with. */
export const NAME_BREAKERS_TEXT = 'no user id or item name may hold a tab, a line break or a NUL byte';

/** A field (1-based) holds a character no field may hold: NUL anywhere, tab or line feed in csv. */
function badCharacterReason(field: number, text: string): string {
  if (text.includes('\uFFFD')) return `field ${field} is not valid UTF-8 (or holds U+FFFD, the mark of text that was not)`;
  return `field ${field} holds ${nameBreaker(text) ?? 'a line break'}`;
}

/**
 * The first field (0-based) holding a name breaker (NUL, tab, line feed) or U+FFFD, or -1. U+FFFD
 * is what bytes that are not UTF-8 decode to: such a name would silently merge with other misread
 * names ("Bj\xf6rk" and "Bj\xe9rk" both "Bj�rk"), so it is a malformed row (issue 9); it is a rule
 * of reading text, so the library's lists of names may hold it.
 */
function fieldWithBadCharacter(fields: string[]): number {
  for (let n = 0; n < fields.length; n++) if (BAD_FIELD_CHARACTER.test(fields[n])) return n;
  return -1;
}

/**
 * Why a row's fields cannot be used, or null when they can: the one judgement of a row that
 * both readers make (the byte reader asks it whenever a row is not plainly good).
 */
export function rowProblem(fields: string[], layout: RowLayout): string | null {
  const bad = fieldWithBadCharacter(fields);
  if (bad >= 0) return badCharacterReason(bad + 1, fields[bad]);
  if (canonicalName(fields[0]).length === 0) return EMPTY_USER_REASON;
  if (canonicalName(fields[layout.item]).length === 0) return emptyItemReason(layout);
  if (Number.isNaN(parseCount(fields[layout.count]))) return badCountReason(layout, fields[layout.count]);
  return null;
}

export const OVERLONG_REASON = `line is longer than ${MAX_LINE_BYTES} bytes`;
