import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createWasmKernelsSync, jsKernels } from '../../src/kernels/index.js';
import { seededRandom } from '../../src/als/random.js';

// A long job queries model after model with one Kernels instance (als tune scores ~100 trained
// models; the library's evaluate in a loop uses the process's query kernels). The kernels copy
// each model's factors into their memory on first use; those copies must give their memory back,
// or the job grows to WebAssembly's 4 GiB limit and dies (it did: "Maximum memory size exceeded"
// in the 13th als tune of one process).

const ITEMS = 8192;
const F = 64;
const BYTES = ITEMS * F * 4; // 2 MiB a model

function model(seed: number): Float32Array {
  const random = seededRandom(seed);
  const y = new Float32Array(ITEMS * F);
  for (let n = 0; n < y.length; n++) y[n] = random() - 0.5;
  return y;
}

describe('kernel memory over many models', () => {
  it('stays bounded when one instance scores 48 models, and every score is right', () => {
    const kernels = createWasmKernelsSync();
    const extent = () => (kernels as unknown as { memoryExtent: number }).memoryExtent;
    const x = model(999).subarray(0, F);
    const out = new Float32Array(ITEMS);
    const expected = new Float32Array(ITEMS);
    // an array the caller owns in kernel memory: never given back nor overwritten
    const kept = kernels.float32(1000).fill(7);
    let before = 0;
    for (let m = 0; m < 48; m++) {
      const y = model(m);
      kernels.scores(y, ITEMS, F, x, 0, out);
      jsKernels.scores(y, ITEMS, F, x, 0, expected);
      for (let i = 0; i < ITEMS; i += 97) assert.ok(Math.abs(out[i] - expected[i]) < 1e-4, `model ${m} item ${i}`);
      if (m === 8) before = extent();
    }
    // 48 models without giving back would be 96 MiB; at most 8 copies are kept
    assert.ok(extent() <= before + BYTES, `${extent()} bytes after 48 models, ${before} after 9`);
    assert.ok(extent() < 12 * BYTES, `${extent()} bytes`);
    assert.ok(
      kept.every((v) => v === 7),
      'an array the caller made is untouched',
    );
    // memory given back comes out zeroed to a caller
    const fresh = kernels.float32(ITEMS * F);
    assert.ok(
      fresh.every((v) => v === 0),
      'a new array is zero',
    );
    kernels.dispose();
  });

  it('copies a model again, right, after its copy was given back to others', () => {
    const kernels = createWasmKernelsSync();
    const first = model(1);
    const x = model(2).subarray(0, F);
    const out = new Float32Array(ITEMS);
    const expected = new Float32Array(ITEMS);
    jsKernels.scores(first, ITEMS, F, x, 0, expected);
    kernels.scores(first, ITEMS, F, x, 0, out);
    const others = Array.from({ length: 12 }, (_, m) => model(100 + m));
    for (const y of others) kernels.scores(y, ITEMS, F, x, 0, out); // pushes the first copy out
    kernels.scores(first, ITEMS, F, x, 0, out);
    for (let i = 0; i < ITEMS; i++) assert.ok(Math.abs(out[i] - expected[i]) < 1e-4, `item ${i}`);
    // an array first used in part, then whole: its copy is made again in full
    const second = model(3);
    jsKernels.scores(second, ITEMS, F, x, 0, expected);
    kernels.scores(second, ITEMS / 2, F, x, 0, out);
    kernels.scores(second, ITEMS, F, x, 0, out);
    for (let i = 0; i < ITEMS; i++) assert.ok(Math.abs(out[i] - expected[i]) < 1e-4, `item ${i} of the second`);
    kernels.dispose();
  });
});
