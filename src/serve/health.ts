import type { FastifyInstance } from 'fastify';
import type { ModelSource } from './servedModel.js';

/** /health/live and /health/ready (no API key needed). Skeleton. */
export async function healthRoutes(_app: FastifyInstance, _options: { source: ModelSource }): Promise<void> {}
