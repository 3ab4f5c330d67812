import { AlsError } from '../errors.js';
import { DEFAULT_EF_CONSTRUCTION, DEFAULT_M } from '../query/hnsw.js';
import { buildItemIndex, indexFits, openItemIndex, type ItemIndexOptions } from '../query/itemIndex.js';
import { DEFAULT_MIN_ITEM_USERS } from '../query/listeners.js';
import { readTimings } from './files.js';
import type { ItemIndexEntry } from './format.js';
import { closeModel, loadModel, readItemIndexFile } from './load.js';
import type { AlsModel } from './model.js';
import { lockModel, type LockOptions } from './lock.js';
import { saveModel, type SavedModel } from './save.js';

/** What indexModelDirectory did. */
export interface DirectoryIndex {
  entry: ItemIndexEntry;
  /** items of the model (entry.rows of them indexed) */
  items: number;
  /** bytes of item_index.hnsw */
  bytes: number;
  /** seconds the build took (0 when nothing was built) */
  buildSeconds: number;
  /** what was written; null when the model already had this index, fresh, and was left as it was */
  saved: SavedModel | null;
}

/**
 * Builds the item index (buildItemIndex) of the model in `dir` and saves it with the model as a
 * new version (saveModel: atomic, under the model's lock; the version read is never changed).
 * The build, which takes minutes on a large model, runs without the lock, so that updates are not
 * held up; the lock is then taken, and the model is saved with the index only if its item
 * factors and indexed items are still those the index was built from. A model that already has
 * a fresh index of the same options is left as it was (a damaged or stale one is replaced).
 *
 * @throws {AlsError} 'model' as loadModel and saveModel do, and when the model was replaced by
 *   one with other item factors or items during the build (the directory is left as it was);
 *   'usage' for a bad option
 */
export async function indexModelDirectory(
  dir: string,
  options: ItemIndexOptions & LockOptions = {},
): Promise<DirectoryIndex> {
  const { lockTimeoutMs, onLockWait, ...build } = options;
  const model = loadModel(dir);
  const kept = freshIndex(model, build);
  if (kept !== null) {
    closeModel(model);
    return { entry: kept.entry, items: model.items, bytes: kept.bytes, buildSeconds: 0, saved: null };
  }
  let built;
  const started = performance.now();
  try {
    built = buildItemIndex(model, build);
  } finally {
    closeModel(model);
  }
  const buildSeconds = (performance.now() - started) / 1000;
  const lock = await lockModel(dir, { lockTimeoutMs, onLockWait });
  try {
    const current = loadModel(dir);
    if (!indexFits(built.entry, current))
      throw new AlsError(
        'model',
        `${dir}: the model was replaced by one with other item factors or items while its index was built; build it again`,
      );
    const saved = await saveModel(
      current,
      dir,
      { ...readTimings(current), index: buildSeconds },
      { lock, itemIndex: built },
    );
    return { entry: built.entry, items: current.items, bytes: built.data.length, buildSeconds, saved };
  } finally {
    lock.release();
  }
}

/** The model's own index when it is fresh and was built with these options (a damaged one: null). */
function freshIndex(model: AlsModel, options: ItemIndexOptions): { entry: ItemIndexEntry; bytes: number } | null {
  let file;
  try {
    if (openItemIndex(model).kind !== 'fresh') return null;
    file = readItemIndexFile(model);
  } catch (error) {
    if (error instanceof AlsError && error.code === 'model') return null;
    throw error;
  }
  if (file === null) return null;
  const { entry } = file;
  const wanted = {
    minItemUsers: options.minItemUsers ?? DEFAULT_MIN_ITEM_USERS,
    m: options.m ?? DEFAULT_M,
    efConstruction: options.efConstruction ?? DEFAULT_EF_CONSTRUCTION,
    seed: options.seed ?? 1,
  };
  const same = (Object.keys(wanted) as (keyof typeof wanted)[]).every((key) => entry[key] === wanted[key]);
  return same ? { entry, bytes: file.bytes.length } : null;
}
