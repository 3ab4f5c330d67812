import { checkArray, checkWhole } from '../validate.js';
import { AlsError } from '../errors.js';
import { jsKernels } from '../kernels/index.js';

/**
 * The indices of the k largest scores, best first, skipping indices where `skip` is 1; ties go
 * to the lower index. The reference kernel's selection (the WebAssembly one gives the same).
 */
export function topK(scores: Float32Array, k: number, skip?: Uint8Array): Int32Array {
  checkArray('scores', scores, Float32Array);
  checkWhole('k', k, 0);
  if (skip !== undefined) {
    checkArray('skip', skip, Uint8Array);
    if (skip.length < scores.length)
      throw new AlsError('usage', `skip has ${skip.length} entries, fewer than the ${scores.length} scores`);
  }
  // k is clamped to the candidates: a k of 1e9 allocates nothing
  return jsKernels.topK(scores, Math.min(k, scores.length), skip);
}
