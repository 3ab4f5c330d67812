import type { FastifyInstance } from 'fastify';
import { foldIn, foldInUserRow } from '../als/foldIn.js';
import { isStoredCount } from '../data/rows.js';
import { AlsError } from '../errors.js';
import type { AlsModel } from '../model/model.js';
import { explainedRecommendations, withStoredScores } from '../query/explain.js';
import { resolveItemList, type ListedItem } from '../query/listened.js';
import { closestNames } from '../query/lookup.js';
import { errorBody, HTTP_STATUS, NotFoundError } from './errors.js';
import { withLease } from './lease.js';
import { excludeRows, leaveOut, scoredItem, suggestionBudget, SUGGESTIONS, userRow } from './names.js';
import { COUNT, errorResponses, EXCLUDE, LIMITS, NAME, PLAYS, SCORED_ITEMS } from './schemas.js';
import type { ModelSource, ServedModel } from './servedModel.js';

/** Contributions listed per explained item (the rest are summed in `others`), as `als recommend --explain`. */
const EXPLAINED_CONTRIBUTIONS = 3;

const EXPLAIN = {
  type: 'boolean',
  default: false,
  description: `rank by the exactly re-solved user vector and explain each item (n × the played or listed items at most ${LIMITS.explainedTerms}, else 400)`,
} as const;

const RECOMMENDATIONS = {
  200: {
    type: 'object',
    properties: { version: { type: 'string' }, user: { type: 'string' }, recommendations: SCORED_ITEMS },
    required: ['version', 'user', 'recommendations'],
  },
} as const;

const userSchema = {
  summary: 'Recommendations for a user of the model',
  description:
    'The best items for a known user by the dot product of user and item factors, as `als recommend`: played items are left out ' +
    "unless includePlayed. With explain, the ranking is the exactly re-solved vector's, each item is explained and `stored` gives its score under the stored vector.",
  tags: ['queries'],
  params: { type: 'object', properties: { user: { ...NAME, description: 'user id (exact)' } }, required: ['user'] },
  querystring: {
    type: 'object',
    properties: { n: COUNT, explain: EXPLAIN, includePlayed: { type: 'boolean', default: false }, exclude: EXCLUDE },
    additionalProperties: false,
  },
  response: { ...RECOMMENDATIONS, ...errorResponses(404) },
};

const anonymousSchema = {
  summary: 'Recommendations for a listener not in the model',
  description:
    "Folds a list of items (with plays, or the model's median plays) into one user vector, exactly as training solves a user, and recommends for it; " +
    'the listed items are left out. Names not in the model are returned in `unknown` with suggestions; when none is known the answer is 404.',
  tags: ['queries'],
  body: {
    type: 'object',
    properties: {
      items: {
        type: 'array',
        minItems: 1,
        maxItems: LIMITS.list,
        items: {
          type: 'object',
          properties: {
            name: NAME,
            plays: { ...PLAYS, description: "plays of the item (default: the model's median plays)" },
          },
          required: ['name'],
          additionalProperties: false,
        },
      },
      n: COUNT,
      explain: EXPLAIN,
      exclude: EXCLUDE,
    },
    required: ['items'],
    additionalProperties: false,
  },
  response: {
    200: {
      type: 'object',
      properties: {
        version: { type: 'string' },
        found: {
          type: 'array',
          description:
            'the listed items found, by their names in the model, with their plays (an item listed twice: summed)',
          items: {
            type: 'object',
            properties: { name: { type: 'string' }, plays: { type: 'number' } },
            required: ['name', 'plays'],
          },
        },
        unknown: {
          type: 'array',
          description: 'listed names not in the model',
          items: {
            type: 'object',
            properties: { name: { type: 'string' }, suggestions: { type: 'array', items: { type: 'string' } } },
            required: ['name', 'suggestions'],
          },
        },
        recommendations: SCORED_ITEMS,
      },
      required: ['version', 'found', 'unknown', 'recommendations'],
    },
    ...errorResponses(404, 413, 415),
  },
};

