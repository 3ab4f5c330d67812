// The reference of Kernels.uniformFill (js.ts), and the step of seededRandom (src/als/random.ts),
// here so that the kernels need nothing from the layers above them.

/** mulberry32's state increment: draw m of seededRandom(seed) (src/als/random.ts) starts from state seed + (m + 1)·MULBERRY_STEP. */
export const MULBERRY_STEP = 0x6d2b79f5;

/**
 * out[n] = (draw skip + n of seededRandom(seed)) · scale, rounded to float32: what randomFactors
 * writes with a generator that has already made `skip` draws, found without making them.
 */
export function uniformFill(out: Float32Array, seed: number, skip: number, scale: number): void {
  let state = (seed + Math.imul(skip, MULBERRY_STEP)) >>> 0;
  for (let n = 0; n < out.length; n++) {
    state = (state + MULBERRY_STEP) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[n] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * scale;
  }
}
