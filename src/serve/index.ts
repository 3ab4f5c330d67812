/**
 * als serve as a library: the HTTP app over a model, for embedding in an existing process.
 *
 *   import { loadModel } from 'als';
 *   import { buildApp, ModelHolder } from 'als/serve';
 *   // a model in memory, never reloaded:
 *   const app = await buildApp({ model: loadModel('./als-model') });
 *   // or a directory, reloaded when train or update replaces it:
 *   const holder = await ModelHolder.fromDirectory('./als-model');
 *   const app2 = await buildApp({ holder });
 *   await app2.listen({ port: 8080 });
 */
export { buildApp, type ServeOptions } from './server.js';
export {
  ModelHolder,
  DEFAULT_POLL_MS,
  type HolderStats,
  type LoadReason,
  type ModelHolderEvents,
  type ModelHolderOptions,
  type ReloadOutcome,
} from './modelHolder.js';
export type { ModelLease, ModelSource, ServedModel } from './servedModel.js';
export type { ServingOptions } from './queries.js';
