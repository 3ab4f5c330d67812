import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { confidences } from '../../src/als/weighting.js';
import type { CsrMatrix } from '../../src/data/sparse.js';
import {
  createWasmKernels,
  jsKernels,
  kernelBuildAvailable,
  kernelCopy,
  type HalfStep,
  type Kernels,
} from '../../src/kernels/index.js';
import { seededRandom } from '../../src/als/random.js';
import { randomMatrix, relativeError } from '../helpers.js';

// the plain build's sums are the emulation's to the bit; the fma build fuses each multiply and
// add (one rounding, where the CPU has FMA), so it is checked within tolerance and 1 = 2 threads
const wasm1 = await createWasmKernels(1, { build: 'simd128' });
const wasm2 = await createWasmKernels(2, { build: 'simd128' });
const fused = kernelBuildAvailable('fma')
  ? [await createWasmKernels(1, { build: 'fma' }), await createWasmKernels(2, { build: 'fma' })]
  : [];
after(() => {
  for (const kernels of [wasm1, wasm2, ...fused]) kernels.dispose();
});

/**
 * Rows of every length the exact kernel treats apart: none, one, a few, exactly one and two of
 * its gathered chunks (64 pairs), and long ones that end in a partial chunk.
 */
const LENGTHS = [0, 1, 2, 5, 63, 64, 65, 128, 150, 300, 0, 1, 7];

function plays(items: number, seed: number): CsrMatrix {
  const random = seededRandom(seed);
  const indptr = new Int32Array(LENGTHS.length + 1);
  const indices: number[] = [];
  const values: number[] = [];
  LENGTHS.forEach((length, u) => {
    // `length` distinct items in increasing order
    const picked = new Set<number>();
    while (picked.size < length) picked.add(Math.floor(random() * items));
    for (const i of [...picked].sort((a, b) => a - b)) {
      indices.push(i);
      values.push(1 + Math.floor(random() * 50));
    }
    indptr[u + 1] = indices.length;
  });
  return {
    rows: LENGTHS.length,
    cols: items,
    indptr,
    indices: Int32Array.from(indices),
    data: Float32Array.from(values),
  };
}

function stepFor(kernels: Kernels, f: number, lambda: number, perRow: boolean): HalfStep {
  const items = 400;
  const matrix = plays(items, f);
  const copy = <T extends Float32Array | Int32Array>(array: T): T => kernelCopy(kernels, array);
  const Y = copy(randomMatrix(items, f, f + 1));
  const YtY = new Float64Array(f * f);
  jsKernels.gramian(Y, items, f, perRow ? 0 : lambda, YtY);
  const step: HalfStep = {
    X: copy(new Float32Array(LENGTHS.length * f).fill(0.5)),
    Y,
    factors: f,
    indptr: copy(matrix.indptr),
    indices: copy(matrix.indices),
    confidence: copy(confidences(matrix, { weighting: 'log', alpha: 4, bm25K1: 100, bm25B: 0.8 })),
    YtY,
  };
  if (perRow) step.rowRegularization = copy(Float32Array.from(LENGTHS, (n) => lambda * Math.max(n, 1)));
  return step;
}

const fround = Math.fround;

/** Σ a[k]·b[k] for k < n as the kernel's dot64: even and odd k in two sums, then the odd one out. */
function dot64(A: Float64Array, a: number, B: Float64Array, b: number, n: number): number {
  let even = 0;
  let odd = 0;
  let k = 0;
  for (; k + 1 < n; k += 2) {
    even += A[a + k] * B[b + k];
    odd += A[a + k + 1] * B[b + k + 1];
  }
  let sum = even + odd;
  if (k < n) sum += A[a + k] * B[b + k];
  return sum;
}

/**
 * The exact update as the kernel computed it row by row before its sums were tiled:
 * Yᵀ(Cᵤ − I)Y and YᵀCᵤp(u) summed in float32 pair after pair (each entry acc + (extra·y[a])·y[b]),
 * then A = YtY + that (+ λᵤ) and a Cholesky solve in float64. The tiled kernel must give these
 * bytes.
 */