const batchSchema = {
  summary: 'Recommendations for many users of the model',
  description:
    'GET /api/recommend/{user} for each user of the list; an unknown user gets an error entry and does not fail the batch. users × n may be at most ' +
    LIMITS.batchItems +
    ' (400 above).',
  tags: ['queries'],
  body: {
    type: 'object',
    properties: {
      users: { type: 'array', minItems: 1, maxItems: LIMITS.list, items: NAME },
      n: COUNT,
      exclude: EXCLUDE,
    },
    required: ['users'],
    additionalProperties: false,
  },
  response: {
    200: {
      type: 'object',
      properties: {
        version: { type: 'string' },
        results: {
          type: 'array',
          items: {
            type: 'object',
            properties: { user: { type: 'string' }, recommendations: SCORED_ITEMS, error: { $ref: 'error#' } },
            required: ['user'],
          },
        },
      },
      required: ['version', 'results'],
    },
    ...errorResponses(413, 415),
  },
};

interface UserRequest {
  Params: { user: string };
  Querystring: { n: number; explain: boolean; includePlayed: boolean; exclude?: string[] };
}

interface AnonymousRequest {
  Body: { items: ListedItem[]; n: number; explain: boolean; exclude?: string[] };
}

interface BatchRequest {
  Body: { users: string[]; n: number; exclude?: string[] };
}

/** Users of a batch queued at once: 4 blocks of SERVING_BLOCK, 1/16 of the default queue. */
const BATCH_CHUNK = 64;

/** Unknown users of a batch, and unknown names of a list, that get suggestions: each costs a pass over the names. */
const SUGGESTED_UNKNOWNS = 5;

/** Refuses an explain whose n × played items exceed LIMITS.explainedTerms (computed on the event loop). */
function checkExplained(n: number, played: number, what: string): void {
  if (n * played > LIMITS.explainedTerms) {
    throw new AlsError(
      'usage',
      `n × ${what} must be at most ${LIMITS.explainedTerms} with explain (here ${n} × ${played}): ask for a smaller n`,
    );
  }
}

/** The recommendations of user row `user` under the stored vector, through the served queries. */
async function recommendRow({ model, queries }: ServedModel, user: number, count: number, leftOut: number[]) {
  const x = await queries.userVector(user);
  const recommendations = await queries.recommendForVector(x, { count, exclude: leftOut });
  return recommendations.map((r) => scoredItem(model, r));
}

/** The played items of user row `user`. */
function playedBy(model: AlsModel, user: number): Int32Array {
  const { indptr, indices } = model.userItems;
  return indices.subarray(indptr[user], indptr[user + 1]);
}

/**
 * explainUser with the request's exclude: the user re-solved exactly from its plays, ranked and
 * explained by that vector, `stored` the score under the stored vector.
 */
async function explainRow({ model, queries }: ServedModel, user: number, count: number, leftOut: number[]) {
  const x = await queries.userVector(user);
  const explained = await queries.withKernels((kernels) =>
    explainedRecommendations(
      model,
      foldInUserRow(model, user),
      { count, top: EXPLAINED_CONTRIBUTIONS, kernels },
      leftOut,
    ),
  );
  return withStoredScores(explained, model, x).map((r) => ({ ...scoredItem(model, r), stored: r.stored }));
}

