import type { FastifyError, FastifyInstance } from 'fastify';
import { AlsError, type AlsErrorCode } from '../errors.js';

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

/** Turns thrown errors into one JSON shape: AlsError by the table, fastify's by their status, anything else 500. */
export function setErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AlsError | Error, request, reply) => {
    if (error instanceof AlsError) {
      const status = HTTP_STATUS[error.code];
      return reply.status(status).send({ statusCode: status, code: error.code, error: statusText(status), message: error.message });
    }
    const status = (error as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.status(status).send({ statusCode: status, code: (error as FastifyError).code ?? 'bad-request', error: statusText(status), message: error.message });
    }
    request.log.error({ err: error }, 'internal error');
    return reply.status(500).send({ statusCode: 500, code: 'internal', error: statusText(500), message: 'internal error (a bug; see the server log)' });
  });
}

function statusText(status: number): string {
  return (
    { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 413: 'Payload Too Large', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' }[status] ??
    'Error'
  );
}
