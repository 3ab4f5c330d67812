import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernelBuildAvailable, kernelModule } from '../../src/kernels/wasm.js';
import type { KernelExports } from '../../src/kernels/pool.js';
import { codeStride, quantizeQueries, quantizeRows, type QuantizedRows } from '../../src/kernels/quantize.js';
import { createWasmKernels } from '../../src/kernels/index.js';
import { randomMatrix } from '../helpers.js';

// The groups of cosineBlock code their own queries on the workers (quantizeQueryRows): the
// codes, scales and bounds must be quantizeQueries', the reference that the bound's proof
// (quantize.ts) and the test of that bound read.

const PAGE = 65536;

describe('quantizeQueryRows: quantizeQueries in WebAssembly', () => {
  for (const build of (['fma', 'simd128'] as const).filter((b) => kernelBuildAvailable(b))) {
    for (const f of [1, 3, 16, 64, 70]) {
      it(`${build}, f = ${f}: the same codes, scales and bounds, zero and out-of-range norms included`, () => {
        const queries = 40;
        const Q = randomMatrix(queries, f, 20 + f);
        // a zero query, tiny and huge ones (outside [2⁻³⁰, 2³⁰]: scored exactly), a coarse one
        Q.fill(0, 0, f);
        for (let a = 0; a < f; a++) {
          Q[f + a] *= 1e-12;
          Q[2 * f + a] *= 1e12;
          Q[3 * f + a] = Math.round(Q[3 * f + a] * 2) / 2;
          Q[4 * f + a] = 1e-8 * (a + 1);
        }
        const queryNorms = Float32Array.from({ length: queries }, (_, q) =>
          Math.fround(Math.hypot(...Q.subarray(q * f, q * f + f))),
        );
        const stride = codeStride(f);
        const rows = { factors: f, stride, error: 0.0123 } as QuantizedRows;
        const codes = new Uint8Array(queries * stride);
        const scales = new Float32Array(queries);
        const bounds = new Float32Array(queries);
        quantizeQueries(rows, Q, 0, queries, queryNorms, codes, scales, bounds);

        const memory = new WebAssembly.Memory({ initial: 4, maximum: 65536, shared: true });
        const e = new WebAssembly.Instance(kernelModule(build), { env: { memory } })
          .exports as unknown as KernelExports;
        const at = {
          Q: PAGE,
          norms: PAGE + 4 * Q.length,
          codes: 2 * PAGE,
          scales: 3 * PAGE,
          bounds: 3 * PAGE + 4 * queries,
        };
        new Float32Array(memory.buffer, at.Q, Q.length).set(Q);
        new Float32Array(memory.buffer, at.norms, queries).set(queryNorms);
        // two calls, as two chunks of a group
        e.quantizeQueryRows(at.Q, f, at.norms, 0, 24, at.codes, stride, at.scales, at.bounds, rows.error);
        e.quantizeQueryRows(at.Q, f, at.norms, 24, queries, at.codes, stride, at.scales, at.bounds, rows.error);
        assert.deepEqual(new Uint8Array(memory.buffer, at.codes, codes.length), codes);
        assert.deepEqual(new Float32Array(memory.buffer, at.scales, queries), scales);
        assert.deepEqual(new Float32Array(memory.buffer, at.bounds, queries), bounds);
        assert.equal(bounds[0], Infinity);
        assert.equal(bounds[1], Infinity);
        assert.equal(bounds[2], Infinity);
        assert.ok(bounds[4] < 1, 'a small norm inside the range is coded');
      });
    }
  }
});

describe('quantizeUnitRows: quantizeRows in WebAssembly', () => {
  for (const build of (['fma', 'simd128'] as const).filter((b) => kernelBuildAvailable(b))) {
    for (const f of [1, 5, 16, 64, 70]) {
      it(`${build}, f = ${f}: the same packed codes, sums, scales and largest error as the TypeScript coder`, async () => {
        const kernels = await createWasmKernels(1, { build });
        try {
          const rows = 203;
          const Y = randomMatrix(rows, f, 40 + f);
          // zero rows, tiny and huge ones (scale NaN), coarse values (halves)
          Y.fill(0, 3 * f, 4 * f);
          for (let a = 0; a < f; a++) {
            Y[5 * f + a] *= 1e-12;
            Y[6 * f + a] *= 1e12;
            Y[7 * f + a] = Math.round(Y[7 * f + a] * 2) / 2;
          }
          const norms = kernels.float32(rows);
          kernels.rowNorms(Y, rows, f, norms);
          const inTypeScript = Object.create(kernels, { quantizeUnitRows: { value: undefined } }) as typeof kernels;
          const want = quantizeRows(inTypeScript, Y, rows, f, norms);
          const got = quantizeRows(kernels, Y, rows, f, norms);
          assert.deepEqual(got.codes, want.codes);
          assert.deepEqual(got.sums, want.sums);
          assert.deepEqual(got.scales, want.scales);
          assert.equal(got.error, want.error);
          assert.ok(Number.isNaN(got.scales[5]) && Number.isNaN(got.scales[6]) && got.scales[3] === 0);
        } finally {
          kernels.dispose();
        }
      });
    }
  }
});
