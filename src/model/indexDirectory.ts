import { AlsError } from '../errors.js';
import { buildItemIndex, indexFits, type ItemIndexOptions } from '../query/itemIndex.js';
import { readTimings } from './files.js';
import type { ItemIndexEntry } from './format.js';
import { closeModel, loadModel } from './load.js';
import { lockModel, type LockOptions } from './lock.js';
import { saveModel, type SavedModel } from './save.js';

/** What indexModelDirectory did. */
export interface DirectoryIndex {
  entry: ItemIndexEntry;
  /** items of the model (entry.rows of them indexed) */
  items: number;
  /** bytes of item_index.hnsw */
  bytes: number;
  /** seconds the build took */
  buildSeconds: number;
  saved: SavedModel;
}

/**
 * Builds the item index (buildItemIndex) of the model in `dir` and saves it with the model as a
 * new version (saveModel: atomic, under the model's lock; the version read is never changed).
 * The build, which takes minutes on a large model, runs without the lock, so that updates are not
 * held up; the lock is then taken, and the model is saved with the index only if its item
 * factors and indexed items are still those the index was built from.
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
