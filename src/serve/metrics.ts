import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ModelHolder } from './modelHolder.js';

/**
 * Latency buckets in seconds: answers take about a millisecond (a similar-item query on the
 * sample) to tens of milliseconds (a fold-in with explanations on the full-scale model), so the
 * buckets are dense from 0.25 ms to 100 ms and sparse above.
 */
export const LATENCY_BUCKETS = [0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** The label of a request that matched no route (so that scanned URLs do not become series). */
export const UNMATCHED_ROUTE = 'unmatched';

/** The route pattern a request matched (`/api/similar/:item`, never the URL), or UNMATCHED_ROUTE. */
export function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? UNMATCHED_ROUTE;
}

/**
 * Metrics of one app in its own registry (tests build many apps), served at GET /metrics in
 * the Prometheus text format:
 *  - als_http_requests_total{method,route,status} and als_http_request_duration_seconds{method,route}
 *    (a histogram), for every route, counted when the response is sent;
 *  - als_model_loaded_timestamp_seconds{version}: the live model's version and when it was loaded;
 *  - als_model_reloads_total, als_model_reload_failures_total, als_model_leases (requests holding a
 *    model), als_model_retiring (replaced models still held by a request);
 *  - process_resident_memory_bytes.
 * Wrapped with fastify-plugin so that its hooks see every route of the app.
 */
async function metrics(app: FastifyInstance, options: { holder: ModelHolder }): Promise<void> {
  const { holder } = options;
  const registry = new Registry();
  const registers = [registry];
  const requests = new Counter({
    name: 'als_http_requests_total',
    help: 'HTTP requests answered, by route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'als_http_request_duration_seconds',
    help: 'time from receiving a request to sending its response, by route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  new Gauge({
    name: 'als_model_loaded_timestamp_seconds',
    help: 'when the live model was loaded (Unix seconds), labelled with its version',
    labelNames: ['version'] as const,
    registers,
    collect() {
      this.reset();
      const served = holder.current;
      if (served !== null) this.set({ version: served.version }, served.loadedAt.getTime() / 1000);
    },
  });
  new Counter({
    name: 'als_model_reloads_total',
    help: 'models loaded in place of a live one',
    registers,
    collect() {
      this.reset();
      this.inc(holder.stats().reloads);
    },
  });
  new Counter({
    name: 'als_model_reload_failures_total',
    help: 'model loads that failed (the live model kept serving)',
    registers,
    collect() {
      this.reset();
      this.inc(holder.stats().failures);
    },
  });
  new Gauge({
    name: 'als_model_leases',
    help: 'requests holding a model now (in flight)',
    registers,
    collect() {
      this.set(holder.stats().leases);
    },
  });
  new Gauge({
    name: 'als_model_retiring',
    help: 'replaced models not freed yet, a request still holding each',
    registers,
    collect() {
      this.set(holder.stats().retiring);
    },
  });
  new Gauge({
    name: 'process_resident_memory_bytes',
    help: 'resident memory of the server process',
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });

  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const route = routeOf(request);
    requests.inc({ method: request.method, route, status: reply.statusCode });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  app.get(
    '/metrics',
    {
      schema: {
        response: { 200: { content: { [registry.contentType.split(';')[0]]: { schema: { type: 'string' } } } } },
      },
    },
    async (_request, reply) => {
      reply.type(registry.contentType);
      return registry.metrics();
    },
  );
}

/** GET /metrics and the request counting hooks (see metrics()). */
export const metricsPlugin = fp(metrics, { name: 'als-metrics', fastify: '5.x' });
