import { foldIn, type FoldedUser, type UserPlays } from '../als/foldIn.js';
import { checkModel, checkOptions, checkPlay, checkString, num, numAbove, valueForMessage } from '../validate.js';
import { isStoredCount, MAX_COUNT, parseCount } from '../data/rows.js';
import { AlsError, quoteForMessage } from '../errors.js';
import type { AlsModel } from '../model/model.js';
import { findItem } from './lookup.js';
import { recommendForVector, type RecommendOptions } from './recommend.js';
import type { ScoredItem } from './similar.js';

/**
 * Recommendations for someone who is not in the model, from a list of artists they played:
 * the list becomes one row of plays, the row is folded in (the exact user solve against the
 * fixed item factors) and the resulting vector is scored like a trained user's.
 */

/** One entry of a list like "radiohead,muse,portishead=120": a name, and plays when given. */
export interface ListedItem {
  name: string;
  plays?: number;
}

/**
 * Splits "name,name=plays,…" into entries. A comma inside a name is written "\,". The text
 * after an entry's last "=" is its play count, read by the rule of a count in a file (a decimal
 * number, no hex, at most MAX_COUNT) and positive (AlsError('usage') naming the entry). Empty
 * entries are dropped.
 */
export function parseItemList(text: string): ListedItem[] {
  checkString('text', text);
  const entries: ListedItem[] = [];
  for (const raw of text.split(/(?<!\\),/)) {
    const entry = raw.replace(/\\,/g, ',').trim();
    if (entry.length === 0) continue;
    const at = entry.lastIndexOf('=');
    if (at === -1) {
      entries.push({ name: entry });
      continue;
    }
    const name = entry.slice(0, at).trim();
    const value = entry.slice(at + 1).trim();
    const plays = parseCount(value);
    if (name.length === 0)
      throw new AlsError('usage', `item list entry ${quoteForMessage(entry)} has plays but no name`);
    // above 0 as stored (float32): 1e-300 would be a count of 0
    if (!isStoredCount(plays)) {
      throw new AlsError(
        'usage',
        `item list entry ${quoteForMessage(entry)}: plays must be a decimal number above 0 and at most ${num(MAX_COUNT)}, not ${quoteForMessage(value)}`,
      );
    }
    entries.push({ name, plays });
  }
  return entries;
}

const medians = new WeakMap<Float32Array, number>();

/**
 * The median of all play counts stored in the model (one per user and item): the plays given
 * to a listed artist without "=plays", so that it weighs like a typical artist of a typical
 * user rather than like a single play.
 */
export function medianPlays(model: Pick<AlsModel, 'userItems'>): number {
  checkModel('model', model, ['userItems']);
  const data = model.userItems.data;
  let median = medians.get(data);
  if (median === undefined) {
    if (data.length === 0) return 1;
    const copy = Float64Array.from(data);
    const upper = select(copy, copy.length >> 1);
    median = copy.length % 2 === 1 ? upper : (upper + select(copy, (copy.length >> 1) - 1)) / 2;
    medians.set(data, median);
  }
  return median;
}

/** The k-th smallest value (0-based) by quickselect; reorders `a`. */
function select(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

/** Unknown names of a list that get suggestions and are named in an error; the rest are counted. */
const SUGGESTED_UNKNOWNS = 5;

export interface ResolvedList {
  /** the plays of the found artists (an artist listed twice: plays summed), item rows ascending */
  plays: UserPlays;
  /** the found artists by their model names, in the order first listed */
  found: { index: number; name: string; plays: number }[];
  /** names not in the model, each with the lookup's message (which suggests close names) */
  unknown: { name: string; message: string }[];
}

/**
 * Looks each listed name up (case-insensitively, findItem); `defaultPlays` where none given
 * (medianPlays(model) unless said, computed only when an entry needs it: it reads every play
 * count of the model).
 */
export function resolveItemList(model: AlsModel, list: ListedItem[], defaultPlays?: number): ResolvedList {
  checkList(list);
  if (defaultPlays !== undefined) checkPlay('defaultPlays', defaultPlays);
  const byItem = new Map<number, number>();
  const unknown: ResolvedList['unknown'] = [];
  for (const entry of list) {
    let index: number;
    try {
      // close names are looked for only for the first few unknown names: a long list of unknown
      // names must not cost a pass over the catalogue each
      index = findItem(model.itemNames, entry.name, { suggest: unknown.length < SUGGESTED_UNKNOWNS });
    } catch (error) {
      if (!(error instanceof AlsError) || error.code !== 'not-found') throw error;
      unknown.push({ name: entry.name, message: error.message });
      continue;
    }
    const total = (byItem.get(index) ?? 0) + (entry.plays ?? (defaultPlays ??= medianPlays(model)));
    if (total > MAX_COUNT) {
      throw new AlsError(
        'usage',
        `the plays listed for ${JSON.stringify(model.itemNames[index])} add up to ${numAbove(total, MAX_COUNT)}, above ${num(MAX_COUNT)}, the largest count als takes`,
      );
    }
    byItem.set(index, total);
  }
  const items = Int32Array.from([...byItem.keys()].sort((a, b) => a - b));
  const plays = Float32Array.from(items, (i) => byItem.get(i) as number);
  const found = Array.from(byItem, ([index, total]) => ({
    index,
    name: model.itemNames[index],
    plays: Math.fround(total),
  }));
  return { plays: { items, plays }, found, unknown };
}

export interface ListRecommendation extends ResolvedList {
  folded: FoldedUser;
  recommendations: ScoredItem[];
}

/**
 * Recommends for a listener of `list`, leaving out the listed artists (unless includePlayed).
 * An empty list is AlsError('usage'); a list none of whose names is in the model is
 * AlsError('not-found') with every lookup's message. Unknown names among known ones are
 * returned in `unknown`, for the caller to warn about.
 */
export function recommendForList(
  model: AlsModel,
  list: ListedItem[],
  options: RecommendOptions = {},
): ListRecommendation {
  checkList(list);
  options = checkOptions('options', options);
  if (list.length === 0)
    throw new AlsError('usage', 'the item list is empty; give item names, e.g. "radiohead,muse=120"');
  const resolved = resolveItemList(model, list);
  if (resolved.found.length === 0) {
    const messages = resolved.unknown.slice(0, SUGGESTED_UNKNOWNS).map((u) => u.message.replace(/ in the model/, ''));
    const more = resolved.unknown.length - messages.length;
    throw new AlsError(
      'not-found',
      `none of the listed items is in the model (${messages.join('; ')}${more > 0 ? `; and ${more} more` : ''})`,
      { field: 'list' },
    );
  }
  const folded = foldIn(model, resolved.plays);
  const recommendations = recommendForVector(model, Float32Array.from(folded.x), 0, resolved.plays.items, options);
  return { ...resolved, folded, recommendations };
}

/** A list of { name, plays? } entries: names strings, plays counts when given. */
function checkList(list: ListedItem[]): void {
  if (!Array.isArray(list))
    throw new AlsError('usage', `list must be an array of { name, plays? } entries, not ${valueForMessage(list)}`);
  list.forEach((entry, n) => {
    if (typeof entry !== 'object' || entry === null)
      throw new AlsError('usage', `list[${n}] must be a { name, plays? } entry, not ${valueForMessage(entry)}`);
    checkString(`list[${n}].name`, entry.name);
    if (entry.plays !== undefined) checkPlay(`list[${n}].plays`, entry.plays);
  });
}
