import type { Interactions } from '../data/read.js';
import { MAX_COUNT } from '../data/rows.js';
import { columnCounts, type CsrMatrix } from '../data/sparse.js';
import { AlsError, quoteForMessage } from '../errors.js';
import type { AlsModel, UpdateSummary } from '../model/model.js';
import { foldIn, playsOfRow } from './foldIn.js';
import { checkInteractions, num, valueForMessage } from '../validate.js';

/**
 * `als update`: new plays added to a trained model without training it again. New plays of
 * existing users are summed into their rows, new users are appended (their ids kept), and
 * exactly those users are re-solved by fold-in against the fixed item factors. The item factors
 * never move, and artists the model does not know are left out (counted): learning them, or
 * letting the items follow a drift in taste, takes a full `als train`.
 */

export interface UpdateResult {
  /** the updated model; `model` itself when nothing changed */
  model: AlsModel;
  summary: UpdateSummary;
  /** ids of the users appended, in order */
  addedUsers: string[];
  /** a few names of artists not in the model */
  unknownExamples: string[];
  /** true when no user changed (every row was for an unknown artist) */
  unchanged: boolean;
}

/** How many unknown artist names the result keeps, for the report. */
const UNKNOWN_EXAMPLES = 5;

/**
 * The model row of each item of `data` (−1 when unknown). Names are matched exactly; a model
 * trained on lastfm or csv input keyed artists case-insensitively (csv's 4-field rows), so
 * for those a case-insensitive match counts too.
 */
function mapItems(model: AlsModel, data: Interactions): Int32Array {
  const exact = new Map<string, number>();
  model.itemNames.forEach((name, i) => exact.set(name, i));
  const format = model.input?.format ?? 'lastfm';
  let folded: Map<string, number> | null = null;
  if (format !== 'triples') {
    folded = new Map();
    for (let i = model.itemNames.length - 1; i >= 0; i--) folded.set(model.itemNames[i].toLowerCase(), i);
  }
  return Int32Array.from(data.itemNames, (name) => exact.get(name) ?? folded?.get(name.toLowerCase()) ?? -1);
}

/**
 * Applies the interactions in `data` to `model` (which is left as it was).
 *
 * @throws {AlsError} 'usage' when `data` is not valid Interactions (counts above 0 and at most
 * MAX_COUNT); 'input' when a stored count plus the new ones would pass MAX_COUNT, or when a
 * re-solved user's confidences pass what the arithmetic carries (MAX_CONFIDENCE). Nothing is
 * changed then.
 */
