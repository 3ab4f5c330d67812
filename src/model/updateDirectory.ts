import { updateModel, type UpdateResult } from '../als/update.js';
import type { Interactions } from '../data/read.js';
import { AlsError } from '../errors.js';
import { readTimings } from './files.js';
import { killPoint } from './killPoint.js';
import { loadModel } from './load.js';
import { lockModel, type LockOptions } from './lock.js';
import type { AlsModel } from './model.js';
import { saveModel, type SavedModel } from './save.js';
import { carryItemIndex } from '../query/itemIndex.js';

/** What updateModelDirectory did. */
export interface DirectoryUpdate extends UpdateResult {
  /** the interactions read (by `read`) */
  data: Interactions;
  /** seconds the update's solve took */
  solveSeconds: number;
  /**
   * what was written; null when nothing changed and the directory was left as it was. Its
   * itemIndex says whether the model's item index was kept ('saved') or 'dropped' (stale)
   */
  saved: SavedModel | null;
}

/**
 * Applies new interactions to the model in `dir` as one read–modify–write under the model's
 * lock: the lock is taken before the model is loaded and released after the new one is saved,
 * so that two updates of one directory (in two processes or in one) are both applied, the second
 * to the first one's result (issue 9). `read` gets the loaded model (to read the new rows in its
 * format, say) and returns them. timings.json keeps the model's phases and gains `update`.
 *
 * @throws {AlsError} as lockModel, loadModel, `read`, updateModel and saveModel do; the
 *   directory is left as it was on any failure
 */
export async function updateModelDirectory(
  dir: string,
  read: (model: AlsModel) => Interactions | Promise<Interactions>,
  options: LockOptions = {},
): Promise<DirectoryUpdate> {
  if (typeof read !== 'function')
    throw new AlsError('usage', 'read must be a function that returns the new interactions');
  const lock = await lockModel(dir, options);
  try {
    const model = loadModel(dir);
    killPoint('update-loaded');
    const data = await read(model);
    const started = performance.now();
    const result = updateModel(model, data);
    const solveSeconds = (performance.now() - started) / 1000;
    // the index stays when the update left what it covers as it was (an update keeps the item
    // factors, but new users can bring items over the index's minimum); else the save drops it
    const itemIndex = result.unchanged ? null : carryItemIndex(model, result.model);
    const saved = result.unchanged
      ? null
      : await saveModel(
          result.model,
          dir,
          { ...readTimings(model), update: solveSeconds },
          { lock, ...(itemIndex ? { itemIndex } : {}) },
        );
    return { ...result, data, solveSeconds, saved };
  } finally {
    lock.release();
  }
}
