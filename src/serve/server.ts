import Fastify, { type FastifyInstance } from 'fastify';
import type { AlsModel } from '../model/model.js';
import { setErrorHandler } from './errors.js';
import { healthRoutes } from './health.js';
import { metricsPlugin } from './metrics.js';
import { ModelHolder } from './modelHolder.js';
import { pageRoutes } from './page.js';
import { similarRoutes } from './similar.js';

export interface ServeOptions {
  /** a loaded model (embedding in an app); or `holder` */
  model?: AlsModel;
  /** a holder that loads and reloads a model directory (als serve) */
  holder?: ModelHolder;
  /** fastify's logger option: false (default) or pino options */
  logger?: boolean | object;
}

/**
 * The HTTP app over a model; it does not listen (`als serve` does, tests use inject).
 * Skeleton: the route groups are registered here, each in its own file.
 */
export async function buildApp(options: ServeOptions): Promise<FastifyInstance> {
  const holder = options.holder ?? (await ModelHolder.fromModel(options.model as AlsModel));
  const app = Fastify({ logger: options.logger ?? false });
  setErrorHandler(app);
  await app.register(metricsPlugin);
  await app.register(healthRoutes, { source: holder });
  await app.register(pageRoutes);
  await app.register(similarRoutes, { source: holder });
  app.addHook('onClose', async () => holder.close());
  return app;
}
