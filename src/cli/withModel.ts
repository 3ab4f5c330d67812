import { closeModel, loadModel, type LoadOptions } from '../model/load.js';
import type { AlsModel } from '../model/model.js';
import { defaultQueryKernels } from '../kernels/index.js';

/**
 * Runs `use` on the model in `dir` and closes it after: a loaded model keeps the files of parts
 * it has not read open, and main() may run many commands in one process (tests, embedding).
 */
export async function withModel<T>(
  dir: string,
  use: (model: AlsModel) => T | Promise<T>,
  options: LoadOptions = {},
): Promise<T> {
  const model = loadModel(dir, options);
  try {
    return await use(model);
  } finally {
    closeModel(model);
  }
}

/** How a command that answers one query loads: its factors straight into the query kernels' memory. */
export function oneQuery(): LoadOptions {
  return { factorMemory: defaultQueryKernels() };
}
