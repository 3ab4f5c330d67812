import type { Kernels } from '../kernels/index.js';

/** Per-query arrays, made once per kernels and item count: kernel memory is never freed. */
export interface QueryScratch {
  scores: Float32Array;
  skip: Uint8Array;
}

const cache = new WeakMap<Kernels, QueryScratch>();

export function queryScratch(kernels: Kernels, items: number): QueryScratch {
  let scratch = cache.get(kernels);
  if (scratch === undefined || scratch.scores.length !== items) {
    scratch = { scores: kernels.float32(items), skip: kernels.uint8(items) };
    cache.set(kernels, scratch);
  }
  return scratch;
}

const norms = new WeakMap<Float32Array, Float32Array>();

/** ‖y‖ of every item, computed once per factor array. */
export function cachedRowNorms(kernels: Kernels, factors: Float32Array, rows: number, f: number): Float32Array {
  let out = norms.get(factors);
  if (out === undefined) {
    out = new Float32Array(rows);
    kernels.rowNorms(factors, rows, f, out);
    norms.set(factors, out);
  }
  return out;
}
