import type { OutputTarget } from '../data/writeFile.js';
import { writeOutput } from '../data/writeFile.js';
import type { AlsModel } from '../model/model.js';
import { DEFAULT_EF, searchHnsw } from './hnsw.js';
import type { ItemIndexSearch } from './itemIndex.js';
import { minMaxScale } from './scale.js';

/**
 * The candidate list of the search for an item's least similar candidate, which sets the bottom of
 * its min-max scale. On the sample (17,632 artists, 3,871 indexed) ef 64 found the exact lowest
 * cosine for most items and moved no printed score by more than a few units of the 6th decimal
 * where it missed (test/cli/index.test.ts); the scale needs the value, not the row.
 */
export const LOWEST_EF = 64;

/** Items searched between two writes (and progress calls). */
const BATCH = 256;

/**
 * writeAllSimilar through an item index (itemIndex.ts): for each item, the k candidates of
 * largest cosine the index finds (searchHnsw, default ef, the item itself left out), scored by the
 * inner product of unit rows, min-max scaled between the best found and the lowest cosine a
 * second search finds (for the negated row, ef LOWEST_EF): both approximate, so a line may name
 * another neighbour than the exact search (recall@10 ≥ 0.99 measured) and a score may differ in
 * its last digits. Lines, order and ties are those of the exact path. One thread.
 *
 * @returns the lines written
 */
export async function writeAllSimilarIndexed(
  model: AlsModel,
  output: OutputTarget,
  search: ItemIndexSearch,
  k: number,
  onProgress?: (items: number, total: number) => void,
): Promise<number> {
  const { itemFactors: Y, items, factors: f, itemNames: names } = model;
  const { index, vectors, candidates } = search;
  const { rows, slot, count } = candidates;
  const query = new Float32Array(f);
  const negated = new Float32Array(f);
  const exclude = [0];
  let lines = 0;
  await writeOutput(output, async (emit) => {
    let text = '';
    for (let q = 0; q < items; q++) {
      let squares = 0;
      for (let j = 0; j < f; j++) squares += Y[q * f + j] * Y[q * f + j];
      const scale = squares > 0 ? 1 / Math.sqrt(squares) : 0;
      for (let j = 0; j < f; j++) {
        query[j] = Y[q * f + j] * scale;
        negated[j] = -query[j];
      }
      const own = slot[q] >= 0;
      exclude[0] = slot[q];
      const options = own ? { exclude, ef: DEFAULT_EF } : { ef: DEFAULT_EF };
      let ids: Int32Array;
      let scores: Float32Array;
      if (squares === 0) {
        // every cosine is 0 (rankSimilarToRow's rule): the first candidates, all scaled to 1
        const first = Array.from(rows.subarray(0, Math.min(count, k + 1)), (_, c) => c).filter((c) => c !== slot[q]);
        ids = Int32Array.from(first.slice(0, k));
        scores = new Float32Array(ids.length);
      } else {
        ({ ids, scores } = searchHnsw(index, vectors, query, k, options));
      }
      if (ids.length > 0) {
        let min = scores[ids.length - 1];
        if (squares > 0) {
          const lowest = searchHnsw(index, vectors, negated, 1, { ...options, ef: LOWEST_EF });
          if (lowest.ids.length > 0) min = Math.min(min, -lowest.scores[0]);
        }
        const range = { min, max: scores[0] };
        const name = names[q];
        for (let n = 0; n < ids.length; n++)
          text += `${name}\t${names[rows[ids[n]]]}\t${minMaxScale(scores[n], range).toFixed(6)}\n`;
        lines += ids.length;
      }
      if ((q + 1) % BATCH === 0 || q + 1 === items) {
        await emit(text);
        text = '';
        onProgress?.(q + 1, items);
      }
    }
  });
  return lines;
}
