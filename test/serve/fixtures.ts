import { join } from 'node:path';
import { train } from '../../src/als/train.js';
import { readInteractions } from '../../src/data/read.js';
import { loadModel } from '../../src/model/load.js';
import type { AlsModel } from '../../src/model/model.js';
import { saveModel } from '../../src/model/save.js';
import { SAMPLE, tempDir } from '../helpers.js';

let saved: Promise<string> | null = null;

/** A model of the Last.fm sample (32 factors, seeded), saved once per test process; its directory. */
export function sampleModelDir(): Promise<string> {
  saved ??= (async () => {
    const data = await readInteractions(SAMPLE);
    const model = await train(data, { factors: 32, iterations: 8, seed: 1 });
    const dir = join(tempDir('als-serve-'), 'model');
    await saveModel(model, dir);
    return dir;
  })();
  return saved;
}

/** The sample model loaded from its directory (a fresh load each call). */
export async function sampleModel(): Promise<AlsModel> {
  return loadModel(await sampleModelDir());
}
