/**
 * The model directory, version 2:
 *   model.json              this description: shapes, options, input, checksums
 *   user_factors.f32        users × factors, float32 little-endian, row-major
 *   item_factors.f32        items × factors, float32 little-endian, row-major
 *   user_items.indptr.i32   users + 1 row offsets into the two files below, int32 little-endian
 *   user_items.indices.i32  item index of each stored play count, int32 little-endian
 *   user_items.plays.f32    the play counts, float32 little-endian
 *   user_ids.json           JSON array of user ids, in row order
 *   item_names.json         JSON array of item names, in row order
 *   item_listeners.i32      distinct users of each item, int32 little-endian (version 2)
 *   timings.json            seconds per phase (not checksummed; differs between runs)
 *   item_index.hnsw         optional (`als index`): an HNSW index of the unit item rows, described
 *                           by model.json's itemIndex (ItemIndexEntry)
 */
export const FORMAT_NAME = 'als-model';
export const FORMAT_VERSION = 2;

export const MANIFEST = 'model.json';
export const TIMINGS = 'timings.json';

export const FILES = {
  userFactors: 'user_factors.f32',
  itemFactors: 'item_factors.f32',
  indptr: 'user_items.indptr.i32',
  indices: 'user_items.indices.i32',
  plays: 'user_items.plays.f32',
  userIds: 'user_ids.json',
  itemNames: 'item_names.json',
  itemUserCounts: 'item_listeners.i32',
} as const;

export type FileKey = keyof typeof FILES;

/** The optional approximate nearest-neighbour index of the item rows (src/query/itemIndex.ts). */
export const ITEM_INDEX = 'item_index.hnsw';

/**
 * model.json's `itemIndex`: what item_index.hnsw covers and what it was built from. The index is
 * fresh for a version when itemFactorsSha256 is that version's item_factors.f32 checksum (the
 * file's own header holds it too) and the items with at least minItemUsers users are still the
 * rows whose list hashes to rowsSha256; anything else makes it stale, and queries search exactly.
 */
export interface ItemIndexEntry {
  /** the similarity searched: the inner product of unit item rows */
  similarity: 'cosine';
  /** the rows indexed are the items with at least this many users (candidateRows), in row order */
  minItemUsers: number;
  /** how many rows that is */
  rows: number;
  /** SHA-256 of those item rows as int32 little-endian */
  rowsSha256: string;
  /** SHA-256 of the item_factors.f32 the index was built from */
  itemFactorsSha256: string;
  m: number;
  efConstruction: number;
  seed: number;
}

export interface FileEntry {
  /** dimensions, outermost first (JSON files: the array length) */
  shape: number[];
  dtype: 'float32' | 'int32' | 'json' | 'hnsw';
  bytes: number;
  sha256: string;
}

export interface Manifest {
  format: string;
  version: number;
  byteOrder: 'little-endian';
  users: number;
  items: number;
  factors: number;
  interactions: number;
  options: Record<string, unknown>;
  input: Record<string, unknown> | null;
  /**
   * defaults: the rule that chose the settings not given; engine: the engine that trained the model
   * when it was not the built-in one (AlsModel.trainedBy)
   */
  training: { losses: number[] | null; defaults?: Record<string, unknown>; engine?: Record<string, unknown> };
  /** `als update`s applied since training (present only after one) */
  updates?: Record<string, unknown>[];
  /** where an imported model came from (present only for one: `als import`) */
  imported?: Record<string, unknown>;
  /** the approximate index of the item rows (present only when `als index` built one for this version) */
  itemIndex?: ItemIndexEntry;
  files: Record<string, FileEntry>;
}
