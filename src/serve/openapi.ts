import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { isOpenRoute } from './auth.js';

/** The package's version, for the document's info (dist/src/serve → the package root). */
function packageVersion(): string {
  const text = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

/**
 * Collects the OpenAPI 3 document from the route schemas (@fastify/swagger: must be registered
 * before the routes) and serves it at GET /openapi.json. Shared shapes keep their $id as their
 * name under components/schemas. Protected routes list the API key schemes, which apply only
 * when the server was given a key.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      // 3.1: its schemas are JSON Schema (type lists with null, numeric exclusiveMinimum), as ajv reads them
      openapi: '3.1.0',
      info: {
        title: 'als serve',
        version: packageVersion(),
        description:
          'Recommendations and similar items from an als model (implicit-feedback ALS). Every error has one body shape (components/schemas/error). ' +
          'When the server has an API key, /api/* and /metrics need it (Authorization: Bearer KEY, or x-api-key: KEY); /health/*, the page and this document are open.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'the API key, when the server has one' },
          apiKey: {
            type: 'apiKey',
            in: 'header',
            name: 'x-api-key',
            description: 'the API key, when the server has one',
          },
        },
      },
      tags: [
        { name: 'queries', description: 'similar items, recommendations, item search' },
        { name: 'model', description: 'the served model' },
      ],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
    transform: ({ schema, url }) => {
      const transformed = { ...(schema ?? {}) } as Record<string, unknown>;
      if (!isOpenRoute(url)) transformed.security = [{ bearer: [] }, { apiKey: [] }];
      return { schema: transformed as typeof schema, url };
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
}

/**
 * The OpenAPI document of the app, built without a model (docs/openapi.json, written by
 * scripts/openapi.js). Imported lazily: server.ts imports this file.
 */
export async function openApiDocument(): Promise<unknown> {
  const { buildApp } = await import('./server.js');
  const { ModelHolder } = await import('./modelHolder.js');
  const app = await buildApp({ holder: new ModelHolder(null) });
  try {
    await app.ready();
    return app.swagger();
  } finally {
    await app.close();
  }
}
