import type { AlsModel } from '../model/model.js';
import type { ScoredItem } from '../query/similar.js';
import { rankSimilar } from '../query/similar.js';
import { recommendForVector } from '../query/recommend.js';

/** One top-k query: rows to leave out besides the query's own, and how many to return. */
export interface TopKRequest {
  count: number;
  /** item rows never to return (the request's `exclude`, a user's played items) */
  exclude: ArrayLike<number>;
}

/**
 * Scoring for one served model. Methods return promises so that an implementation may gather
 * the queries of requests that arrive together into one pass over the item factors.
 */
export interface ModelQueries {
  /** items most similar to item row `item` (cosine), neighbours with fewer than minItemUsers users left out */
  similarToRow(item: number, request: TopKRequest & { minItemUsers: number }): Promise<{ similar: ScoredItem[]; leftOut: number }>;
  /** best items for the vector x (a user's factors or a folded-in one) */
  recommendForVector(x: Float32Array, request: TopKRequest): Promise<ScoredItem[]>;
  /** frees what the queries hold (kernel threads, scratch); called once no request uses the model */
  dispose(): void;
}

/** Each query alone, synchronously, through the core's functions: the reference for batched queries. */
export function singleQueries(model: AlsModel): ModelQueries {
  return {
    async similarToRow(item, { count, exclude, minItemUsers }) {
      // exclude: asked for one more per excluded row, the excluded dropped after
      const extra = exclude.length;
      const { similar, leftOut } = rankSimilar(model, item, { count: count + extra, minListeners: minItemUsers });
      const skip = new Set(Array.from(exclude));
      return { similar: similar.filter((s) => !skip.has(s.index)).slice(0, count), leftOut };
    },
    async recommendForVector(x, { count, exclude }) {
      return recommendForVector(model, x, 0, exclude, { count });
    },
    dispose() {},
  };
}