function rowByRow(step: HalfStep, u: number): Float32Array {
  const { Y, factors: f, indptr, indices, confidence, YtY, rowRegularization } = step;
  const x = new Float32Array(f);
  if (rowRegularization !== undefined && indptr[u] === indptr[u + 1]) return x;
  const A32 = new Float32Array(f * f);
  const b32 = new Float32Array(f);
  for (let n = indptr[u]; n < indptr[u + 1]; n++) {
    const c = confidence[n];
    const y = indices[n] * f;
    const extra = fround(c - 1);
    for (let k = 0; k < f; k++) b32[k] = fround(b32[k] + fround(c * Y[y + k]));
    for (let a = 0; a < f; a++) {
      const alpha = fround(extra * Y[y + a]);
      for (let k = 0; k <= a; k++) A32[a * f + k] = fround(A32[a * f + k] + fround(alpha * Y[y + k]));
    }
  }
  const A = new Float64Array(f * f);
  const b = Float64Array.from(b32);
  for (let a = 0; a < f; a++) for (let k = 0; k <= a; k++) A[a * f + k] = YtY[a * f + k] + A32[a * f + k];
  if (rowRegularization !== undefined) for (let a = 0; a < f; a++) A[a * f + a] += rowRegularization[u];
  for (let j = 0; j < f; j++) {
    const diagonal = A[j * f + j] - dot64(A, j * f, A, j * f, j);
    assert.ok(diagonal > 0);
    const pivot = Math.sqrt(diagonal);
    A[j * f + j] = pivot;
    for (let i = j + 1; i < f; i++) A[i * f + j] = (A[i * f + j] - dot64(A, i * f, A, j * f, j)) / pivot;
  }
  for (let i = 0; i < f; i++) b[i] = (b[i] - dot64(A, i * f, b, 0, i)) / A[i * f + i];
  for (let i = f - 1; i >= 0; i--) {
    let sum = b[i];
    for (let k = i + 1; k < f; k++) sum -= A[k * f + i] * b[k];
    b[i] = sum / A[i * f + i];
  }
  for (let a = 0; a < f; a++) x[a] = b[a];
  return x;
}

// f = 1, 3, 13: not a multiple of the tiles' 4 rows or 8 columns; 64: the bench's
for (const f of [1, 3, 4, 8, 13, 64]) {
  describe(`exact kernel (f=${f}): rows of 0 to 300 observed columns`, () => {
    for (const perRow of [false, true]) {
      const label = perRow ? 'λ per row' : 'λ in YᵀY';
      it(`gives the bytes of the row-by-row float32 sums and float64 Cholesky (${label})`, () => {
        for (const kernels of [wasm1, wasm2]) {
          const step = stepFor(kernels, f, 0.3, perRow);
          kernels.exactUpdate(step, 0, LENGTHS.length);
          for (let u = 0; u < LENGTHS.length; u++) {
            const expected = rowByRow(step, u);
            const actual = step.X.subarray(u * f, (u + 1) * f);
            assert.deepEqual(Buffer.from(actual.slice().buffer), Buffer.from(expected.buffer), `row ${u}`);
          }
        }
      });

      it(`fused (the fma build): within float rounding of the emulation, the same bytes on 1 and 2 threads (${label})`, (t) => {
        if (fused.length === 0) return t.skip('this version of Node.js does not compile relaxed SIMD');
        const answers = fused.map((kernels) => {
          const step = stepFor(kernels, f, 0.3, perRow);
          kernels.exactUpdate(step, 0, LENGTHS.length);
          return step;
        });
        assert.deepEqual(Buffer.from(answers[1].X.slice().buffer), Buffer.from(answers[0].X.slice().buffer));
        const expected = new Float32Array(LENGTHS.length * f);
        for (let u = 0; u < LENGTHS.length; u++) expected.set(rowByRow(answers[0], u), u * f);
        const error = relativeError(answers[0].X, expected);
        assert.ok(error < 1e-4, String(error));
      });

      it(`agrees with the reference kernel (${label})`, () => {
        const reference = stepFor(jsKernels, f, 0.3, perRow);
        const fast = stepFor(wasm2, f, 0.3, perRow);
        jsKernels.exactUpdate(reference, 0, LENGTHS.length);
        wasm2.exactUpdate(fast, 0, LENGTHS.length);
        assert.ok(relativeError(fast.X, reference.X) < 1e-4, String(relativeError(fast.X, reference.X)));
      });
    }
  });
}
