import { createHash } from 'node:crypto';
import { AlsError } from '../errors.js';
import { FILES, ITEM_INDEX, type ItemIndexEntry } from '../model/format.js';
import { corruptModel, readItemIndexFile } from '../model/load.js';
import type { AlsModel } from '../model/model.js';
import { checkModel, checkOptions } from '../validate.js';
import { candidateRows, type CandidateRows } from './candidates.js';
import { buildHnsw, DEFAULT_EF_CONSTRUCTION, DEFAULT_M, type HnswIndex } from './hnsw.js';
import { hnswSource, readHnsw, writeHnsw } from './hnswFormat.js';
import { checkMinListeners, DEFAULT_MIN_ITEM_USERS } from './listeners.js';

/**
 * The approximate nearest-neighbour index of a model's items (issue 13): an HNSW graph
 * (hnsw.ts) over the unit item rows, so that its inner product is the cosine similarity of
 * `similar`, over the items a similar query may list by default (at least DEFAULT_MIN_ITEM_USERS
 * users, candidateRows): an index over every row searched with the rare items excluded would
 * walk through them for nothing. It is stored with the model version it was built for
 * (item_index.hnsw, model.json's itemIndex) and bound to it by the item factors' SHA-256 (in
 * model.json and in the file's header) and the SHA-256 of the rows it covers.
 */

export interface ItemIndexOptions {
  /**
   * Index the items with at least this many users (1: every item).
   * @default DEFAULT_MIN_ITEM_USERS (3), the candidates of `similar` by default
   */
  minItemUsers?: number;
  /** @default DEFAULT_M (16) */
  m?: number;
  /** @default DEFAULT_EF_CONSTRUCTION (400) */
  efConstruction?: number;
  /** @default 1 */
  seed?: number;
  /** called with the rows inserted so far and the rows to insert */
  onProgress?: (inserted: number, rows: number) => void;
}

/** An index ready to search: the graph, the unit rows it was built on, and the item row of each. */
export interface ItemIndexSearch {
  index: HnswIndex;
  /** the candidates' unit rows, candidate slot order (rows.count × factors) */
  vectors: Float32Array;
  /** the candidates: index row c is item row rows.rows[c] */
  candidates: CandidateRows;
  minItemUsers: number;
}

/** What a model's stored index is worth to a query. */
export type ItemIndexState =
  | { kind: 'fresh'; search: ItemIndexSearch }
  /** the model's version has no index */
  | { kind: 'none' }
  /** it has one, built for other item factors or other items: why, in words */
  | { kind: 'stale'; reason: string };

const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

const sha256 = (array: ArrayBufferView) =>
  createHash('sha256')
    .update(new Uint8Array(array.buffer, array.byteOffset, array.byteLength))
    .digest();

/**
 * The candidates' rows divided by their norms (a row of zeros stays zeros: its cosine with every
 * row is 0, as rankSimilarToRow scores it), norms summed in float64.
 */
export function unitRows(itemFactors: Float32Array, factors: number, { count, rows }: CandidateRows): Float32Array {
  const out = new Float32Array(count * factors);
  for (let c = 0; c < count; c++) unitRowInto(itemFactors, factors, rows[c], out, c * factors);
  return out;
}

/**
 * Item row `row` of itemFactors divided by its norm (summed in float64) into out from `at`, as
 * unitRows makes each row: a query of the index. A row of zeros stays zeros; returns whether the
 * row was one.
 */
export function unitRowInto(
  itemFactors: Float32Array,
  factors: number,
  row: number,
  out: Float32Array,
  at = 0,
): boolean {
  const from = row * factors;
  let squares = 0;
  for (let j = 0; j < factors; j++) squares += itemFactors[from + j] * itemFactors[from + j];
  if (squares === 0) {
    out.fill(0, at, at + factors);
    return true;
  }
  const scale = 1 / Math.sqrt(squares);
  for (let j = 0; j < factors; j++) out[at + j] = itemFactors[from + j] * scale;
  return false;
}

/**
 * The item index of `model` as the bytes of item_index.hnsw (its header bound to the SHA-256 of
 * the item factors) and its model.json entry: what saveModel's `itemIndex` option takes.
 * Deterministic: the same model and options give the same bytes. The build is the cost:
 * the 174,334 artists with at least 3 listeners of the 292K-artist model took 51 s on one core.
 *
 * @throws {AlsError} 'usage' naming a bad option
 */
