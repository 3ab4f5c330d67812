import { jsKernels } from '../kernels/index.js';

/**
 * The indices of the k largest scores, best first, skipping indices where `skip` is 1; ties go
 * to the lower index. The reference kernel's selection (the WebAssembly one gives the same).
 */
export function topK(scores: Float32Array, k: number, skip?: Uint8Array): Int32Array {
  return jsKernels.topK(scores, k, skip);
}
