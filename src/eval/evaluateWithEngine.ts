import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveTrainOptions } from '../als/options.js';
import type { Interactions } from '../data/read.js';
import type { EngineCallbacks, TrainingEngine } from '../engines/engine.js';
import { AlsError } from '../errors.js';
import { checkInteractions, checkOptions, checkWhole } from '../validate.js';
import { DEFAULT_EVAL_K, scoreSplit, type EvaluateOptions, type Evaluation } from './evaluate.js';
import { DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION, splitByUser } from './split.js';
import { SPLIT_FILES, writeSplit } from './writeSplit.js';

/**
 * `evaluate` with another training engine: the same split (splitByUser with the same fraction and
 * seed), whose train part is written as a triples file into a private temporary directory
 * (mkdtemp) for the engine to read, as a user would give it `als evaluate --write-split`'s
 * train.tsv; the engine's factors are put back in the split's row order by user id and item name
 * (a row the engine never saw keeps zero factors) and scored as evaluate scores its own.
 * The directory is removed afterwards.
 */
export async function evaluateWithEngine(
  data: Interactions,
  engine: TrainingEngine,
  options: EvaluateOptions = {},
  callbacks: EngineCallbacks = {},
): Promise<Evaluation> {
  checkInteractions('data', data);
  options = checkOptions('options', options);
  const k = checkWhole('k', options.k ?? DEFAULT_EVAL_K, 1);
  const trainOptions = resolveTrainOptions(checkOptions('trainOptions', options.trainOptions));
  const splitOptions = {
    testFraction: options.testFraction ?? DEFAULT_TEST_FRACTION,
    seed: options.seed ?? DEFAULT_SPLIT_SEED,
  };
  const split = splitByUser(data.userItems, splitOptions);
  if (split.testUsers.length === 0)
    throw new AlsError('input', 'no user has enough interactions (at least 5) to hold some out');
  const dir = await fs.mkdtemp(join(tmpdir(), 'als-split-'));
  try {
    await writeSplit(data, dir, splitOptions);
    const started = performance.now();
    const { model } = await engine.train(
      { file: join(dir, SPLIT_FILES.train), format: 'triples' },
      trainOptions,
      callbacks,
    );
    const trainSeconds = (performance.now() - started) / 1000;
    const f = trainOptions.factors;
    const place = (names: string[], from: string[], factors: Float32Array, rows: number) => {
      const index = new Map(names.map((name, n) => [name, n]));
      const out = new Float32Array(rows * f);
      from.forEach((name, row) => {
        const n = index.get(name);
        if (n !== undefined) out.set(factors.subarray(row * f, (row + 1) * f), n * f);
      });
      return out;
    };
    const userFactors = place(data.userIds, model.userIds, model.userFactors, data.userItems.rows);
    const itemFactors = place(data.itemNames, model.itemNames, model.itemFactors, data.userItems.cols);
    const scored = scoreSplit(split, { userFactors, itemFactors }, { k, factors: f, kernels: options.kernels });
    return {
      ...scored,
      trainSeconds,
      users: split.testUsers.length,
      trainInteractions: split.train.indptr[split.train.rows],
      testInteractions: split.test.indptr[split.test.rows],
      options: trainOptions,
    };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
