import type { OutputTarget } from '../data/writeFile.js';
import { writeOutput } from '../data/writeFile.js';
import type { Kernels } from '../kernels/index.js';
import type { AlsModel } from '../model/model.js';
import { normOrder, prunedTopK, PRUNE_CHUNK, rowLength } from './normOrder.js';
import { minMaxScale } from './scale.js';
import { encodedNames, ScoredLines } from './scoredLines.js';

/** Users between two writes (and progress calls). */
const BATCH = 1024;

/**
 * writeAllRecommendations by pruning (normOrder.ts): for each user the very items of the exact
 * path, in its order, found by scoring items in descending norm until no other can enter the
 * top k. The scores are scaled from the lowest an inner product with x can be, −‖x‖·maxᵢ‖yᵢ‖
 * (Cauchy–Schwarz), to the best: the exact path scales from the lowest candidate's score, which
 * only scoring every item gives. One thread.
 *
 * @returns the lines written
 */
export async function writeAllRecommendationsPruned(
  model: AlsModel,
  output: OutputTarget,
  kernels: Kernels,
  k: number,
  includePlayed: boolean,
  onProgress?: (users: number, total: number) => void,
): Promise<number> {
  const { userFactors: X, itemFactors: Y, users, items, factors: f, itemNames: names, userIds } = model;
  const { indptr, indices } = model.userItems;
  const ordered = normOrder(kernels, Y, items, f);
  const chunk = kernels.float32(PRUNE_CHUNK);
  const skip = new Uint8Array(items);
  const rows = new Int32Array(k);
  const scores = new Float32Array(k);
  let lines = 0;
  const made = new ScoredLines(encodedNames(userIds), encodedNames(names));
  await writeOutput(output, async (emit) => {
    for (let u = 0; u < users; u++) {
      const played = includePlayed ? indices.subarray(0, 0) : indices.subarray(indptr[u], indptr[u + 1]);
      for (let n = 0; n < played.length; n++) skip[played[n]] = 1;
      const length = rowLength(X, u * f, f);
      const found = prunedTopK(kernels, ordered, f, X, u * f, length, k, skip, chunk, rows, scores);
      for (let n = 0; n < played.length; n++) skip[played[n]] = 0;
      const range = { min: -length * ordered.longest, max: scores[0] };
      for (let n = 0; n < found; n++) made.add(u, rows[n], minMaxScale(scores[n], range));
      lines += found;
      if ((u + 1) % BATCH === 0 || u + 1 === users) {
        await emit(made.take());
        onProgress?.(u + 1, users);
      }
    }
  });
  return lines;
}
