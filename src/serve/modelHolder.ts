import { setImmediate as nextTurn } from 'node:timers/promises';
import { EventEmitter } from 'node:events';
import { describeModelDirectory } from '../model/files.js';
import { userFactorRows, type FactorRows } from '../model/fileRows.js';
import { closeModel, loadModel, loadedVersion } from '../model/load.js';
import type { AlsModel } from '../model/model.js';
import { AlsError } from '../errors.js';
import { prepareServing, type ServingOptions } from './queries.js';
import type { ModelLease, ModelSource, ServedModel } from './servedModel.js';
import { currentVersion, DEFAULT_POLL_MS, flatVersion, watchModelDirectory, type DirectoryWatch } from './watch.js';

export { DEFAULT_POLL_MS } from './watch.js';
/** Options of a ModelHolder over a model directory. */
export interface ModelHolderOptions extends ServingOptions {
  /**
   * Reload when the directory's live version changes (fs.watch on M/.als, plus a poll).
   * @default true
   */
  watch?: boolean;
  /**
   * Milliseconds between two looks at the live version (the fallback when fs.watch misses a
   * switch); 0: no poll.
   * @default 1000
   */
  pollMs?: number;
}

/** Why a load happened. */
export type LoadReason = 'start' | 'change' | 'request' | (string & {});

/** What one reload did. */
export type ReloadOutcome =
  | { status: 'loaded'; version: string; previous: string | null; ms: number }
  | { status: 'unchanged'; version: string }
  | { status: 'failed'; error: Error; ms: number }
  | { status: 'closed' };

/** Events of a ModelHolder (EventEmitter), for logs and metrics. */
export interface ModelHolderEvents {
  /** a model became the live one (the first load too; `previous` null then) */
  loaded: [{ version: string; previous: string | null; reason: LoadReason; ms: number; users: number; items: number }];
  /** a load failed; the model that was live (if any) keeps serving */
  loadFailed: [{ error: Error; reason: LoadReason; ms: number; serving: string | null }];
  /** a replaced model was freed, its last request done */
  disposed: [{ version: string }];
}

/** Counts kept by a holder (metrics read them at scrape time). */
export interface HolderStats {
  /** successful loads after the first */
  reloads: number;
  /** failed loads, the first included */
  failures: number;
  /** leases not yet released, over every model held */
  leases: number;
  /** replaced models still held by a request */
  retiring: number;
}

interface Slot {
  served: ServedModel;
  leases: number;
  retired: boolean;
  disposed: boolean;
}

/**
 * Holds the live model and hands it to requests as leases. A reload loads the new model beside
 * the old one, switches atomically (the next acquire gets the new one, requests already running
 * finish on the old one) and frees the old one when its last lease is released. A load that
 * fails leaves the live model serving and is reported ('loadFailed'). Reloads never run in
 * parallel: one asked while another runs waits for it, and several asked meanwhile are one.
 */
export class ModelHolder extends EventEmitter<ModelHolderEvents> implements ModelSource {
  /** the model directory, or null for a model handed over in memory */
  readonly dir: string | null;
  private readonly options: ModelHolderOptions;
  private live: Slot | null = null;
  private readonly retiring = new Set<Slot>();
  private running: Promise<ReloadOutcome> | null = null;
  private queued: Promise<ReloadOutcome> | null = null;
  /** the version whose load failed: a change to it is not tried again until asked or changed */
  private failedVersion: string | null = null;
  private watcher: DirectoryWatch | null = null;
  private closed = false;
  private counts = { reloads: 0, failures: 0, leases: 0 };

  /**
   * A holder over the model directory `dir`, with no model yet (acquire() gives null until the
   * first reload()). ModelHolder.fromDirectory loads and watches at once.
   */
  constructor(dir: string | null, options: ModelHolderOptions = {}) {
    super();
    this.dir = dir;
    this.options = options;
  }

  /**
   * Loads the model in `dir` (every part read and checked now), prepares it for serving and,
   * unless `watch` is false, reloads whenever the directory's live version changes.
   *
   * @throws {AlsError} 'model' when the model is missing or corrupt; 'usage' for a bad path
   */
  static async fromDirectory(dir: string, options: ModelHolderOptions = {}): Promise<ModelHolder> {
    const holder = new ModelHolder(dir, options);
    const outcome = await holder.reload({ force: true, reason: 'start' });
    if (outcome.status === 'failed') throw outcome.error;
    if (options.watch ?? true) holder.watch();
    return holder;
  }

  /** A holder of a model already loaded (embedding in an app): never reloaded. */
  static async fromModel(model: AlsModel, options: ServingOptions = {}): Promise<ModelHolder> {
    const holder = new ModelHolder(null, { ...options, watch: false });
    const started = performance.now();
    // the app may go on using the model: its user factors are read here, not taken into a file's rows
    void model.userFactors;
    await touchEveryPart(model);
    const served = await serve(model, null, options);
    holder.install({ served, leases: 0, retired: false, disposed: false }, 'start', performance.now() - started);
    return holder;
  }

  /** the live model, or null before the first load and after close() */
  get current(): ServedModel | null {
    return this.live?.served ?? null;
  }

  /** the live model's version, or null */
  get version(): string | null {
    return this.live?.served.version ?? null;
  }

  /** Counts of loads, failures and leases. */
  stats(): HolderStats {
    return { ...this.counts, retiring: this.retiring.size };
  }

  acquire(): ModelLease | null {
    const slot = this.live;
    if (slot === null) return null;
    slot.leases++;
    this.counts.leases++;
    let released = false;
    return {
      served: slot.served,
      release: () => {
        if (released) return;
        released = true;
        slot.leases--;
        this.counts.leases--;
        if (slot.retired && slot.leases === 0) this.dispose(slot);
      },
    };
  }

