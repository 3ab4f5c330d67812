import { closeModel, loadModel } from '../model/load.js';
import type { AlsModel } from '../model/model.js';

/**
 * Runs `use` on the model in `dir` and closes it after: a loaded model keeps the files of parts
 * it has not read open, and main() may run many commands in one process (tests, embedding).
 */
export async function withModel<T>(dir: string, use: (model: AlsModel) => T | Promise<T>): Promise<T> {
  const model = loadModel(dir);
  try {
    return await use(model);
  } finally {
    closeModel(model);
  }
}
