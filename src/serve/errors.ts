import type { FastifyError, FastifyInstance, FastifySchemaValidationError } from 'fastify';
import { QueueFullError } from './queries.js';
import { AlsError, quoteForMessage, type AlsErrorCode } from '../errors.js';

/** The HTTP status of each AlsError code: the server's one mapping table (the CLI's is exitCodes.ts). */
export const HTTP_STATUS: Record<AlsErrorCode, number> = {
  usage: 400,
  input: 400,
  'not-found': 404,
  model: 503,
  output: 500,
};

/** The body of every error response. */
export interface ErrorBody {
  statusCode: number;
  /** AlsError code, or fastify's (FST_ERR_VALIDATION, …) */
  code: string;
  error: string;
  message: string;
  /** close names, for a user or item that is not in the model */
  suggestions?: string[];
}

/** An AlsError('not-found') for a user or item, with the closest names for the response. */
export class NotFoundError extends AlsError {
  constructor(
    message: string,
    readonly suggestions: string[],
  ) {
    super('not-found', message);
  }
}

/** An error sent with its own status and code (401 without the API key, 429 when the queue is full). */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The error body of `status`, with suggestions when there are any. */
export function errorBody(status: number, code: string, message: string, suggestions?: string[]): ErrorBody {
  const body: ErrorBody = { statusCode: status, code, error: statusText(status), message };
  if (suggestions !== undefined) body.suggestions = suggestions;
  return body;
}

/** fastify's messages that say less than they could, in the API's words. */
const FRAMEWORK_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'the body must be JSON (content-type: application/json)',
  FST_ERR_CTP_BODY_TOO_LARGE: 'the body is larger than this server takes',
  FST_ERR_CTP_INVALID_JSON_BODY: 'the body is not valid JSON',
};

/**
 * Turns thrown errors into one JSON shape: AlsError by the table, HttpError and fastify's 4xx
 * errors by their status, anything else 500 (logged, its message kept out of the response).
 * Unknown routes get the same shape.
 */
export function setErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AlsError | Error, request, reply) => {
    if (error instanceof QueueFullError) {
      return reply
        .status(error.statusCode)
        .header('retry-after', '1')
        .send(errorBody(error.statusCode, 'queue-full', error.message));
    }
    if (error instanceof AlsError) {
      const status = HTTP_STATUS[error.code];
      if (status >= 500) request.log.error({ err: error }, 'model error');
      return reply
        .status(status)
        .send(
          errorBody(status, error.code, error.message, error instanceof NotFoundError ? error.suggestions : undefined),
        );
    }
    const status = (error as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      if (status === 401) reply.header('www-authenticate', 'Bearer');
      const code = (error as FastifyError).code ?? 'bad-request';
      return reply.status(status).send(errorBody(status, code, FRAMEWORK_MESSAGES[code] ?? error.message));
    }
    request.log.error({ err: error }, 'internal error');
    return reply.status(500).send(errorBody(500, 'internal', 'internal error (a bug; see the server log)'));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    return reply
      .status(404)
      .send(errorBody(404, 'route-not-found', `no route ${request.method} ${quoteForMessage(path)}`));
  });
}

/**
 * A validation error's message in the API's words: "querystring/n must be <= 1000",
 * "body/items[2].plays must be > 0" (the first error only: ajv stops there).
 */
export function formatSchemaError(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const first = errors[0];
  const path = (first?.instancePath ?? '')
    .split('/')
    .slice(1)
    .map((part, k) =>
      /^\d+$/.test(part) ? `[${part}]` : `${k === 0 ? '/' : '.'}${part.replace(/~1/g, '/').replace(/~0/g, '~')}`,
    )
    .join('');
  return new Error(`${dataVar}${path} ${first?.message ?? 'is not valid'}`);
}

function statusText(status: number): string {
  return (
    {
      400: 'Bad Request',
      401: 'Unauthorized',
      404: 'Not Found',
      413: 'Payload Too Large',
      415: 'Unsupported Media Type',
      429: 'Too Many Requests',
      500: 'Internal Server Error',
      503: 'Service Unavailable',
    }[status] ?? 'Error'
  );
}
