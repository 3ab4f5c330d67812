import { loadedVersion } from '../model/load.js';
import type { AlsModel } from '../model/model.js';
import { singleQueries } from './queries.js';
import type { ModelLease, ModelSource, ServedModel } from './servedModel.js';

/**
 * Holds the live model and hands it to requests. (Skeleton: a model given in memory, never
 * replaced. Reload from a directory, retiring the old model when its last request is done,
 * comes with the reload work.)
 */
export class ModelHolder implements ModelSource {
  private live: ServedModel | null = null;

  static fromModel(model: AlsModel): ModelHolder {
    const holder = new ModelHolder();
    const version = loadedVersion(model)?.version ?? 'memory';
    holder.live = { model, version, dir: loadedVersion(model)?.dir ?? null, loadedAt: new Date(), queries: singleQueries(model) };
    return holder;
  }

  acquire(): ModelLease | null {
    const served = this.live;
    if (served === null) return null;
    return { served, release() {} };
  }

  close(): void {
    this.live?.queries.dispose();
    this.live = null;
  }
}
