import { checkNameList, checkOptions, checkString, checkWhole, valueForMessage } from '../validate.js';
import { canonicalName } from '../data/rows.js';
import { AlsError, quoteForMessage } from '../errors.js';

/** Edit distances are computed only for queries up to this long: its cost grows with the square. */
const EDIT_QUERY_CHARACTERS = 64;

/** Edit distance with insertions, deletions and substitutions, two rows of memory. */
export function editDistance(a: string, b: string): number {
  if (a.length < b.length) [a, b] = [b, a];
  let previous = new Int32Array(b.length + 1);
  let current = new Int32Array(b.length + 1);
  for (let j = 0; j <= b.length; j++) previous[j] = j;
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost);
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length];
}

const lowerCased = new WeakMap<readonly string[], string[]>();

/** The names in lower case, computed once per list (a list of names is never changed in place). */
export function lowerCaseNames(names: readonly string[]): string[] {
  let lower = lowerCased.get(names);
  if (lower === undefined) {
    // once per list, so that a list holding a non-string is refused rather than a TypeError
    const bad = names.findIndex((name) => typeof name !== 'string');
    if (bad !== -1)
      throw new AlsError('usage', `names must be strings, not ${valueForMessage(names[bad])} at entry ${bad}`);
    lower = names.map((name) => name.toLowerCase());
    // a list already in lower case (sha1 user ids) is its own: no second array (2.8 MB at 360K ids)
    if (lower.every((name, k) => name === names[k])) lower = names as string[];
    lowerCased.set(names, lower);
  }
  return lower;
}

const sortedOrders = new WeakMap<readonly string[], Int32Array | null>();

/**
 * The rows of `names` sorted by name, then row (computed once per list, 4 bytes a name), or null
 * for a list holding a non-string: a server looks names up thousands of times a second, and a
 * scan of 360K ids took 0.5 ms per lookup.
 */
function sortedOrder(names: readonly string[]): Int32Array | null {
  let order = sortedOrders.get(names);
  if (order === undefined) {
    order = names.every((name) => typeof name === 'string')
      ? Int32Array.from(names.keys()).sort((a, b) => (names[a] < names[b] ? -1 : names[a] > names[b] ? 1 : a - b))
      : null;
    sortedOrders.set(names, order);
  }
  return order;
}

/**
 * Lookups of a list answered by a scan before its sorted order is built: a one-shot command looks
 * up one name, and sorting 292K names cost it 0.5 s where a scan takes about 1 ms. A server
 * builds the order up front (indexNames); a batch builds it at its 17th lookup.
 */
const SCANS_BEFORE_SORTING = 16;
const scans = new WeakMap<readonly string[], number>();

/** names.indexOf(name) (the first row holding it, or −1), by binary search once the list is sorted. */
function firstIndexOf(names: readonly string[], name: string): number {
  if (!sortedOrders.has(names)) {
    const scanned = scans.get(names) ?? 0;
    if (scanned < SCANS_BEFORE_SORTING) {
      scans.set(names, scanned + 1);
      return names.indexOf(name);
    }
  }
  const order = sortedOrder(names);
  if (order === null) return names.indexOf(name);
  let low = 0;
  let high = order.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (names[order[middle]] < name) low = middle + 1;
    else high = middle;
  }
  return low < order.length && names[order[low]] === name ? order[low] : -1;
}

/**
 * Builds the lookup indexes of a list of names now (findUser's; with `foldCase`, findItem's
 * case-insensitive one too), so that no request of a server pays for them (0.3 s at 292K names).
 */
export function indexNames(names: readonly string[], foldCase = false): void {
  checkNameList('names', names);
  sortedOrder(names);
  if (foldCase) sortedOrder(lowerCaseNames(names));
}

/**
 * The names closest to `query`, case-insensitively: names that start with it, then names that
 * contain it (shorter first), then names within a small edit distance (closer first). At most
 * `count`. The work is bounded: one pass over the names, and edit distances only for a query of
 * at most EDIT_QUERY_CHARACTERS against names of about its length.
 */
