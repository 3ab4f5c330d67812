import { MAX_LINE_BYTES } from './lines.js';

/**
 * What a row of an interactions file must look like, shared by the readers so that they judge
 * rows alike and word their reasons alike.
 */

/**
 * The largest count als takes, in a file, an update, a fold-in's `=plays` or the library: far above
 * any play or purchase count, far below float32's 3.4e38, so that summed duplicates and the
 * confidences made from them stay finite (issue 9). A larger count is refused, never clamped.
 */
export const MAX_COUNT = 1e15;

const COUNT_PATTERN = /^\+?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The count in `text`, or NaN when it is not a finite non-negative decimal number. */
export function parseCount(text: string): number {
  const trimmed = text.trim();
  if (!COUNT_PATTERN.test(trimmed)) return NaN;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : NaN;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
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
  return `field ${layout.count + 1} (count) is ${quote(text)}, not a non-negative number`;
}

export const OVERLONG_REASON = `line is longer than ${MAX_LINE_BYTES} bytes`;
