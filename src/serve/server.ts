import Fastify, { type FastifyInstance } from 'fastify';
import type { AlsModel } from '../model/model.js';
import { setErrorHandler } from './errors.js';
import { ModelHolder } from './modelHolder.js';
import { similarRoutes } from './similar.js';

export interface ServeOptions {
  /** a loaded model (embedding in an app) */
  model: AlsModel;
  /** fastify's logger option: false (default) or pino options */
  logger?: boolean | object;
}

/**
 * The HTTP app over a model; it does not listen (`als serve` does, tests use inject). Skeleton.
 */
export async function buildApp(options: ServeOptions): Promise<FastifyInstance> {
  const holder = ModelHolder.fromModel(options.model);
  const app = Fastify({ logger: options.logger ?? false });
  setErrorHandler(app);
  await app.register(similarRoutes, { source: holder });
  app.addHook('onClose', async () => holder.close());
  return app;
}
