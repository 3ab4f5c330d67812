import type { FastifyInstance } from 'fastify';
import { MAX_COUNT } from '../data/rows.js';

/** Limits of what one request may ask for (the contract's "Limits"). */
export const LIMITS = {
  /** results per query (n) */
  count: 1000,
  /** results of the item search (GET /api/items) */
  searchCount: 100,
  /** entries of a list in a body (items, users) */
  list: 1000,
  /** characters of a name or id */
  name: 1000,
  /** names in exclude */
  exclude: 1000,
  /**
   * listed items of a batch in all (users × n): each costs about 7 µs on the event loop (its
   * JSON), so 20,000 hold it about 0.15 s, where 1000 × 1000 held it 7 s
   */
  batchItems: 20_000,
  /**
   * terms of explanations (n × the played or listed items) with explain: they are computed on
   * the event loop, about 4 µs each; 1000 × 1000 held it 0.43 s
   */
  explainedTerms: 100_000,
} as const;

/** Request bodies above this many bytes are refused with 413 (fastify's bodyLimit). */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** The shared shapes, registered once with $id and referenced as `{ $ref: 'scoredItem#' }`. */
export const SHARED_SCHEMAS = [
  {
    $id: 'error',
    type: 'object',
    description: 'The body of every error response.',
    properties: {
      statusCode: { type: 'integer' },
      code: {
        type: 'string',
        description: "AlsError code (usage, input, model, output, not-found), or fastify's (FST_ERR_VALIDATION, …)",
      },
      error: { type: 'string', description: 'the HTTP status text' },
      message: { type: 'string' },
      suggestions: {
        type: 'array',
        items: { type: 'string' },
        description: 'close names, for a user or item that is not in the model',
      },
    },
    required: ['statusCode', 'code', 'error', 'message'],
  },
  {
    $id: 'explanation',
    type: 'object',
    description:
      'Why an item is recommended: its score under the exactly re-solved user vector, split into one term per played item (Hu, Koren & Volinsky 2008, section 5).',
    properties: {
      score: { type: 'number' },
      contributions: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            value: { type: 'number' },
            share: { type: ['number', 'null'], description: 'value / score (null when the score is 0)' },
          },
          required: ['name', 'value', 'share'],
        },
      },
      others: {
        type: 'object',
        description: 'every other played item, summed',
        properties: { items: { type: 'integer' }, value: { type: 'number' }, share: { type: ['number', 'null'] } },
        required: ['items', 'value', 'share'],
      },
    },
    required: ['score', 'contributions', 'others'],
  },
  {
    $id: 'scoredItem',
    type: 'object',
    properties: {
      name: { type: 'string' },
      score: { type: 'number', description: 'min-max scaled to 0..1 over the candidates' },
      raw: {
        type: 'number',
        description: 'the unscaled score (cosine similarity, or the dot product of user and item factors)',
      },
      users: { type: 'integer', description: "the item's distinct users in the model" },
      explanation: { $ref: 'explanation#' },
      stored: {
        type: 'number',
        description:
          "with explain, a known user's score under the stored vector (the ranking is the re-solved vector's)",
      },
    },
    required: ['name', 'score', 'raw', 'users'],
  },
] as const;

/** Registers the shared shapes on `app` (before the routes that reference them). */
export function addSharedSchemas(app: FastifyInstance): void {
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
}

const ERROR_TEXT: Record<number, string> = {
  400: 'malformed request (the message names the field)',
  401: 'missing or wrong API key',
  404: 'unknown user or item (with suggestions)',
  413: 'body larger than the limit',
  415: 'body not JSON',
  429: 'too many queries waiting',
  500: 'internal error (a bug)',
  503: 'no model loaded',
};

/**
 * Response schemas of the error statuses a route can send: every /api route may be malformed
 * (400), refused (401), hit a full queue (429), fail (500) or have no model (503); `more` adds
 * the route's own (404 unknown name, 413 body too large, 415 body not JSON).
 */
export function errorResponses(...more: number[]): Record<number, { description: string; $ref: 'error#' }> {
  const statuses = [...new Set([400, 401, 429, 500, 503, ...more])].sort((a, b) => a - b);
  return Object.fromEntries(
    statuses.map((status) => [status, { description: ERROR_TEXT[status], $ref: 'error#' as const }]),
  );
}

/**
 * `x-finite: true`: the number is finite. ajv coerces "Infinity" or "1e400" in a querystring to
 * Infinity and then skips minimum/maximum for a non-finite number (ajv 8.20), so a bound
 * alone lets n=Infinity through.
 */
export const FINITE = 'x-finite';

/** Adds the x-finite keyword to fastify's ajv (its `ajv.plugins` option). */
export function finiteKeyword<A extends { addKeyword(definition: never): unknown }>(ajv: A): A {
  const validate = (wanted: boolean, data: unknown): boolean => {
    if (!wanted || Number.isFinite(data)) return true;
    validate.errors = [{ keyword: FINITE, message: 'must be a finite number', params: {} }];
    return false;
  };
  validate.errors = null as null | object[];
  // no `type: 'number'`: ajv's number type excludes Infinity, so the keyword would never see it
  ajv.addKeyword({ keyword: FINITE, schemaType: 'boolean', errors: true, validate } as never);
  return ajv;
}

/** A name or id as a request gives it. */
export const NAME = { type: 'string', minLength: 1, maxLength: LIMITS.name } as const;

/** How many results: n. */
export const COUNT = { type: 'integer', minimum: 1, maximum: LIMITS.count, default: 10, [FINITE]: true } as const;

/** Items never to return, by name; names not in the model are ignored. */
export const EXCLUDE = {
  type: 'array',
  items: NAME,
  maxItems: LIMITS.exclude,
  description: 'item names never to return (names not in the model are ignored)',
} as const;

/** A play count given for an item (a count as als stores it). */
export const PLAYS = { type: 'number', exclusiveMinimum: 0, maximum: MAX_COUNT } as const;

/** The list of scored items of a response. */
export const SCORED_ITEMS = { type: 'array', items: { $ref: 'scoredItem#' } } as const;
