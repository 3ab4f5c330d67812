import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createWasmKernels, jsKernels, kernelBuildAvailable, type Kernels } from '../../src/kernels/index.js';
import { randomFactors, seededRandom } from '../../src/als/random.js';

const builds = kernelBuildAvailable('fma') ? (['fma', 'simd128'] as const) : (['simd128'] as const);
const wasm: [string, Kernels][] = [];
for (const build of builds)
  for (const threads of [1, 2]) wasm.push([`${build}/${threads}`, await createWasmKernels(threads, { build })]);
after(() => wasm.forEach(([, k]) => k.dispose()));

/** What training did before uniformFill: randomFactors from seededRandom(seed), `skip` draws made first. */
function drawn(length: number, seed: number, skip: number, scale: number): Float32Array {
  const random = seededRandom(seed);
  for (let n = 0; n < skip; n++) random();
  return randomFactors(1, length, random, scale);
}

describe("kernels.uniformFill: training's first factors", () => {
  it('gives the draws of seededRandom, number for number: lengths 0 to 37 and past a chunk, any skip and seed, in and out of kernel memory', () => {
    const cases: [number, number, number, number][] = [];
    for (let length = 0; length <= 37; length++) cases.push([length, 1, length % 5, 0.01]);
    cases.push([262144 * 2 + 13, 7, 1000, 0.01], [1001, 0, 0, 1], [64, 4294967295, 12345, 0.5]);
    for (const [length, seed, skip, scale] of cases) {
      const want = drawn(length, seed, skip, scale);
      const reference = new Float32Array(length);
      jsKernels.uniformFill(reference, seed, skip, scale);
      assert.deepEqual(reference, want, `js, length ${length}, seed ${seed}, skip ${skip}`);
      for (const [name, kernels] of wasm) {
        const resident = kernels.float32(length);
        kernels.uniformFill(resident, seed, skip, scale);
        assert.deepEqual(resident, want, `${name}, length ${length}, seed ${seed}, skip ${skip}`);
        const outside = new Float32Array(length);
        kernels.uniformFill(outside, seed, skip, scale);
        assert.deepEqual(outside, want, `${name} outside kernel memory, length ${length}`);
      }
    }
  });

  it('takes skips beyond 2³¹ draws (the items after a large user side) as the generator would reach them', () => {
    const skip = 2 ** 31 + 77;
    const reference = new Float32Array(40);
    jsKernels.uniformFill(reference, 3, skip, 0.01);
    for (const [name, kernels] of wasm) {
      const out = kernels.float32(40);
      kernels.uniformFill(out, 3, skip, 0.01);
      assert.deepEqual(out, reference, name);
    }
    // and the first of them is what seededRandom's closure reaches after 2³¹ + 77 draws: its state then
    const state = (3 + Math.imul(skip + 1, 0x6d2b79f5)) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    assert.equal(reference[0], Math.fround((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 0.01));
  });
});
