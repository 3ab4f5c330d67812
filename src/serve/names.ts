import { AlsError } from '../errors.js';
import type { AlsModel } from '../model/model.js';
import { closestNames, findItem, findUser } from '../query/lookup.js';
import type { Explanation } from '../query/explain.js';
import type { ScoredItem } from '../query/similar.js';
import { NotFoundError } from './errors.js';

/** Close names given with a 404 (closestNames' default). */
export const SUGGESTIONS = 5;

/**
 * The time the process gives to finding suggestions, a token bucket in milliseconds: each
 * search over the names costs about 10 ms at the 360K shape, so 404s sent in a stream could
 * otherwise hold the event loop for everyone. Past the budget a 404 lists no suggestions.
 */
export class SuggestionBudget {
  private tokens: number;
  private last: number;
  /** `perSecond` ms of searching per second, at most `burst` ms at once */
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** `search()` when the budget has time left (its time is then taken), else `fallback` */
  spend<T>(search: () => T, fallback: T): T {
    const started = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((started - this.last) * this.perSecond) / 1000);
    this.last = started;
    if (this.tokens <= 0) return fallback;
    const result = search();
    this.tokens -= this.now() - started;
    return result;
  }
}

/** A quarter of one core, at most half a second at once. */
export const suggestionBudget = new SuggestionBudget(250, 500);

/**
 * findItem or findUser, with the close names as a list (NotFoundError) rather than in the
 * message, for the response's `suggestions` (none once suggestionBudget is spent).
 */
function lookUp(find: typeof findItem, names: readonly string[], name: string, suggest: boolean): number {
  try {
    return find(names, name, { suggest: false });
  } catch (error) {
    if (error instanceof AlsError && error.code === 'not-found') {
      const suggestions = suggest ? suggestionBudget.spend(() => closestNames(names, name, SUGGESTIONS), []) : [];
      throw new NotFoundError(error.message, suggestions);
    }
    throw error;
  }
}

/** The row of item `name` (findItem); unknown: NotFoundError with suggestions. */
export function itemRow(model: AlsModel, name: string): number {
  return lookUp(findItem, model.itemNames, name, true);
}

/**
 * The row of user `id` (findUser); unknown: NotFoundError, with suggestions when `suggest`
 * (a batch suggests for its first few unknown users only: each costs a pass over the users).
 */
export function userRow(model: AlsModel, id: string, suggest = true): number {
  return lookUp(findUser, model.userIds, id, suggest);
}

/** The distinct rows of the `exclude` names that are items of the model; other names are ignored. */
export function excludeRows(model: AlsModel, names: readonly string[] | undefined): number[] {
  const rows = new Set<number>();
  for (const name of names ?? []) {
    try {
      rows.add(findItem(model.itemNames, name, { suggest: false }));
    } catch (error) {
      // a name not in the model (or blank) can never be returned anyway
      if (!(error instanceof AlsError)) throw error;
    }
  }
  return [...rows];
}

/** Rows to leave out of a user's candidates: `played` (unless includePlayed) and the excluded rows. */
export function leaveOut(played: ArrayLike<number>, exclude: number[]): number[] {
  const rows = new Set(exclude);
  for (let k = 0; k < played.length; k++) rows.add(played[k]);
  return [...rows];
}

/** A share of a score of 0 is not a number: null in JSON (a NaN would fail the serialiser, a 500). */
const share = (value: number): number | null => (Number.isFinite(value) ? value : null);

/** An explanation as the API sends it: contributions without their rows, shares null when the score is 0. */
function apiExplanation(e: Explanation) {
  return {
    score: e.score,
    contributions: e.contributions.map((c) => ({ name: c.name, value: c.value, share: share(c.share) })),
    others: { ...e.others, share: share(e.others.share) },
  };
}

/** A scored item as the API sends it: no row number, the item's distinct users added. */
export function scoredItem<T extends ScoredItem & { explanation?: Explanation }>(model: AlsModel, item: T) {
  const { index, explanation, ...rest } = item;
  return {
    ...rest,
    users: model.itemUserCounts[index],
    ...(explanation === undefined ? {} : { explanation: apiExplanation(explanation) }),
  };
}
