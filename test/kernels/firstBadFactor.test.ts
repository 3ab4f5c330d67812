import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createWasmKernels, jsKernels, kernelBuildAvailable } from '../../src/kernels/index.js';
import { firstBadFactor, MAX_FACTOR } from '../../src/validate.js';
import { seededRandom } from '../../src/als/random.js';

const builds = kernelBuildAvailable('fma') ? (['fma', 'simd128'] as const) : (['simd128'] as const);
const kernels = await Promise.all(builds.map((build) => createWasmKernels(1, { build })));
const threaded = await Promise.all(builds.map((build) => createWasmKernels(2, { build })));
after(() => [...kernels, ...threaded].forEach((k) => k.dispose()));

/** float32 values on either side of the rule: the last good one and the first bad of each kind */
const EDGES = {
  good: [0, -0, 1e-45, -1e-45, Math.fround(MAX_FACTOR), -Math.fround(MAX_FACTOR), 123.5],
  bad: [Number.NaN, Infinity, -Infinity, 1.0000001e15 * 1.01, -1.01e15, 3e38, -3e38],
};

describe('kernels.firstBadFactor: the first factor that cannot be scored', () => {
  it('finds what validate.ts finds, at every position of arrays of 0 to 70 floats, in and out of kernel memory', () => {
    const random = seededRandom(5);
    for (let length = 0; length <= 70; length++) {
      const cases: Float32Array[] = [];
      const clean = Float32Array.from({ length }, () => (random() - 0.5) * 10);
      cases.push(clean);
      for (const good of EDGES.good) {
        const withGood = clean.slice();
        if (length > 0) withGood[Math.floor(random() * length)] = good;
        cases.push(withGood);
      }
      for (let at = 0; at < length; at++) {
        const bad = EDGES.bad[at % EDGES.bad.length];
        const one = clean.slice();
        one[at] = bad;
        cases.push(one);
        // a second bad value later: the first one is named
        if (at + 3 < length) {
          const two = one.slice();
          two[at + 3] = EDGES.bad[(at + 1) % EDGES.bad.length];
          cases.push(two);
        }
      }
      for (const values of cases) {
        const expected = firstBadFactor(values);
        assert.equal(jsKernels.firstBadFactor(values), expected);
        kernels.forEach((k, i) => {
          assert.equal(k.firstBadFactor(values), expected, `${builds[i]}, outside kernel memory, length ${length}`);
          const inside = k.float32(values.length);
          inside.set(values);
          assert.equal(k.firstBadFactor(inside), expected, `${builds[i]}, in kernel memory, length ${length}`);
        });
      }
    }
  });

  it('treats exactly ±MAX_FACTOR (as float32) as good and the next float32 up as bad', () => {
    const limit = Math.fround(MAX_FACTOR);
    const above = new Float32Array([limit]);
    new Uint32Array(above.buffer)[0]++;
    for (const k of [jsKernels, ...kernels]) {
      const inside = k.float32(33);
      inside.fill(limit);
      assert.equal(k.firstBadFactor(inside), limit > MAX_FACTOR ? 0 : -1);
      inside[32] = -above[0];
      assert.equal(k.firstBadFactor(inside), limit > MAX_FACTOR ? 0 : 32);
    }
  });

  it('scans arrays of several chunks on every thread and names the first bad factor of all', () => {
    // 2^20 floats a chunk: bad values near chunk edges, in one chunk or in several
    const length = 3 * 2 ** 20 + 5;
    const places = [[], [0], [2 ** 20 - 1], [2 ** 20], [2 ** 20 + 7, 2 * 2 ** 20 + 1], [length - 1], [5, length - 1]];
    for (const k of [...kernels, ...threaded]) {
      const inside = k.float32(length);
      for (const at of places) {
        inside.fill(0.5);
        for (const n of at) inside[n] = Number.NaN;
        assert.equal(k.firstBadFactor(inside), at.length > 0 ? at[0] : -1, `bad at ${at.join(', ')}`);
      }
    }
  });
});