/** POST /api/recommend, GET /api/recommend/:user, POST /api/recommend/batch (als recommend, --items, --explain). */
export async function recommendRoutes(app: FastifyInstance, { source }: { source: ModelSource }): Promise<void> {
  app.get<UserRequest>('/api/recommend/:user', { schema: userSchema }, (request) =>
    withLease(source, async (served) => {
      const { model, version } = served;
      const { n, explain, includePlayed, exclude } = request.query;
      const user = userRow(model, request.params.user);
      if (explain) checkExplained(n, playedBy(model, user).length, "the user's played items");
      const leftOut = leaveOut(includePlayed ? [] : playedBy(model, user), excludeRows(model, exclude));
      const recommendations = explain
        ? await explainRow(served, user, n, leftOut)
        : await recommendRow(served, user, n, leftOut);
      return { version, user: model.userIds[user], recommendations };
    }),
  );

  app.post<AnonymousRequest>('/api/recommend', { schema: anonymousSchema }, (request) =>
    withLease(source, async ({ model, version, queries }) => {
      const { items, n, explain, exclude } = request.body;
      items.forEach((item, k) => {
        // above 0 as stored (float32): the schema lets 1e-300 through, which would be a count of 0
        if (item.plays !== undefined && !isStoredCount(item.plays)) {
          throw new AlsError(
            'usage',
            `body/items[${k}].plays must be at least 1.4e-45 (a count above 0 as stored in float32)`,
          );
        }
      });
      const resolved = resolveItemList(model, items);
      const unknown = resolved.unknown.map(({ name }, k) => ({
        name,
        suggestions:
          k < SUGGESTED_UNKNOWNS
            ? suggestionBudget.spend(() => closestNames(model.itemNames, name, SUGGESTIONS), [])
            : [],
      }));
      if (resolved.found.length === 0) {
        const suggestions = [...new Set(unknown.flatMap((u) => u.suggestions))].slice(0, SUGGESTIONS);
        throw new NotFoundError(
          `none of the ${items.length === 1 ? 'item' : `${items.length} items`} listed in items is in the model`,
          suggestions,
        );
      }
      if (explain) checkExplained(n, resolved.found.length, 'the items found');
      const folded = foldIn(model, resolved.plays);
      const leftOut = leaveOut(resolved.plays.items, excludeRows(model, exclude));
      const recommendations = explain
        ? await queries.withKernels((kernels) =>
            explainedRecommendations(model, folded, { count: n, top: EXPLAINED_CONTRIBUTIONS, kernels }, leftOut),
          )
        : await queries.recommendForVector(Float32Array.from(folded.x), { count: n, exclude: leftOut });
      return {
        version,
        found: resolved.found.map(({ name, plays }) => ({ name, plays })),
        unknown,
        recommendations: recommendations.map((r) => scoredItem(model, r)),
      };
    }),
  );

  app.post<BatchRequest>('/api/recommend/batch', { schema: batchSchema }, (request) =>
    withLease(source, async (served) => {
      const { model, version } = served;
      const { users, n, exclude } = request.body;
      if (users.length * n > LIMITS.batchItems) {
        throw new AlsError(
          'usage',
          `body: users × n must be at most ${LIMITS.batchItems} (here ${users.length} × ${n}): ask for fewer users or a smaller n`,
        );
      }
      const excluded = excludeRows(model, exclude);
      let unknownUsers = 0;
      // the users of a chunk are started before any is awaited, so that a batching ModelQueries can
      // score them together; chunk after chunk, so that one batch never holds more than
      // BATCH_CHUNK places of the query queue (1000 at once left others a 429)
      const answer = async (id: string) => {
        let user: number;
        try {
          user = userRow(model, id, unknownUsers < SUGGESTED_UNKNOWNS);
        } catch (error) {
          // one bad id (unknown, or blank) fails its own entry, not the batch
          if (!(error instanceof AlsError)) throw error;
          if (error instanceof NotFoundError) unknownUsers++;
          const suggestions = error instanceof NotFoundError ? error.suggestions : undefined;
          return { user: id, error: errorBody(HTTP_STATUS[error.code], error.code, error.message, suggestions) };
        }
        return {
          user: model.userIds[user],
          recommendations: await recommendRow(served, user, n, leaveOut(playedBy(model, user), excluded)),
        };
      };
      const results = [];
      for (let start = 0; start < users.length; start += BATCH_CHUNK) {
        results.push(...(await Promise.all(users.slice(start, start + BATCH_CHUNK).map(answer))));
      }
      return { version, results };
    }),
  );
}
