import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { evaluate, recommendItems, similarItems, train, writeAllSimilar, type AlsModel, type Interactions } from 'als';
import { resolveTrainOptions, topK, trainFactors } from 'als/advanced';
import { estimateTrainingMemory, trainingThreads, WASM_MEMORY_BYTES } from '../../src/als/resources.js';
import type { CsrMatrix } from '../../src/data/sparse.js';
import { ALS_BIN, plantedGroups, tempDir, isUsage } from '../helpers.js';

/**
 * Issue 9, class 6: limits that match the data. Threads are capped at what helps, shapes whose
 * memory is out of reach are refused before anything is allocated, and query lengths are clamped
 * to the items there are.
 */

/** `rows` users × `cols` items with one entry: the shape without the data. */
function shape(rows: number, cols: number): CsrMatrix {
  const indptr = new Int32Array(rows + 1);
  indptr.fill(1, 1);
  return { rows, cols, indptr, indices: Int32Array.of(0), data: Float32Array.of(1) };
}

describe('issue 9 class 6: threads that help', () => {
  it('the thread count is at most the CPUs and one per 4096 rows of the larger side (issue 9 class 6)', () => {
    // --threads 1000 on the 1,892 × 17,620 sample took 34 s and 8.5 GB before
    assert.equal(trainingThreads(1000, { rows: 1892, cols: 17620 }), Math.min(availableParallelism(), 5));
    assert.equal(trainingThreads(512, { rows: 2, cols: 3 }), 1);
    assert.equal(trainingThreads(1, { rows: 1e6, cols: 1e6 }), 1);
    assert.equal(trainingThreads(1024, { rows: 1e7, cols: 10 }), Math.min(availableParallelism(), 1024));
  });

  it('cli: --threads 512 --factors 1024 on a 4-row file trains instead of dying with an internal error (issue 9 class 6)', () => {
    const dir = tempDir('als-limits-');
    const input = join(dir, 'four.tsv');
    writeFileSync(input, 'u1\ta\t1\nu1\tb\t2\nu2\ta\t3\nu2\tc\t1\n');
    const run = spawnSync(
      process.execPath,
      [
        ALS_BIN,
        'train',
        input,
        '-f',
        'triples',
        '-m',
        join(dir, 'model'),
        '-q',
        '--threads',
        '512',
        '--factors',
        '1024',
        '--iterations',
        '2',
      ],
      {
        encoding: 'utf8',
      },
    );
    // before: "internal error: Invalid typed array length" after 4.4 GB, exit 1
    assert.equal(run.status, 0, run.stderr);
  });
});

describe('issue 9 class 6: memory out of reach is refused before allocating', () => {
  it('3 million users × 1024 factors needs more than the 4 GiB WebAssembly memory: refused, naming factors (issue 9 class 6)', async () => {
    const plays = shape(3_000_000, 10);
    assert.ok(estimateTrainingMemory(plays, { factors: 1024, solver: 'cg' }, 1).kernel > WASM_MEMORY_BYTES);
    await assert.rejects(
      trainFactors(plays, resolveTrainOptions({ factors: 1024, threads: 1 })),
      isUsage(
        /^training 3000000 users × 10 items with 1024 factors \(cg, 1 thread\) needs about \d+\.\d GiB \(factors 11\.4 GiB, .*more than the 4\.0 GiB a WebAssembly memory can hold; lower factors \(now 1024\)$/,
      ),
    );
  });

  it('the estimate counts both sides, the matrix and the scratch, and fits the shapes that train (issue 9 class 6)', () => {
    const sample = estimateTrainingMemory(shape(1892, 17620), { factors: 64, solver: 'cg' }, 2);
    assert.equal(sample.factors, (1892 + 17620) * 64 * 4);
    assert.ok(sample.kernel < 64 * 2 ** 20, `${sample.kernel} bytes`);
    const naive = estimateTrainingMemory(shape(4, 3), { factors: 1024, solver: 'naive' }, 512);
    // 512 threads × (f² float32 + f² float64) of scratch: more than 4 GiB, the 4-row file's old crash
    assert.ok(naive.kernel > WASM_MEMORY_BYTES);
  });
});

describe('issue 9 class 6: query lengths are clamped to the items', () => {
  let data: Interactions;
  let model: AlsModel;
  before(async () => {
    data = plantedGroups(40, 5);
    model = await train(data, { factors: 4, iterations: 4, threads: 1 });
  });

  it('similarItems and recommendItems with a count of 1e9 list every candidate, no more (issue 9 class 6)', () => {
    // before: "internal error" (a 4 GB top-k buffer)
    const similar = similarItems(model, model.itemNames[0], { count: 1e9, minItemUsers: 1 });
    assert.equal(similar.similar.length, model.items - 1);
    const { recommendations } = recommendItems(model, model.userIds[0], { count: 1e9 });
    const played = model.userItems.indptr[1] - model.userItems.indptr[0];
    assert.equal(recommendations.length, model.items - played);
    assert.equal(topK(Float32Array.of(3, 1, 2), 1e9).join(), '0,2,1');
  });

  it('writeAllSimilar with a count of 1e9 writes every candidate of every item (issue 9 class 6)', async () => {
    const path = join(tempDir('als-limits-'), 'similar.tsv');
    const summary = await writeAllSimilar(model, path, { count: 1e9, minItemUsers: 1 });
    assert.equal(summary.lines, model.items * (model.items - 1));
  });

  it('evaluate with k = 1e9 scores lists of every candidate (issue 9 class 6)', async () => {
    const evaluation = await evaluate(data, { k: 1e9, trainOptions: { factors: 4, iterations: 2, threads: 1 } });
    assert.equal(evaluation.model.k, 1e9);
    assert.equal(evaluation.model.coverage, 1, 'every item is on some list');
    assert.ok(evaluation.model.recall === 1, 'with every candidate listed, every held-out item is found');
  });
});
