import type { FastifyInstance } from 'fastify';
import type { AlsModel } from '../model/model.js';
import { lowerCaseNames } from '../query/lookup.js';
import { withLease } from './lease.js';
import { COUNT, errorResponses, LIMITS } from './schemas.js';
import type { ModelSource } from './servedModel.js';

const schema = {
  summary: 'Item names by prefix, for autocomplete',
  description:
    'Names that start with the prefix (case-insensitive), most users first; then names that contain it, most users first. ' +
    'An empty prefix gives the most used items.',
  tags: ['queries'],
  querystring: {
    type: 'object',
    properties: {
      prefix: { type: 'string', maxLength: LIMITS.name, default: '' },
      n: { ...COUNT, maximum: LIMITS.searchCount },
    },
    additionalProperties: false,
  },
  response: {
    200: {
      type: 'object',
      properties: {
        version: { type: 'string' },
        items: {
          type: 'array',
          items: {
            type: 'object',
            properties: { name: { type: 'string' }, users: { type: 'integer' } },
            required: ['name', 'users'],
          },
        },
      },
      required: ['version', 'items'],
    },
    ...errorResponses(),
  },
};

const byUsers = new WeakMap<Int32Array, Int32Array>();

/** Item rows by distinct users, most first (ties: lower row first), computed once per model. */
function rowsByUsers(model: AlsModel): Int32Array {
  let rows = byUsers.get(model.itemUserCounts);
  if (rows === undefined) {
    const users = model.itemUserCounts;
    rows = Int32Array.from(users.keys()).sort((a, b) => users[b] - users[a] || a - b);
    byUsers.set(model.itemUserCounts, rows);
  }
  return rows;
}

/**
 * The rows of the `count` items whose names start with `prefix` case-insensitively, then of those
 * that contain it, each group most users first: one pass over the names, stopped once `count`
 * start with it.
 */
export function searchItems(model: AlsModel, prefix: string, count: number): number[] {
  const order = rowsByUsers(model);
  const q = prefix.normalize('NFC').trimStart().toLowerCase();
  if (q.length === 0) return Array.from(order.subarray(0, count));
  const lower = lowerCaseNames(model.itemNames);
  const starts: number[] = [];
  const contains: number[] = [];
  for (let k = 0; k < order.length && starts.length < count; k++) {
    const name = lower[order[k]];
    if (name.startsWith(q)) starts.push(order[k]);
    else if (contains.length < count && name.includes(q)) contains.push(order[k]);
  }
  return starts.concat(contains).slice(0, count);
}

/** GET /api/items — item names by prefix, for autocomplete. */
export async function itemRoutes(app: FastifyInstance, { source }: { source: ModelSource }): Promise<void> {
  app.get<{ Querystring: { prefix: string; n: number } }>('/api/items', { schema }, (request) =>
    withLease(source, ({ model, version }) => ({
      version,
      items: searchItems(model, request.query.prefix, request.query.n).map((row) => ({
        name: model.itemNames[row],
        users: model.itemUserCounts[row],
      })),
    })),
  );
}
