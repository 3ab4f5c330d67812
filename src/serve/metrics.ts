import type { FastifyInstance } from 'fastify';

/** Request counts and latency per route, model version, reloads: GET /metrics (Prometheus text). Skeleton. */
export async function metricsPlugin(_app: FastifyInstance): Promise<void> {}
