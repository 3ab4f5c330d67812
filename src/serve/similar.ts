import type { FastifyInstance } from 'fastify';
import { DEFAULT_MIN_ITEM_USERS } from '../query/listeners.js';
import { withLease } from './lease.js';
import { excludeRows, itemRow, scoredItem } from './names.js';
import { COUNT, errorResponses, EXCLUDE, FINITE, NAME, SCORED_ITEMS } from './schemas.js';
import type { ModelSource } from './servedModel.js';

interface SimilarRequest {
  Params: { item: string };
  Querystring: { n: number; minItemUsers: number; exclude?: string[] };
}

const schema = {
  summary: 'Items most similar to an item',
  description:
    "The items whose factors are closest to the item's by cosine similarity, as `als similar`: the item is looked up case-insensitively, " +
    'neighbours with fewer than minItemUsers distinct users are left out, scores are min-max scaled over the remaining candidates.',
  tags: ['queries'],
  params: {
    type: 'object',
    properties: { item: { ...NAME, description: 'item name (case-insensitive)' } },
    required: ['item'],
  },
  querystring: {
    type: 'object',
    properties: {
      n: COUNT,
      minItemUsers: {
        type: 'integer',
        minimum: 1,
        maximum: 2 ** 31 - 1,
        [FINITE]: true,
        default: DEFAULT_MIN_ITEM_USERS,
        description: 'leave out neighbours with fewer distinct users',
      },
      exclude: EXCLUDE,
    },
    additionalProperties: false,
  },
  response: {
    200: {
      type: 'object',
      properties: {
        version: { type: 'string' },
        item: { type: 'string', description: "the item's name as in the model" },
        minItemUsers: { type: 'integer' },
        leftOut: { type: 'integer', description: 'candidates left out for having fewer than minItemUsers users' },
        similar: SCORED_ITEMS,
      },
      required: ['version', 'item', 'minItemUsers', 'leftOut', 'similar'],
    },
    ...errorResponses(404),
  },
};

/** GET /api/similar/:item — the items most like one item (als similar). */
export async function similarRoutes(app: FastifyInstance, { source }: { source: ModelSource }): Promise<void> {
  app.get<SimilarRequest>('/api/similar/:item', { schema }, (request) =>
    withLease(source, async ({ model, version, queries }) => {
      const { n, minItemUsers, exclude } = request.query;
      const row = itemRow(model, request.params.item);
      const { similar, leftOut } = await queries.similarToRow(row, {
        count: n,
        exclude: excludeRows(model, exclude),
        minItemUsers,
      });
      return {
        version,
        item: model.itemNames[row],
        minItemUsers,
        leftOut,
        similar: similar.map((s) => scoredItem(model, s)),
      };
    }),
  );
}
