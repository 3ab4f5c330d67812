import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { AlsError } from '../errors.js';
import type { AlsModel } from '../model/model.js';
import { checkModel } from '../validate.js';
import { addApiKeyCheck, addCors } from './auth.js';
import { errorBody, formatSchemaError, setErrorHandler } from './errors.js';
import { healthRoutes } from './health.js';
import { itemRoutes } from './items.js';
import { metricsPlugin } from './metrics.js';
import { ModelHolder } from './modelHolder.js';
import { modelRoutes } from './modelRoutes.js';
import { registerOpenApi } from './openapi.js';
import { pageRoutes } from './page.js';
import { recommendRoutes } from './recommend.js';
import { requestLogPlugin } from './requestLog.js';
import type { AnySchema } from 'ajv';
import { addSharedSchemas, DEFAULT_BODY_LIMIT, LIMITS, SHARED_SCHEMAS } from './schemas.js';
import { requestValidators } from './validation.js';
import { similarRoutes } from './similar.js';

/** Options of buildApp. */
export interface ServeOptions {
  /** a loaded model (embedding in an app): served as it is, never reloaded; or `holder` */
  model?: AlsModel;
  /** a holder that loads and reloads a model directory (als serve); closed with the app */
  holder?: ModelHolder;
  /**
   * when given, every route except /health/*, the page and /openapi.json needs this key
   * (`Authorization: Bearer KEY` or `x-api-key: KEY`), else 401
   */
  apiKey?: string;
  /** origins allowed to call the API from a browser ('*': any); default: no CORS headers at all */
  cors?: string[];
  /** fastify's logger option: false (default) or pino options */
  logger?: FastifyServerOptions['logger'];
  /** one info line per request (with a logger) @default true */
  logRequests?: boolean;
  /**
   * largest request body in bytes, else 413
   * @default 1048576 (1 MiB)
   */
  bodyLimit?: number;
  /** threads for scoring a `model` (default: every CPU); a holder has its own */
  threads?: number;
}

/**
 * Timeouts of the HTTP server, ms: a request must arrive whole within REQUEST_TIMEOUT (a slow
 * sender cannot hold a socket for ever), an idle socket is closed after CONNECTION_TIMEOUT, an
 * idle keep-alive one after KEEP_ALIVE_TIMEOUT (below the 60 s of common proxies, which
 * must close first).
 */
const REQUEST_TIMEOUT = 30_000;
const CONNECTION_TIMEOUT = 60_000;
const KEEP_ALIVE_TIMEOUT = 5_000;

/**
 * The longest path parameter fastify routes, in characters as sent: a name of LIMITS.name
 * characters, percent-encoded (up to 4 UTF-8 bytes of 3 characters each), so that a long name
 * reaches the schema (400 naming the field) rather than a 404.
 */
const MAX_PARAM_LENGTH = LIMITS.name * 12;

/**
 * The HTTP app over a model: the JSON API under /api, /health, /metrics, the page and the
 * OpenAPI document. It does not listen: `als serve` calls listen, tests use inject, an
 * application may mount or listen on it. The model source is closed with the app.
 *
 * @throws {AlsError} 'usage' when neither `model` nor `holder` is given, or an option is out of range
 */
export async function buildApp(options: ServeOptions): Promise<FastifyInstance> {
  if (typeof options !== 'object' || options === null)
    throw new AlsError('usage', 'buildApp takes an options object ({ model } or { holder })');
  const { apiKey, cors, bodyLimit = DEFAULT_BODY_LIMIT } = options;
  if (options.holder !== undefined && !(options.holder instanceof ModelHolder))
    throw new AlsError('usage', 'holder must be a ModelHolder');
  if (options.holder === undefined) checkModel('model', options.model);
  if (apiKey !== undefined && (typeof apiKey !== 'string' || apiKey.length === 0))
    throw new AlsError('usage', 'apiKey must be a non-empty string');
  if (cors !== undefined && !(Array.isArray(cors) && cors.every((origin) => typeof origin === 'string'))) {
    throw new AlsError('usage', 'cors must be an array of origins (strings)');
  }
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit < 1)
    throw new AlsError('usage', 'bodyLimit must be a whole number of bytes ≥ 1');
  const app = Fastify({
    logger: options.logger ?? false,
    // fastify's two lines per request are replaced by requestLog's one
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    requestTimeout: REQUEST_TIMEOUT,
    connectionTimeout: CONNECTION_TIMEOUT,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    schemaErrorFormatter: formatSchemaError,
    // a malformed URL (bad percent-encoding) in the one error shape, as the error handler would
    frameworkErrors: (error, _request, reply) => {
      const status = error.statusCode ?? 400;
      // the message would echo the URL, which may be kilobytes long
      const message = error.code === 'FST_ERR_BAD_URL' ? 'the URL holds a malformed percent-encoding' : error.message;
      void (reply as FastifyReply).status(status).send(errorBody(status, error.code, message));
    },
  });
  // the API takes JSON only: any other body type is 415, not a string that fails validation
  app.removeContentTypeParser('text/plain');
  const holder =
    options.holder ?? (await ModelHolder.fromModel(options.model as AlsModel, { threads: options.threads }));
  app.addHook('onClose', async () => holder.close());
  setErrorHandler(app);
  addSharedSchemas(app);
  app.setValidatorCompiler(requestValidators(SHARED_SCHEMAS as unknown as AnySchema[]));
  if (cors !== undefined) addCors(app, cors);
  if (apiKey !== undefined) addApiKeyCheck(app, apiKey);
  await registerOpenApi(app);
  await app.register(metricsPlugin, { holder });
  await app.register(requestLogPlugin, { holder, requests: options.logRequests ?? true });
  await app.register(healthRoutes, { source: holder });
  await app.register(pageRoutes);
  await app.register(similarRoutes, { source: holder });
  await app.register(recommendRoutes, { source: holder });
  await app.register(itemRoutes, { source: holder });
  await app.register(modelRoutes, { source: holder });
  return app;
}
