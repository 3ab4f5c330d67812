import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';

/**
 * Whether the route pattern `route` is open without the API key: health (for probes), the page
 * and the OpenAPI document (they hold no data; the page's own API calls need the key, which its
 * user types in). Everything else needs the key, unknown routes included: the check goes by the
 * route fastify matched, never by the URL as sent ("/%61pi/model" routes to /api/model).
 */
export function isOpenRoute(route: string | undefined): boolean {
  if (route === undefined) return false;
  return (
    route.startsWith('/health/') ||
    route === '/' ||
    route === '/page' ||
    route.startsWith('/page/') ||
    route === '/openapi.json'
  );
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The key a request carries: `Authorization: Bearer KEY`, else `x-api-key`. */
function presentedKey(request: FastifyRequest): string | null {
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match !== null) return match[1];
  }
  const header = request.headers['x-api-key'];
  return typeof header === 'string' ? header : null;
}

/**
 * Requires `apiKey` on every protected path (401 otherwise). Keys are compared as SHA-256
 * digests with timingSafeEqual: equal lengths, and no timing that tells how much of a guess was
 * right.
 */
export function addApiKeyCheck(app: FastifyInstance, apiKey: string): void {
  const expected = digest(apiKey);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (request.is404 !== true && isOpenRoute(request.routeOptions.url)) return;
    const key = presentedKey(request);
    if (key === null)
      throw new HttpError(
        401,
        'unauthorized',
        'this server needs an API key: send the header "Authorization: Bearer KEY" or "x-api-key: KEY"',
      );
    if (!timingSafeEqual(digest(key), expected)) throw new HttpError(401, 'unauthorized', 'the API key is not valid');
  });
}

const ALLOWED_METHODS = 'GET, POST, OPTIONS';
const ALLOWED_HEADERS = 'Authorization, Content-Type, X-API-Key';
/** How long a browser may cache a preflight answer, seconds. */
const PREFLIGHT_MAX_AGE = 600;

/**
 * Minimal CORS for the origins listed ('*' for any): the allow-origin header on their requests,
 * and an answer to their preflight (OPTIONS with Access-Control-Request-Method) before the API
 * key check, which browsers never send a key to. Other origins get no CORS header.
 */
export function addCors(app: FastifyInstance, origins: readonly string[]): void {
  const any = origins.includes('*');
  const allowed = new Set(origins);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = request.headers.origin;
    reply.header('vary', 'Origin');
    if (typeof origin !== 'string' || !(any || allowed.has(origin))) return;
    reply.header('access-control-allow-origin', any ? '*' : origin);
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
      reply
        .header('access-control-allow-methods', ALLOWED_METHODS)
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', String(PREFLIGHT_MAX_AGE))
        .code(204);
      return reply.send();
    }
  });
}
