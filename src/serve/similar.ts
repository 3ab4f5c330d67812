import type { FastifyInstance } from 'fastify';
import { AlsError } from '../errors.js';
import { findItem } from '../query/lookup.js';
import { DEFAULT_MIN_LISTENERS } from '../query/listeners.js';
import type { ModelSource } from './servedModel.js';

/** GET /api/similar/:item — the items most like one item (als similar). Skeleton. */
export async function similarRoutes(app: FastifyInstance, options: { source: ModelSource }): Promise<void> {
  app.get<{ Params: { item: string }; Querystring: { n?: number; minItemUsers?: number } }>(
    '/api/similar/:item',
    { schema: { querystring: { type: 'object', properties: { n: { type: 'integer', minimum: 1, maximum: 1000 }, minItemUsers: { type: 'integer', minimum: 1 } }, additionalProperties: false } } },
    async (request) => {
    const lease = options.source.acquire();
    if (lease === null) throw new AlsError('model', 'no model is loaded yet');
    try {
      const { model, version, queries } = lease.served;
      const row = findItem(model.itemNames, request.params.item);
      const result = await queries.similarToRow(row, { count: request.query.n ?? 10, exclude: [], minItemUsers: request.query.minItemUsers ?? DEFAULT_MIN_LISTENERS });
      return { item: model.itemNames[row], version, ...result };
    } finally {
      lease.release();
    }
  },
  );
}