export function updateModel(model: AlsModel, data: Interactions): UpdateResult {
  if (typeof model !== 'object' || model === null)
    throw new AlsError('usage', `model must be an AlsModel, not ${valueForMessage(model)}`);
  checkInteractions('data', data);
  const f = model.factors;
  const old = model.userItems;
  const itemRow = mapItems(model, data);
  const userRow = new Map<string, number>();
  model.userIds.forEach((id, u) => userRow.set(id, u));

  // the new plays by model row, unknown artists counted instead
  const added = new Map<number, Map<number, number>>();
  const addedUsers: string[] = [];
  const unknown = new Set<number>();
  let unknownItemPairs = 0;
  const m = data.userItems;
  for (let r = 0; r < m.rows; r++) {
    let plays: Map<number, number> | undefined;
    for (let n = m.indptr[r]; n < m.indptr[r + 1]; n++) {
      const item = itemRow[m.indices[n]];
      if (item === -1) {
        unknownItemPairs++;
        unknown.add(m.indices[n]);
        continue;
      }
      if (plays === undefined) {
        let u = userRow.get(data.userIds[r]);
        if (u === undefined) {
          // a new user is appended only once it has a play of a known artist
          u = model.users + addedUsers.length;
          addedUsers.push(data.userIds[r]);
          userRow.set(data.userIds[r], u);
        }
        plays = added.get(u) ?? new Map();
        added.set(u, plays);
      }
      plays.set(item, (plays.get(item) ?? 0) + m.data[n]);
    }
  }

  const { file, format, rows, used, skipped, zeroCounts, duplicates, header } = data.stats;
  const summary: UpdateSummary = {
    file,
    format,
    rows,
    used,
    skipped,
    zeroCounts,
    duplicates,
    header,
    usersUpdated: added.size - addedUsers.length,
    usersAdded: addedUsers.length,
    unknownItemPairs,
    unknownItems: unknown.size,
  };
  const unknownExamples = [...unknown].slice(0, UNKNOWN_EXAMPLES).map((k) => data.itemNames[k]);
  if (added.size === 0) return { model, summary, addedUsers, unknownExamples, unchanged: true };

  const users = model.users + addedUsers.length;
  const userIds = [...model.userIds, ...addedUsers];
  // the stored count plus the new ones must stay a count als takes, as a file's would
  for (const [u, plays] of added) {
    for (const [item, count] of plays) {
      const total = storedPlays(old, u, item) + count;
      if (!(total <= MAX_COUNT)) {
        throw new AlsError(
          'input',
          `user ${quoteForMessage(userIds[u])}, item ${quoteForMessage(model.itemNames[item])}: the play count after the update, ` +
            `${num(storedPlays(old, u, item))} + ${num(count)} = ${num(total)}, is above ${num(MAX_COUNT)}, the largest count als takes`,
        );
      }
    }
  }
  const userItems = mergeRows(old, users, added);
  const userFactors = new Float32Array(users * f);
  userFactors.set(model.userFactors);
  const updated: AlsModel = {
    users,
    items: model.items,
    factors: f,
    userFactors,
    itemFactors: model.itemFactors,
    userIds,
    itemNames: model.itemNames,
    userItems,
    itemUserCounts: columnCounts(userItems),
    options: model.options,
    input: model.input,
    losses: model.losses,
    ...(model.defaults ? { defaults: model.defaults } : {}),
    updates: [...(model.updates ?? []), summary],
    // an imported model stays one: where it came from is still where its item factors came from
    ...(model.imported ? { imported: model.imported } : {}),
    // the factors of the users already there are still the engine's
    ...(model.trainedBy ? { trainedBy: model.trainedBy } : {}),
  };
  // confidences (bm25's item statistics) come from the merged matrix, as a new train would take them
  for (const u of [...added.keys()].sort((a, b) => a - b)) {
    let x: Float64Array;
    try {
      x = foldIn(updated, playsOfRow(updated, u)).x;
    } catch (error) {
      // a count the fold-in refuses came from the update's input, not from an argument of a call;
      // a model error (non-finite item factors) stays one
      if (error instanceof AlsError) {
        throw new AlsError(
          error.code === 'usage' ? 'input' : error.code,
          `user ${quoteForMessage(userIds[u])}: ${error.message}`,
          { cause: error },
        );
      }
      throw error;
    }
    for (let a = 0; a < f; a++) userFactors[u * f + a] = x[a];
  }
  return { model: updated, summary, addedUsers, unknownExamples, unchanged: false };
}

/** `old` with `users` rows: each row's stored plays plus `added` (summed per item), items ascending. */
function mergeRows(old: CsrMatrix, users: number, added: Map<number, Map<number, number>>): CsrMatrix {
  let nnz = old.indptr[old.rows];
  for (const [u, plays] of added) {
    for (const item of plays.keys()) if (u >= old.rows || !hasItem(old, u, item)) nnz++;
  }
  const indptr = new Int32Array(users + 1);
  const indices = new Int32Array(nnz);
  const data = new Float32Array(nnz);
  let at = 0;
  for (let u = 0; u < users; u++) {
    const plays = added.get(u);
    if (plays === undefined) {
      // unchanged rows are copied as they are
      const start = u < old.rows ? old.indptr[u] : 0;
      const end = u < old.rows ? old.indptr[u + 1] : 0;
      indices.set(old.indices.subarray(start, end), at);
      data.set(old.data.subarray(start, end), at);
      at += end - start;
    } else {
      const row = new Map<number, number>();
      if (u < old.rows) for (let n = old.indptr[u]; n < old.indptr[u + 1]; n++) row.set(old.indices[n], old.data[n]);
      for (const [item, count] of plays) row.set(item, (row.get(item) ?? 0) + count);
      for (const item of [...row.keys()].sort((a, b) => a - b)) {
        indices[at] = item;
        data[at] = row.get(item) as number;
        at++;
      }
    }
    indptr[u + 1] = at;
  }
  return { rows: users, cols: old.cols, indptr, indices, data };
}

/** The stored count of (row, item), 0 when none (or the row is new). */
function storedPlays(m: CsrMatrix, row: number, item: number): number {
  if (row >= m.rows) return 0;
  for (let n = m.indptr[row]; n < m.indptr[row + 1]; n++) if (m.indices[n] === item) return m.data[n];
  return 0;
}

function hasItem(m: CsrMatrix, row: number, item: number): boolean {
  for (let n = m.indptr[row]; n < m.indptr[row + 1]; n++) if (m.indices[n] === item) return true;
  return false;
}
