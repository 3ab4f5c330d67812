import { train } from '../als/train.js';
import { readInteractions } from '../data/read.js';
import type { TrainingEngine } from './engine.js';

/** The built-in engine: readInteractions, then ALS with the project's kernels in this process. */
export const builtinEngine: TrainingEngine = {
  name: 'builtin',
  async train(input, options, callbacks = {}) {
    const data = await readInteractions(input.file, { format: input.format, strict: input.strict });
    const model = await train(data, options, callbacks);
    const { seconds, ...rest } = model;
    return {
      model: rest,
      stats: data.stats,
      seconds: { read: data.stats.seconds, train: seconds, total: data.stats.seconds + seconds },
    };
  },
};
