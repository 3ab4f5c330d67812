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

export interface FileEntry {
  /** dimensions, outermost first (JSON files: the array length) */
  shape: number[];
  dtype: 'float32' | 'int32' | 'json';
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
  files: Record<string, FileEntry>;
}
