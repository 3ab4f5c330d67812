import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { AlsError } from '../errors.js';
import type { AlsModel } from '../model/model.js';
import { checkModel } from '../validate.js';
import { setErrorHandler } from './errors.js';
import { healthRoutes } from './health.js';
import { metricsPlugin } from './metrics.js';
import { ModelHolder } from './modelHolder.js';
import { pageRoutes } from './page.js';
import { requestLogPlugin } from './requestLog.js';
import { similarRoutes } from './similar.js';

export interface ServeOptions {
  /** a loaded model (embedding in an app); or `holder` */
  model?: AlsModel;
  /** a holder that loads and reloads a model directory (als serve) */
  holder?: ModelHolder;
  /** fastify's logger option: false (default) or pino options */
  logger?: boolean | object;
  /** one info line per request (with a logger) @default true */
  logRequests?: boolean;
  /** required on every route but /health/* (`Authorization: Bearer KEY` or `x-api-key`); none: open */
  apiKey?: string;
  /** origins allowed to call the API from a browser ('*': any); none: CORS off */
  cors?: string[];
  /** threads for scoring a `model` (a holder has its own) @default every CPU */
  threads?: number;
}

/**
 * The HTTP app over a model; it does not listen (`als serve` does, tests use inject).
 * Skeleton: the route groups are registered here, each in its own file.
 */
export async function buildApp(options: ServeOptions): Promise<FastifyInstance> {
  if (options === null || typeof options !== 'object') throw new AlsError('usage', 'buildApp takes an options object with a model or a holder');
  if (options.holder !== undefined && !(options.holder instanceof ModelHolder)) throw new AlsError('usage', 'holder must be a ModelHolder');
  if (options.holder === undefined) checkModel('model', options.model);
  const holder = options.holder ?? (await ModelHolder.fromModel(options.model as AlsModel, { threads: options.threads }));
  // fastify's two lines per request are replaced by requestLog's one
  const app = Fastify({ logger: options.logger ?? false, logController: new LogController({ disableRequestLogging: true }) });
  setErrorHandler(app);
  await app.register(metricsPlugin, { holder });
  await app.register(requestLogPlugin, { holder, requests: options.logRequests ?? true });
  await app.register(healthRoutes, { source: holder });
  await app.register(pageRoutes);
  await app.register(similarRoutes, { source: holder });
  app.addHook('onClose', async () => holder.close());
  return app;
}
