import type { ModelDirectory } from '../model/files.js';
import type { AlsModel } from '../model/model.js';
import type { ModelQueries } from './queries.js';

/**
 * One model as the server holds it: every part read and checked at load (a bad model stops the
 * load, never a request), with what its queries need prepared.
 */
export interface ServedModel {
  readonly model: AlsModel;
  /** changes with every train or update of the directory (the store's version name) */
  readonly version: string;
  /** the model directory it was loaded from, or null for a model handed over in memory */
  readonly dir: string | null;
  readonly loadedAt: Date;
  /**
   * the files, sizes and timings of the version loaded (describeModelDirectory), taken before
   * prepareServing made its copy; null for a model built in memory
   */
  readonly directory: ModelDirectory | null;
  /** scoring for this model (batched where many requests arrive together) */
  readonly queries: ModelQueries;
}

/** A ServedModel held by a request until its response is sent; the holder frees retired models. */
export interface ModelLease {
  readonly served: ServedModel;
  release(): void;
}

/** Where routes get the model to answer from (src/serve/modelHolder.ts). */
export interface ModelSource {
  /** the live model for one request, or null when none is loaded yet */
  acquire(): ModelLease | null;
}
