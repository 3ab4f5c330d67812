import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { routeOf } from './metrics.js';
import type { ModelHolder, ModelHolderEvents } from './modelHolder.js';

/**
 * One log line per request at info level (route pattern, status, ms, the live model version;
 * fastify's own two lines are turned off in buildApp), and the holder's model events: loaded,
 * load failed (error level; the old model serving on), disposed. The logger is the app's, so
 * lines go where its stream goes (the CLI gives pino an asynchronous destination).
 */
async function requestLog(app: FastifyInstance, options: { holder: ModelHolder; requests: boolean }): Promise<void> {
  const { holder } = options;
  if (options.requests) {
    app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
      request.log.info(
        {
          route: routeOf(request),
          method: request.method,
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 100) / 100,
          version: holder.version,
        },
        'request',
      );
    });
  }
  const loaded = (event: ModelHolderEvents['loaded'][0]) =>
    app.log.info(
      { event: 'model-loaded', ...event, ms: Math.round(event.ms) },
      event.previous === null ? 'model loaded' : 'model reloaded',
    );
  const failed = (event: ModelHolderEvents['loadFailed'][0]) =>
    app.log.error(
      {
        event: 'model-load-failed',
        reason: event.reason,
        ms: Math.round(event.ms),
        serving: event.serving,
        error: event.error.message,
      },
      event.serving === null ? 'model load failed' : 'model reload failed; the old model keeps serving',
    );
  const disposed = (event: ModelHolderEvents['disposed'][0]) =>
    app.log.info({ event: 'model-disposed', ...event }, 'replaced model freed');
  holder.on('loaded', loaded);
  holder.on('loadFailed', failed);
  holder.on('disposed', disposed);
  app.addHook('onClose', async () => {
    holder.off('loaded', loaded);
    holder.off('loadFailed', failed);
    holder.off('disposed', disposed);
  });
}

/** The request and model-event log lines (see requestLog()). */
export const requestLogPlugin = fp(requestLog, { name: 'als-request-log', fastify: '5.x' });