  /**
   * Loads the directory's live version and makes it the live model. Without `force`, nothing is
   * loaded when the live version is already the one served. Resolves, never rejects: a failure
   * is the outcome 'failed' (and the event 'loadFailed'), the old model serving on.
   */
  reload(options: { force?: boolean; reason?: LoadReason } = {}): Promise<ReloadOutcome> {
    if (this.closed) return Promise.resolve({ status: 'closed' });
    if (this.queued !== null) return this.queued;
    if (this.running !== null) {
      const queued = this.running.then(() => {
        this.queued = null;
        return this.start(options);
      });
      this.queued = queued;
      return queued;
    }
    return this.start(options);
  }

  private start(options: { force?: boolean; reason?: LoadReason }): Promise<ReloadOutcome> {
    const run = this.loadAndSwitch(options.force ?? false, options.reason ?? 'request').finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }

  private async loadAndSwitch(force: boolean, reason: LoadReason): Promise<ReloadOutcome> {
    if (this.closed) return { status: 'closed' };
    if (this.dir === null) {
      const error = new AlsError(
        'usage',
        'this model was handed over in memory: there is no directory to reload it from',
      );
      return this.failed(error, reason, 0);
    }
    const started = performance.now();
    // the version asked for, read before loading: a failure marks this one, not one written meanwhile
    const target = currentVersion(this.dir);
    if (!force && this.live !== null && target === this.live.served.version)
      return { status: 'unchanged', version: target };
    let slot: Slot;
    let model: AlsModel | null = null;
    let userRows: FactorRows | null = null;
    try {
      model = loadModel(this.dir);
      // the user factors stay in their file, a row read per request (92 MB less at the 360K
      // shape): checked whole here, in chunks between which requests run
      userRows = await userFactorRows(model);
      // let requests run between the parts: each read and checksum blocks the event loop
      await touchEveryPart(model);
      const served = await serve(model, this.dir, this.options, userRows);
      userRows = null;
      // the loaded model is not kept: prepareServing closed its files and serves its own parts
      // (kept, its arrays would stay in memory beside them: the plays before the items were renumbered)
      slot = { served, leases: 0, retired: false, disposed: false };
    } catch (error) {
      if (model !== null) closeModel(model);
      void userRows?.close();
      return this.failed(error as Error, reason, performance.now() - started, target);
    }
    if (this.closed) {
      this.dispose(slot);
      return { status: 'closed' };
    }
    const previous = this.live?.served.version ?? null;
    const ms = performance.now() - started;
    this.install(slot, reason, ms);
    return { status: 'loaded', version: slot.served.version, previous, ms };
  }

  private install(slot: Slot, reason: LoadReason, ms: number): void {
    const old = this.live;
    const previous = old?.served.version ?? null;
    this.live = slot;
    this.failedVersion = null;
    if (old !== null) this.counts.reloads++;
    const { model, version } = slot.served;
    this.emit('loaded', { version, previous, reason, ms, users: model.users, items: model.items });
    if (old !== null) this.retire(old);
  }

  private failed(error: Error, reason: LoadReason, ms: number, version: string | null = null): ReloadOutcome {
    this.counts.failures++;
    this.failedVersion = version;
    this.emit('loadFailed', { error, reason, ms, serving: this.version });
    return { status: 'failed', error, ms };
  }

  private retire(slot: Slot): void {
    slot.retired = true;
    if (slot.leases === 0) this.dispose(slot);
    else this.retiring.add(slot);
  }

  private dispose(slot: Slot): void {
    if (slot.disposed) return;
    slot.disposed = true;
    this.retiring.delete(slot);
    slot.served.queries.dispose();
    this.emit('disposed', { version: slot.served.version });
  }

  /** Starts reloading on a change of the directory's live version (fs.watch and the poll). */
  watch(): void {
    if (this.dir === null || this.watcher !== null || this.closed) return;
    this.watcher = watchModelDirectory(this.dir, {
      pollMs: this.options.pollMs ?? DEFAULT_POLL_MS,
      onChange: (version) => {
        // a version that failed is not tried again every second; a new one (or SIGHUP) is
        if (version === this.version || version === this.failedVersion) return;
        void this.reload({ reason: 'change' });
      },
    });
  }

  /** Stops watching and frees the live model once its last request is done; acquire() then gives null. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.close();
    this.watcher = null;
    const slot = this.live;
    this.live = null;
    if (slot !== null) this.retire(slot);
  }
}

/**
 * Reads every part of a loaded model, so that a corrupt file fails the load and not a request;
 * the user factors are checked by prepareServing, which keeps them in their file.
 */
async function touchEveryPart(model: AlsModel): Promise<void> {
  const parts = [
    () => model.userIds,
    () => model.itemNames,
    () => model.itemUserCounts,
    () => model.itemFactors,
    () => model.userItems,
  ];
  for (const part of parts) {
    part();
    await nextTurn();
  }
}

async function serve(
  model: AlsModel,
  dir: string | null,
  options: ServingOptions,
  userRows?: FactorRows,
): Promise<ServedModel> {
  const where = loadedVersion(model);
  const directory = where === null ? null : describeModelDirectory(model);
  const { threads, block, maxWaiting, cacheItems, compact } = options;
  const prepared = await prepareServing(model, { threads, block, maxWaiting, cacheItems, compact }, userRows);
  const version = where === null ? 'memory' : (where.version ?? flatVersion(where.root) ?? 'flat');
  return {
    model: prepared.model,
    version,
    dir: where?.dir ?? dir,
    loadedAt: new Date(),
    directory,
    queries: prepared.queries,
  };
}
