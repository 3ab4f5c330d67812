import { AlsError } from '../errors.js';
import { valueForMessage } from '../validate.js';
import type { AlsModel } from '../model/model.js';

/**
 * The default least number of distinct listeners a neighbour must have (see
 * docs/choosing-settings.md, "Why at least 3 listeners": items with fewer have factors fitted to
 * one or two users' tastes and crowd "similar" lists).
 */
export const DEFAULT_MIN_ITEM_USERS = 3;

/** Items below a listener threshold, as a 0/1 mask to copy into a query's skip mask. */
export interface ListenerFilter {
  minListeners: number;
  /** 1 where the item has fewer than minListeners listeners */
  below: Uint8Array;
  /** how many ones `below` holds */
  count: number;
}

const filters = new WeakMap<Int32Array, ListenerFilter>();

/**
 * Whether a model's listener counts say anything: false when every item has none, which only a
 * model without play counts has (one imported without its plays, src/model/sparkFormat.ts; every
 * item of a trained model has a listener). The listener filter keeps every item of such a model,
 * rather than leaving every item out.
 */
export function listenerCountsKnown(itemUserCounts: Int32Array): boolean {
  for (let i = 0; i < itemUserCounts.length; i++) if (itemUserCounts[i] !== 0) return true;
  return itemUserCounts.length === 0;
}

/**
 * The mask of items with fewer than `minListeners` listeners (the model's stored counts, so no
 * play count is read), kept for the model's last threshold; no item is masked when the counts
 * are unknown (listenerCountsKnown).
 */
export function listenerFilter(model: Pick<AlsModel, 'itemUserCounts'>, minListeners: number): ListenerFilter {
  const listeners = model.itemUserCounts;
  let filter = filters.get(listeners);
  if (filter === undefined || filter.minListeners !== minListeners) {
    const below = new Uint8Array(listeners.length);
    let count = 0;
    const known = listenerCountsKnown(listeners);
    for (let i = 0; i < listeners.length && known; i++) {
      if (listeners[i] < minListeners) {
        below[i] = 1;
        count++;
      }
    }
    filter = { minListeners, below, count };
    filters.set(listeners, filter);
  }
  return filter;
}

/**
 * A minimum listener count: a whole number from 1 (no filter) to Number.MAX_SAFE_INTEGER, as
 * every count of the library (1e300 would otherwise leave out every item, silently).
 *
 * @param name the field as the caller knows it (the CLI: --min-listeners)
 * @param noun what is kept, for the message
 * @throws {AlsError} 'usage' naming `name` and the value
 */
export function checkMinListeners(value: unknown, name = 'minItemUsers', noun = 'item'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > Number.MAX_SAFE_INTEGER) {
    throw new AlsError(
      'usage',
      `${name} must be a whole number ≥ 1 (1 keeps every ${noun}), not ${valueForMessage(value)}`,
    );
  }
  return value;
}
