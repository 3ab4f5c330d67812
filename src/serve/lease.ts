import { AlsError } from '../errors.js';
import type { ModelSource, ServedModel } from './servedModel.js';

/**
 * Runs `answer` on the live model under a lease, released as soon as the answer is computed
 * (before the reply is serialised: the answer holds plain values, never the model's arrays), so
 * that a request never keeps a retired model alive. No model loaded: AlsError('model') → 503.
 */
export async function withLease<T>(source: ModelSource, answer: (served: ServedModel) => Promise<T> | T): Promise<T> {
  const lease = source.acquire();
  if (lease === null) throw new AlsError('model', 'no model is loaded yet');
  try {
    return await answer(lease.served);
  } finally {
    lease.release();
  }
}
