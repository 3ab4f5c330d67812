import { loadedVersion } from '../model/load.js';
import type { AlsModel } from '../model/model.js';
import { prepareServing, type ServingOptions } from './queries.js';
import type { ModelLease, ModelSource, ServedModel } from './servedModel.js';

/**
 * Holds the live model and hands it to requests. (Skeleton: a model given in memory, never
 * replaced. Loading from a directory, reload on change and SIGHUP, retiring the old model when
 * its last request is done, come with the reload work.)
 */
export class ModelHolder implements ModelSource {
  private live: ServedModel | null = null;

  static async fromModel(model: AlsModel, options: ServingOptions = {}): Promise<ModelHolder> {
    const holder = new ModelHolder();
    const prepared = await prepareServing(model, options);
    const version = loadedVersion(model)?.version ?? 'memory';
    holder.live = { model: prepared.model, version, dir: loadedVersion(model)?.dir ?? null, loadedAt: new Date(), queries: prepared.queries };
    return holder;
  }

  acquire(): ModelLease | null {
    const served = this.live;
    if (served === null) return null;
    return { served, release() {} };
  }

  /** Frees the live model; further acquire() gives null. */
  close(): void {
    this.live?.queries.dispose();
    this.live = null;
  }
}