export function closestNames(names: readonly string[], query: string, count = 5): string[] {
  checkNameList('names', names);
  checkString('query', query);
  checkWhole('count', count, 0);
  const q = query.toLowerCase();
  if (q.length === 0) return [];
  const lower = lowerCaseNames(names);
  const ranked: { name: string; rank: number }[] = [];
  const limit = Math.max(1, Math.floor(q.length / 3));
  const editable = q.length <= EDIT_QUERY_CHARACTERS;
  for (let k = 0; k < names.length; k++) {
    const n = lower[k];
    const extra = (n.length - q.length) / 1e4;
    let rank: number;
    if (n.startsWith(q)) rank = extra;
    else if (n.includes(q)) rank = 0.5 + extra;
    else {
      if (!editable || Math.abs(n.length - q.length) > limit) continue;
      rank = editDistance(n, q);
      if (rank > limit) continue;
    }
    ranked.push({ name: names[k], rank });
  }
  ranked.sort((a, b) => a.rank - b.rank || a.name.localeCompare(b.name));
  return ranked.slice(0, count).map((r) => r.name);
}

function didYouMean(suggestions: string[]): string {
  return suggestions.length > 0 ? `; did you mean ${suggestions.map(quoteForMessage).join(', ')}?` : '';
}

export interface LookupOptions {
  /**
   * Look for close names when there is no match, for the message.
   * @default true
   */
  suggest?: boolean;
}

/**
 * The checked arguments of a lookup, the query as the readers store names (NFC, no spaces at the
 * ends), so that what looks alike matches; an empty query is AlsError('usage').
 */
function checkLookup(
  list: [string, readonly string[]],
  query: [string, string],
  options: LookupOptions,
): { query: string; options: LookupOptions } {
  checkNameList(list[0], list[1]);
  const checked = checkOptions('options', options);
  checkString(query[0], query[1]);
  const canonical = canonicalName(query[1]);
  if (canonical === '') throw new AlsError('usage', `the ${query[0]} is empty`);
  return { query: canonical, options: checked };
}

/** The row of the item named `name`, case-insensitively; AlsError('not-found') with suggestions. */
export function findItem(itemNames: readonly string[], name: string, options: LookupOptions = {}): number {
  ({ query: name, options } = checkLookup(['itemNames', itemNames], ['item name', name], options));
  const exact = firstIndexOf(itemNames, name);
  if (exact !== -1) return exact;
  const lower = name.toLowerCase();
  const folded = firstIndexOf(lowerCaseNames(itemNames), lower);
  if (folded !== -1) return folded;
  const suggestions = options.suggest === false ? [] : closestNames(itemNames, name);
  throw new AlsError('not-found', `no item named ${quoteForMessage(name)} in the model${didYouMean(suggestions)}`, {
    field: 'name',
  });
}

/**
 * The row of the user whose id is `id`, exactly: an id is never taken for a row number, so a
 * mistyped or unknown id is AlsError('not-found') with the closest ids, never another user's
 * row (issue 9). `userIdOfRow` picks a user by row.
 */
export function findUser(userIds: readonly string[], id: string, options: LookupOptions = {}): number {
  ({ query: id, options } = checkLookup(['userIds', userIds], ['user id', id], options));
  const exact = firstIndexOf(userIds, id);
  if (exact !== -1) return exact;
  const suggestions = options.suggest === false ? [] : closestNames(userIds, id);
  throw new AlsError('not-found', `no user ${quoteForMessage(id)} in the model${didYouMean(suggestions)}`);
}

/** The id of the user in 0-based row `row`; AlsError('not-found') when there is no such row. */
export function userIdOfRow(userIds: readonly string[], row: number): string {
  if (!Number.isInteger(row) || row < 0)
    throw new AlsError('usage', `user row must be a whole number ≥ 0, not ${valueForMessage(row)}`);
  if (row >= userIds.length) {
    throw new AlsError(
      'not-found',
      `no user row ${row}: the model has ${userIds.length} users (rows 0 to ${userIds.length - 1})`,
    );
  }
  return userIds[row];
}
