import { AlsError } from '../errors.js';

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

/**
 * The names closest to `query`, case-insensitively: names that start with it, then names that
 * contain it (shorter first), then names within a small edit distance (closer first). At most
 * `count`.
 */
export function closestNames(names: readonly string[], query: string, count = 5): string[] {
  const q = query.toLowerCase();
  const ranked: { name: string; rank: number }[] = [];
  const limit = Math.max(1, Math.floor(q.length / 3));
  for (const name of names) {
    const n = name.toLowerCase();
    const extra = (n.length - q.length) / 1e4;
    let rank: number;
    if (n.startsWith(q)) rank = extra;
    else if (n.includes(q)) rank = 0.5 + extra;
    else {
      if (Math.abs(n.length - q.length) > limit) continue;
      rank = editDistance(n, q);
      if (rank > limit) continue;
    }
    ranked.push({ name, rank });
  }
  ranked.sort((a, b) => a.rank - b.rank || a.name.localeCompare(b.name));
  return ranked.slice(0, count).map((r) => r.name);
}

function didYouMean(suggestions: string[]): string {
  return suggestions.length > 0 ? `; did you mean ${suggestions.map((s) => JSON.stringify(s)).join(', ')}?` : '';
}

/** The row of the item named `name`, case-insensitively; AlsError('not-found') with suggestions. */
export function findItem(itemNames: readonly string[], name: string): number {
  const exact = itemNames.indexOf(name);
  if (exact !== -1) return exact;
  const lower = name.toLowerCase();
  const folded = itemNames.findIndex((n) => n.toLowerCase() === lower);
  if (folded !== -1) return folded;
  throw new AlsError('not-found', `no artist or item named ${JSON.stringify(name)} in the model${didYouMean(closestNames(itemNames, name))}`);
}

/**
 * The row of user `id`: the original id first; when no user has that id and it is a whole
 * number below the number of users, it is taken as the 0-based row number.
 */
export function findUser(userIds: readonly string[], id: string): number {
  const exact = userIds.indexOf(id);
  if (exact !== -1) return exact;
  if (/^\d+$/.test(id) && Number(id) < userIds.length) return Number(id);
  const hint = userIds.length > 0 ? ` (ids look like ${JSON.stringify(userIds[0])}; a number below ${userIds.length} is taken as a row)` : '';
  throw new AlsError('not-found', `no user ${JSON.stringify(id)} in the model${hint}`);
}
