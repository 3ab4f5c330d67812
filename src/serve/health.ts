import type { FastifyInstance } from 'fastify';
import type { ModelSource } from './servedModel.js';

/** A health answer of one field: `{ status }`, always `status`. */
function statusOnly<S extends string>(status: S) {
  return {
    type: 'object',
    properties: { status: { type: 'string', enum: [status] } },
    required: ['status'],
    additionalProperties: false,
  } as const;
}

const LIVE = statusOnly('live');

const READY = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['ready'] }, version: { type: 'string' } },
  required: ['status', 'version'],
  additionalProperties: false,
} as const;

const LOADING = statusOnly('loading');

/**
 * GET /health/live: 200 `{ status: 'live' }` while the process answers at all.
 * GET /health/ready: 200 `{ status: 'ready', version }` with a model loaded (the live one's
 * version, which stays the old one while a reload runs or after one failed), else 503
 * `{ status: 'loading' }`. Neither needs an API key (a load balancer asks them).
 */
export async function healthRoutes(app: FastifyInstance, options: { source: ModelSource }): Promise<void> {
  const { source } = options;
  app.get('/health/live', { schema: { response: { 200: LIVE } } }, async () => ({ status: 'live' as const }));
  app.get('/health/ready', { schema: { response: { 200: READY, 503: LOADING } } }, async (_request, reply) => {
    const lease = source.acquire();
    if (lease === null) return reply.status(503).send({ status: 'loading' });
    try {
      return { status: 'ready' as const, version: lease.served.version };
    } finally {
      lease.release();
    }
  });
}
