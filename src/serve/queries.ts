import type { AlsModel } from '../model/model.js';
import type { ScoredItem } from '../query/similar.js';
import { rankSimilar } from '../query/similar.js';
import { recommendForVector } from '../query/recommend.js';

/** One top-k query: rows to leave out besides the query's own, and how many to return. */
export interface TopKRequest {
  count: number;
  /** item rows never to return, and not counted among the candidates (the request's `exclude`, a user's played items) */
  exclude: ArrayLike<number>;
}

/**
 * Scoring for one served model. Methods return promises so that an implementation may gather
 * the queries of requests that arrive together into one pass over the item factors.
 */
export interface ModelQueries {
  /** items most similar to item row `item` (cosine), neighbours with fewer than minItemUsers users left out */
  similarToRow(item: number, request: TopKRequest & { minItemUsers: number }): Promise<{ similar: ScoredItem[]; leftOut: number }>;
  /** best items for the vector x[0 .. factors) (a user's factors or a folded-in one) */
  recommendForVector(x: Float32Array, request: TopKRequest): Promise<ScoredItem[]>;
  /** frees what the queries hold (kernel threads, scratch); called once no request uses the model */
  dispose(): void;
}

export interface ServingOptions {
  /** threads for scoring (default: every CPU) */
  threads?: number;
}

/**
 * Prepares `model` for serving: every part read and checked now (a bad model fails here, not in
 * a request), and its queries. Returns the model to answer from (its factors may be moved into
 * kernel memory, the given model's arrays then dropped) and its queries.
 * (Skeleton: each query alone through the core's functions.)
 */
export async function prepareServing(model: AlsModel, _options: ServingOptions = {}): Promise<{ model: AlsModel; queries: ModelQueries }> {
  return { model, queries: singleQueries(model) };
}

/** Each query alone, synchronously, through the core's functions. */
function singleQueries(model: AlsModel): ModelQueries {
  return {
    async similarToRow(item, { count, exclude, minItemUsers }) {
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
