import { quoteForMessage } from '../errors.js';
import { NAME_BREAKERS_TEXT, nameBreaker } from './rows.js';

/**
 * What is wrong with a list of user ids or item names: a name that holds a character no name may
 * hold (rows.ts, the readers' rule), or a name given twice. A model answers for a row by its id or
 * name, so two rows of one name would make one of them unreachable, or the other's answer.
 */
export type NameListProblem =
  | { kind: 'character'; row: number; name: string; character: string }
  | { kind: 'duplicate'; first: number; row: number; name: string };

/** Lists found sound: a list of names is never changed in place (lookup.ts assumes the same), so each is checked once. */
const sound = new WeakSet<readonly string[]>();

/**
 * Longest run of occupied slots a name may probe in the hash table before the check falls back to
 * a Set: a long run means names that agree in every sampled character (or crafted collisions),
 * whose probing would grow with the square of their number.
 */
const MAX_PROBES = 64;

/** Characters of a name hashed at each end; a name of at most twice this many is hashed whole. */
const SAMPLED = 8;

/**
 * The first problem of `names`, or null when every name is free of name breakers and given
 * once: the first name holding a breaker, else the first name given again (with the row of its
 * first appearance). `characters` false skips the character test, for a caller that knows none can be
 * there (a JSON text without a backslash holds no control character).
 *
 * Duplicates are found with an open-addressing table of row numbers keyed by a hash of each
 * name's length and its first and last SAMPLED characters, names compared only when their hashes
 * agree. Measured on the 360K model's 359,347 user ids (2 loaded cores): 25–45 ms, where a Set of
 * the names took 110–180 ms, more than parsing the JSON (55 ms); hashing every character, or
 * comparing names whose slots merely collide, about doubled the time.
 *
 * @param names strings (the callers checked that they are)
 */
export function nameListProblem(names: readonly string[], characters = true): NameListProblem | null {
  if (sound.has(names)) return null;
  const n = names.length;
  if (characters) {
    for (let row = 0; row < n; row++) {
      const character = nameBreaker(names[row]);
      if (character !== null) return { kind: 'character', row, name: names[row], character };
    }
  }
  const duplicate = hashedDuplicate(names);
  if (duplicate === null) sound.add(names);
  return duplicate;
}

/**
 * A hash of `name`'s length and its first and last SAMPLED characters (the whole name when it is
 * short): FNV-1a, then MurmurHash3's finaliser so that the low bits, which pick the slot, mix.
 */
function sampledHash(name: string): number {
  const length = name.length;
  let hash = Math.imul(0x811c9dc5 ^ length, 0x01000193);
  if (length <= 2 * SAMPLED) {
    for (let k = 0; k < length; k++) hash = Math.imul(hash ^ name.charCodeAt(k), 0x01000193);
  } else {
    for (let k = 0; k < SAMPLED; k++) hash = Math.imul(hash ^ name.charCodeAt(k), 0x01000193);
    for (let k = length - SAMPLED; k < length; k++) hash = Math.imul(hash ^ name.charCodeAt(k), 0x01000193);
  }
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return hash ^ (hash >>> 16);
}

/**
 * The first repeated name, by the table (by setDuplicate once a probe run passes MAX_PROBES).
 * Two passes, measured faster than one: the hashes first (reading the names in order), then the
 * table, whose slots are compared by hash and only then by name, so that a collision reads
 * another name's memory only when the two hashes agree.
 */
function hashedDuplicate(names: readonly string[]): NameListProblem | null {
  const n = names.length;
  const hashes = new Int32Array(n);
  for (let row = 0; row < n; row++) hashes[row] = sampledHash(names[row]);
  let bits = 4;
  while (1 << bits < 2 * n) bits++;
  const mask = (1 << bits) - 1;
  // row + 1 per slot, 0 for empty: 4 MiB for the 360K users
  const table = new Int32Array(mask + 1);
  for (let row = 0; row < n; row++) {
    const hash = hashes[row];
    let slot = hash & mask;
    for (let probes = 0; ; probes++) {
      const other = table[slot];
      if (other === 0) {
        table[slot] = row + 1;
        break;
      }
      if (hashes[other - 1] === hash && names[other - 1] === names[row]) return { kind: 'duplicate', first: other - 1, row, name: names[row] };
      if (probes === MAX_PROBES) return setDuplicate(names);
      slot = (slot + 1) & mask;
    }
  }
  return null;
}

/** The first repeated name by a Set (V8's seeded string hash): for lists the sampled hash cannot spread. */
function setDuplicate(names: readonly string[]): NameListProblem | null {
  const seen = new Set<string>();
  for (let row = 0; row < names.length; row++) {
    const name = names[row];
    if (seen.has(name)) return { kind: 'duplicate', first: names.indexOf(name), row, name };
    seen.add(name);
  }
  return null;
}

/**
 * A problem in words, after the list's name: `"alice" at rows 0 and 1; every user id must be
 * unique` or `"a\tb" at row 2 holds a tab; no user id or item name may hold …`.
 *
 * @param noun what one name of the list is ("user id", "item name")
 */
export function nameListProblemWords(problem: NameListProblem, noun: string): string {
  const name = quoteForMessage(problem.name);
  if (problem.kind === 'duplicate') return `${name} at rows ${problem.first} and ${problem.row}; every ${noun} must be unique`;
  return `${name} at row ${problem.row} holds ${problem.character}; ${NAME_BREAKERS_TEXT}`;
}
