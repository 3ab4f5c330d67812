import type { FastifyInstance } from 'fastify';
import { FORMAT_NAME, FORMAT_VERSION } from '../model/format.js';
import { withLease } from './lease.js';
import { errorResponses } from './schemas.js';
import type { ModelSource } from './servedModel.js';

const NULLABLE_OBJECT = { type: ['object', 'null'], additionalProperties: true } as const;

const schema = {
  summary: 'The served model',
  description:
    "The fields of `als info --json` (the format's version as formatVersion), the served version (changes with every train or update), " +
    'when it was loaded and its directory. A model handed over in memory has no directory: dir, files, totalBytes, modified and seconds are null.',
  tags: ['model'],
  response: {
    200: {
      type: 'object',
      properties: {
        version: { type: 'string', description: "the store's version name; changes with every train or update" },
        loadedAt: { type: 'string', format: 'date-time' },
        dir: { type: ['string', 'null'] },
        format: { type: 'string' },
        formatVersion: { type: 'integer' },
        users: { type: 'integer' },
        items: { type: 'integer' },
        factors: { type: 'integer' },
        interactions: { type: 'integer' },
        options: { type: 'object', additionalProperties: true, description: 'the training options' },
        input: { ...NULLABLE_OBJECT, description: 'what was read to train the model' },
        seconds: {
          type: ['object', 'null'],
          additionalProperties: { type: 'number' },
          description: 'seconds per phase (timings.json)',
        },
        losses: { type: ['array', 'null'], items: { type: 'number' } },
        files: {
          type: ['array', 'null'],
          items: {
            type: 'object',
            properties: { name: { type: 'string' }, bytes: { type: 'integer' } },
            required: ['name', 'bytes'],
          },
        },
        totalBytes: { type: ['integer', 'null'] },
        modified: { type: ['string', 'null'], format: 'date-time', description: 'when model.json was written' },
      },
      required: [
        'version',
        'loadedAt',
        'dir',
        'format',
        'formatVersion',
        'users',
        'items',
        'factors',
        'interactions',
        'options',
      ],
    },
    ...errorResponses(),
  },
};

/** GET /api/model — the served model's description (als info --json) and version. */
export async function modelRoutes(app: FastifyInstance, { source }: { source: ModelSource }): Promise<void> {
  app.get('/api/model', { schema }, () =>
    withLease(source, ({ model, version, loadedAt, dir, directory }) => {
      return {
        version,
        loadedAt: loadedAt.toISOString(),
        dir,
        format: FORMAT_NAME,
        formatVersion: FORMAT_VERSION,
        users: model.users,
        items: model.items,
        factors: model.factors,
        interactions: model.userItems.indptr[model.users],
        options: model.options,
        input: model.input,
        seconds: directory?.timings ?? null,
        losses: model.losses,
        files: directory?.files ?? null,
        totalBytes: directory?.totalBytes ?? null,
        modified: directory?.modified.toISOString() ?? null,
      };
    }),
  );
}
