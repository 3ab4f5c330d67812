import type { FastifyInstance } from 'fastify';

/** The web page at / and its static files (src/serve/page/). Skeleton. */
export async function pageRoutes(_app: FastifyInstance): Promise<void> {}
