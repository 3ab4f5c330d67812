import { MULBERRY_STEP } from '../kernels/uniform.js';

/**
 * mulberry32: a small, fast, seedable generator, so that a seed gives the same factors on
 * every platform and Node version (Math.random cannot be seeded).
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + MULBERRY_STEP) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** rows × factors values uniform in [0, scale), as the `implicit` library starts. */
export function randomFactors(
  rows: number,
  factors: number,
  random: () => number,
  scale = 0.01,
  out: Float32Array = new Float32Array(rows * factors),
): Float32Array {
  for (let n = 0; n < out.length; n++) out[n] = random() * scale;
  return out;
}