export function buildItemIndex(
  model: AlsModel,
  options: ItemIndexOptions = {},
): { data: Uint8Array; entry: ItemIndexEntry } {
  checkModel('model', model);
  const {
    minItemUsers = DEFAULT_MIN_ITEM_USERS,
    m = DEFAULT_M,
    efConstruction = DEFAULT_EF_CONSTRUCTION,
    seed = 1,
    onProgress,
  } = checkOptions('options', options);
  checkMinListeners(minItemUsers);
  const { itemFactors, factors } = model;
  const candidates = candidateRows(model.itemUserCounts, minItemUsers);
  const vectors = unitRows(itemFactors, factors, candidates);
  const index = buildHnsw(vectors, candidates.count, factors, { m, efConstruction, seed, onProgress });
  const factorsSha = sha256(itemFactors);
  return {
    data: writeHnsw(index, factorsSha),
    entry: {
      similarity: 'cosine',
      minItemUsers,
      rows: candidates.count,
      rowsSha256: hex(sha256(candidates.rows)),
      itemFactorsSha256: hex(factorsSha),
      m,
      efConstruction,
      seed,
    },
  };
}

/** the state of each loaded model's index, judged once */
const states = new WeakMap<AlsModel, ItemIndexState>();

/**
 * The index stored with the version `model` was loaded from (loadModel), read, checked and judged
 * once: 'fresh' when it was built from this version's item factors (model.json's entry and the
 * file's header both name their SHA-256) over the items that still have at least its
 * minItemUsers users; 'stale' with the reason otherwise; 'none' when the version has none (or the
 * model was not loaded from a directory).
 *
 * @throws {AlsError} 'model' naming item_index.hnsw when the file is missing, not a regular file,
 *   of another size, fails model.json's sha256 or its own checksum, or disagrees with model.json
 */
export function openItemIndex(model: AlsModel): ItemIndexState {
  checkModel('model', model);
  const known = states.get(model);
  if (known !== undefined) return known;
  const state = judge(model);
  states.set(model, state);
  return state;
}

function judge(model: AlsModel): ItemIndexState {
  const file = readItemIndexFile(model);
  if (file === null) return { kind: 'none' };
  const { entry, dir } = file;
  const index = readHnsw(file.bytes, `${dir}: ${ITEM_INDEX}`);
  if (index.rows !== entry.rows || index.dim !== model.factors)
    throw corruptModel(
      dir,
      `${ITEM_INDEX} holds ${index.rows} rows of ${index.dim}, but model.json gives ${entry.rows} rows of ${model.factors}`,
    );
  const source = hex(hnswSource(file.bytes));
  if (entry.itemFactorsSha256 !== file.itemFactorsSha256 || source !== file.itemFactorsSha256)
    return {
      kind: 'stale',
      reason: `it was built from other item factors than this model's ${FILES.itemFactors}`,
    };
  const candidates = candidateRows(model.itemUserCounts, entry.minItemUsers);
  if (!covers(entry, candidates))
    return {
      kind: 'stale',
      reason: `the items with at least ${entry.minItemUsers} users are no longer the ${entry.rows} it covers`,
    };
  const vectors = unitRows(model.itemFactors, model.factors, candidates);
  return { kind: 'fresh', search: { index, vectors, candidates, minItemUsers: entry.minItemUsers } };
}

/**
 * The index of `previous` carried over to `next` (a model made from it, such as an update's):
 * the same bytes and entry when next has the same item factors and the same items above the
 * index's minimum; else null (the index would be stale, or is corrupt). Reads previous's index
 * file (checked).
 */
export function carryItemIndex(previous: AlsModel, next: AlsModel): { data: Uint8Array; entry: ItemIndexEntry } | null {
  try {
    const file = readItemIndexFile(previous);
    if (file === null || openItemIndex(previous).kind !== 'fresh') return null;
    return indexFits(file.entry, next) ? { data: file.bytes, entry: file.entry } : null;
  } catch (error) {
    // a corrupt index is not carried over: the save drops it, as a stale one
    if (error instanceof AlsError && error.code === 'model') return null;
    throw error;
  }
}

/** Whether an index of this entry fits `model`: built from its item factors, over its items with at least entry.minItemUsers users. */
export function indexFits(entry: ItemIndexEntry, model: AlsModel): boolean {
  if (hex(sha256(model.itemFactors)) !== entry.itemFactorsSha256) return false;
  return covers(entry, candidateRows(model.itemUserCounts, entry.minItemUsers));
}

/** Whether `candidates` are the rows the index of this entry covers. */
function covers(entry: ItemIndexEntry, candidates: CandidateRows): boolean {
  return candidates.count === entry.rows && hex(sha256(candidates.rows)) === entry.rowsSha256;
}

/** Checks `search` is an ItemIndexSearch of openItemIndex for this model. */
export function checkItemIndexSearch(model: AlsModel, search: unknown): ItemIndexSearch {
  const state = states.get(model);
  if (state?.kind !== 'fresh' || state.search !== search)
    throw new AlsError('usage', 'itemIndex must be the search openItemIndex gave for this model');
  return search as ItemIndexSearch;
}
