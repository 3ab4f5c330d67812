import { AlsError } from '../errors.js';
import type { AlsModel } from '../model/model.js';

/**
 * The default least number of distinct listeners a neighbour must have (see the README: items
 * with fewer have factors fitted to one or two users' tastes and crowd "similar" lists).
 */
export const DEFAULT_MIN_LISTENERS = 3;

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
 * The mask of items with fewer than `minListeners` listeners (the model's stored counts, so no
 * play count is read), kept for the model's last threshold.
 */
export function listenerFilter(model: Pick<AlsModel, 'itemListeners'>, minListeners: number): ListenerFilter {
  const listeners = model.itemListeners;
  let filter = filters.get(listeners);
  if (filter === undefined || filter.minListeners !== minListeners) {
    const below = new Uint8Array(listeners.length);
    let count = 0;
    for (let i = 0; i < listeners.length; i++) {
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

/** A minimum listener count must be a whole number ≥ 1 (1 = no filter). */
export function checkMinListeners(value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new AlsError('usage', `--min-listeners must be a whole number ≥ 1 (1 keeps every artist), not ${value}`);
  }
  return value;
}
