import { createHash } from 'node:crypto';
import { closeSync, fstatSync, lstatSync, readlinkSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { MAX_FACTORS, resolveTrainOptions, type TrainOptions } from '../als/options.js';
import { badFactorWords, checkOptions, firstBadFactor, valueForMessage } from '../validate.js';
import { INPUT_FORMATS } from '../data/read.js';
import { nameListProblem, nameListProblemWords } from '../data/nameList.js';
import type { CsrMatrix } from '../data/sparse.js';
import { AlsError } from '../errors.js';
import {
  FILES,
  FORMAT_NAME,
  FORMAT_VERSION,
  ITEM_INDEX,
  MANIFEST,
  TIMINGS,
  type FileKey,
  type ItemIndexEntry,
  type Manifest,
} from './format.js';
import type { AlsModel, AppliedDefaults, ImportSummary, InputSummary, TrainedBy, UpdateSummary } from './model.js';
import { NotRegularFile, openRegular, readExactly, readInto } from '../data/regularFile.js';
import type { Kernels } from '../kernels/types.js';
import {
  checkModelPath,
  describeFsError,
  locateModel,
  MAX_MANIFEST_BYTES,
  MAX_TIMINGS_BYTES,
  topLevelLink,
  type ModelLocation,
} from './store.js';

const BYTES_PER_VALUE = { float32: 4, int32: 4 } as const;
/** rows, columns and stored counts are int32 in the files */
const MAX_INT32 = 2 ** 31 - 1;
/**
 * The escapes that can put a tab, a line feed or NUL into a JSON string (\t, \n, \u0000,
 * \u0009, \u000a/A): JSON holds no raw control character, so a text without any of them needs no
 * test of its names' characters. (An escaped backslash before a "t" matches too: a test, no harm.)
 */
const BREAKER_ESCAPES = ['\\t', '\\n', '\\u000'];

function mayHoldBreakers(json: Buffer): boolean {
  return json.includes(0x5c) && BREAKER_ESCAPES.some((escape) => json.includes(escape));
}

/** how often a read starts again when the model was replaced under it */
const MAX_ATTEMPTS = 100;

const DTYPES: Record<FileKey, 'float32' | 'int32' | 'json'> = {
  userFactors: 'float32',
  itemFactors: 'float32',
  indptr: 'int32',
  indices: 'int32',
  plays: 'float32',
  userIds: 'json',
  itemNames: 'json',
  itemUserCounts: 'int32',
};

function isCount(value: unknown, max = Number.MAX_SAFE_INTEGER): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The error of a model file that fails a check: `what` names the file and the fault. */
export function corruptModel(dir: string, what: string): AlsError {
  return new AlsError('model', `${dir}: ${what} (the model is corrupt or incomplete; train it again)`);
}

function noModel(dir: string): AlsError {
  return new AlsError('model', `no model in ${dir} (saveModel writes one)`, { field: 'dir' });
}

/** An error opening or reading `name` of the model in `dir`, as AlsError('model'). */
function fileError(dir: string, name: string, error: unknown): AlsError {
  if (error instanceof AlsError) return error;
  if (error instanceof NotRegularFile) return corruptModel(dir, `${name} ${error.message}`);
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return corruptModel(dir, `${name} is missing`);
  return new AlsError('model', `${dir}: cannot read ${name}: ${describeFsError(error)}`, { cause: error });
}

function checkInput(dir: string, input: unknown): InputSummary | null {
  if (input === null || input === undefined) return null;
  const ok =
    isObject(input) &&
    typeof input.file === 'string' &&
    (INPUT_FORMATS as readonly unknown[]).includes(input.format) &&
    ['rows', 'used', 'skipped', 'zeroCounts', 'duplicates'].every((k) => isCount(input[k])) &&
    typeof input.header === 'boolean';
  if (!ok) throw corruptModel(dir, `${MANIFEST} describes the input wrongly`);
  return input as unknown as InputSummary;
}

function checkManifest(dir: string, manifest: unknown): Manifest {
  if (!isObject(manifest) || manifest.format !== FORMAT_NAME) {
    throw new AlsError('model', `${dir}: ${MANIFEST} does not describe an als model`);
  }
  if (manifest.version !== FORMAT_VERSION) {
    const version =
      typeof manifest.version === 'number' ? manifest.version : JSON.stringify(manifest.version)?.slice(0, 20);
    throw new AlsError(
      'model',
      `${dir}: model format version ${version}, but this als reads version ${FORMAT_VERSION}; train the model again`,
    );
  }
  if (manifest.byteOrder !== 'little-endian')
    throw corruptModel(dir, `unknown byte order ${JSON.stringify(manifest.byteOrder)?.slice(0, 40)}`);
  const { users, items, factors, interactions } = manifest;
  if (!isCount(users, MAX_INT32 - 1) || !isCount(items, MAX_INT32) || !isCount(interactions, MAX_INT32)) {
    throw corruptModel(dir, `${MANIFEST} has bad shapes`);
  }
  if (!isCount(factors, MAX_FACTORS) || factors === 0)
    throw corruptModel(
      dir,
      `${MANIFEST} gives ${String(factors).slice(0, 20)} factors (1 to ${MAX_FACTORS} are possible)`,
    );
  const expectedShapes: Record<FileKey, number[]> = {
    userFactors: [users, factors],
    itemFactors: [items, factors],
    indptr: [users + 1],
    indices: [interactions],
    plays: [interactions],
    userIds: [users],
    itemNames: [items],
    itemUserCounts: [items],
  };
  if (!isObject(manifest.files)) throw corruptModel(dir, `${MANIFEST} lists no files`);
  for (const [key, shape] of Object.entries(expectedShapes)) {
    const name = FILES[key as FileKey];
    const entry = manifest.files[name];
    const dtype = DTYPES[key as FileKey];
    if (
      !isObject(entry) ||
      typeof entry.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(entry.sha256) ||
      !isCount(entry.bytes) ||
      entry.dtype !== dtype ||
      JSON.stringify(entry.shape) !== JSON.stringify(shape)
    ) {
      throw corruptModel(dir, `${MANIFEST} describes ${name} wrongly (expected shape [${shape.join(', ')}])`);
    }
    if (dtype !== 'json' && entry.bytes !== shape.reduce((a, b) => a * b, 1) * BYTES_PER_VALUE[dtype]) {
      throw corruptModel(dir, `${MANIFEST} gives ${name} a size that does not fit its shape`);
    }
  }
  if (!isObject(manifest.options)) throw corruptModel(dir, `${MANIFEST} holds no training options`);
  checkInput(dir, manifest.input);
  const training = manifest.training;
  if (training !== undefined && !isObject(training))
    throw corruptModel(dir, `${MANIFEST} describes the training wrongly`);
  const losses = training?.losses;
  if (
    losses !== undefined &&
    losses !== null &&
    !(Array.isArray(losses) && losses.every((l) => typeof l === 'number' && Number.isFinite(l)))
  ) {
    throw corruptModel(dir, `${MANIFEST} holds losses that are not a list of finite numbers`);
  }
  const defaults = training?.defaults;
  if (
    defaults !== undefined &&
    !(
      isObject(defaults) &&
      typeof defaults.rule === 'string' &&
      typeof defaults.description === 'string' &&
      isObject(defaults.options)
    )
  ) {
    throw corruptModel(dir, `${MANIFEST} holds a defaults rule that is not { rule, description, options }`);
  }
  const engine = training?.engine;
  if (engine !== undefined && !(isObject(engine) && typeof engine.engine === 'string')) {
    throw corruptModel(dir, `${MANIFEST} names the training engine wrongly`);
  }
  const updates = manifest.updates;
  if (updates !== undefined && !(Array.isArray(updates) && updates.every(isObject))) {
    throw corruptModel(dir, `${MANIFEST} holds updates that are not a list of objects`);
  }
  if (manifest.imported !== undefined && !isObject(manifest.imported))
    throw corruptModel(dir, `${MANIFEST} describes where the model was imported from wrongly`);
  if (manifest.itemIndex !== undefined) checkItemIndexEntry(dir, manifest.itemIndex, manifest.files, items);
  return manifest as unknown as Manifest;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** model.json's itemIndex and the files entry of its file, as saveModel writes them. */
function checkItemIndexEntry(dir: string, entry: unknown, files: Record<string, unknown>, items: number): void {
  const file = files[ITEM_INDEX];
  const ok =
    isObject(entry) &&
    entry.similarity === 'cosine' &&
    isCount(entry.minItemUsers) &&
    (entry.minItemUsers as number) >= 1 &&
    isCount(entry.rows, items) &&
    typeof entry.rowsSha256 === 'string' &&
    SHA256.test(entry.rowsSha256) &&
    typeof entry.itemFactorsSha256 === 'string' &&
    SHA256.test(entry.itemFactorsSha256) &&
    ['m', 'efConstruction', 'seed'].every((k) => isCount(entry[k], 0xffffffff)) &&
    isObject(file) &&
    file.dtype === 'hnsw' &&
    JSON.stringify(file.shape) === JSON.stringify([entry.rows]) &&
    isCount(file.bytes) &&
    typeof file.sha256 === 'string' &&
    SHA256.test(file.sha256);
  if (!ok) throw corruptModel(dir, `${MANIFEST} describes the item index ${ITEM_INDEX} wrongly`);
}

function typed<T extends Float32Array | Int32Array>(
  data: Uint8Array,
  Type: { new (buffer: ArrayBuffer, offset: number, length: number): T },
): T {
  // typed arrays need 4-byte alignment; readExactly's buffers have it, a pooled slice may not
  const aligned = data.byteOffset % 4 === 0 ? data : Buffer.from(data);
  return new Type(aligned.buffer as ArrayBuffer, aligned.byteOffset, aligned.byteLength / 4);
}

/**
 * Factors that can be scored: finite and within ±MAX_FACTOR (validate.ts). `first`: the position
 * in the file of values[0], for a file checked in pieces.
 */
export function checkFactors(
  dir: string,
  name: string,
  values: Float32Array,
  first = 0,
  scan: (values: Float32Array) => number = firstBadFactor,
): Float32Array {
  const n = scan(values);
  if (n !== -1) throw corruptModel(dir, `${name} holds ${badFactorWords(values[n])} at position ${first + n}`);
  return values;
}

function checkMatrix(dir: string, m: CsrMatrix): CsrMatrix {
  const nnz = m.indices.length;
  if (m.indptr[0] !== 0 || m.indptr[m.rows] !== nnz)
    throw corruptModel(dir, `${FILES.indptr} does not span the matrix`);
  for (let r = 0; r < m.rows; r++) {
    const start = m.indptr[r];
    const end = m.indptr[r + 1];
    if (end < start || end > nnz) throw corruptModel(dir, `${FILES.indptr} is not ascending`);
    let last = -1;
    for (let n = start; n < end; n++) {
      const column = m.indices[n];
      if (column < 0 || column >= m.cols) throw corruptModel(dir, `${FILES.indices} holds an item index out of range`);
      if (column <= last) throw corruptModel(dir, `${FILES.indices} is not ascending within user row ${r}`);
      last = column;
    }
  }
  for (let n = 0; n < nnz; n++) {
    if (!(m.data[n] > 0 && m.data[n] < Infinity))
      throw corruptModel(dir, `${FILES.plays} holds a play count of ${m.data[n]} (counts are finite and > 0)`);
  }
  return m;
}

/**
 * A list of `length` strings, each given once and free of the characters no name may hold
 * (nameList.ts). `escaped`: whether the JSON text may hold one (mayHoldBreakers); without, the
 * names need no character test.
 */
function checkNames(
  dir: string,
  name: string,
  value: unknown,
  length: number,
  noun: string,
  escaped: boolean,
): string[] {
  if (!Array.isArray(value) || value.length !== length || !value.every((v) => typeof v === 'string')) {
    throw corruptModel(dir, `${name} is not a list of ${length} names`);
  }
  const problem = nameListProblem(value, escaped);
  if (problem !== null) throw corruptModel(dir, `${name} has ${nameListProblemWords(problem, noun)}`);
  return value;
}

/** What loadModel saw of the version it opened, so that a description matches what was checked. */
export interface LoadedVersion extends ModelLocation {
  /** bytes of model.json and of each data file, as opened */
  sizes: Record<string, number>;
  /** when model.json was written */
  modified: Date;
  /** timings.json: its numbers (null when absent, malformed or not a regular file) and its size when regular */
  timings: Record<string, number> | null;
  timingsBytes: number | null;
}

const loaded = new WeakMap<object, LoadedVersion>();

/** The version a model returned by loadModel was read from, or null for one built in memory. */
export function loadedVersion(model: AlsModel): LoadedVersion | null {
  return loaded.get(model) ?? null;
}

/** The numbers of a timings.json (not checksummed, so read leniently): null when there are none. */
function parseTimings(text: string): Record<string, number> | null {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
    // seconds: a negative or endless one is not a timing (timings.json is not checksummed)
    const numbers = Object.entries(parsed).filter(([, v]) => typeof v === 'number' && Number.isFinite(v) && v >= 0);
    return numbers.length > 0 ? Object.fromEntries(numbers) : null;
  } catch {
    return null;
  }
}

/** timings.json of a version: a regular file of at most 64 KiB, never followed to a device or FIFO. */
function readTimingsFile(root: string): { timings: Record<string, number> | null; bytes: number | null } {
  let opened;
  try {
    opened = openRegular(join(root, TIMINGS));
  } catch {
    return { timings: null, bytes: null };
  }
  try {
    // ignored, so not listed either: a crafted 10 GB sparse file would make the model look 10 GB
    if (opened.size > MAX_TIMINGS_BYTES) return { timings: null, bytes: null };
    return { timings: parseTimings(readExactly(opened.fd, opened.size).toString('utf8')), bytes: opened.size };
  } catch {
    return { timings: null, bytes: opened.size };
  } finally {
    closeSync(opened.fd);
  }
}

/** descriptors of a model's files not read yet, closed when the model is collected */
const unread = new FinalizationRegistry<Map<string, number>>((fds) => {
  for (const fd of fds.values()) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
});

/** Opens model.json and every data file of one version: the manifest and the open descriptors. */
function openVersion(location: ModelLocation): {
  manifest: Manifest;
  fds: Map<string, number>;
  /** why item_index.hnsw cannot be read (told by readItemIndexFile), or null */
  indexProblem: AlsError | null;
  version: LoadedVersion;
} {
  const { dir, root } = location;
  let text: string;
  let manifestBytes: number;
  let modified: Date;
  try {
    const { fd, size } = openRegular(join(root, MANIFEST));
    try {
      if (size > MAX_MANIFEST_BYTES)
        throw corruptModel(dir, `${MANIFEST} has ${size} bytes, more than a model's ${MAX_MANIFEST_BYTES}`);
      text = readExactly(fd, size).toString('utf8');
      manifestBytes = size;
      modified = fstatSync(fd).mtime;
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (
      location.version === null &&
      (code === 'ENOENT' || code === 'ENOTDIR' || isDanglingTopLevelLink(root, MANIFEST))
    )
      throw noModel(dir);
    throw fileError(dir, MANIFEST, error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw corruptModel(dir, `${MANIFEST} is not valid JSON`);
  }
  const manifest = checkManifest(dir, parsed);
  const fds = new Map<string, number>();
  const sizes: Record<string, number> = { [MANIFEST]: manifestBytes };
  try {
    for (const name of Object.values(FILES)) {
      let opened;
      try {
        opened = openRegular(join(root, name));
      } catch (error) {
        throw fileError(dir, name, error);
      }
      fds.set(name, opened.fd);
      const expected = manifest.files[name].bytes;
      if (opened.size !== expected) throw corruptModel(dir, `${name} has ${opened.size} bytes, expected ${expected}`);
      sizes[name] = opened.size;
    }
  } catch (error) {
    for (const fd of fds.values()) closeSync(fd);
    throw error;
  }
  // the index is opened with the version, so that it is the same version's; a fault in it is
  // told when it is used, so that a query that does not search it still answers
  let indexProblem: AlsError | null = null;
  if (manifest.itemIndex !== undefined) {
    try {
      const opened = openRegular(join(root, ITEM_INDEX));
      fds.set(ITEM_INDEX, opened.fd);
      const expected = manifest.files[ITEM_INDEX].bytes;
      if (opened.size !== expected)
        indexProblem = corruptModel(dir, `${ITEM_INDEX} has ${opened.size} bytes, expected ${expected}`);
      else sizes[ITEM_INDEX] = opened.size;
    } catch (error) {
      indexProblem = fileError(dir, ITEM_INDEX, error);
    }
  }
  const timings = readTimingsFile(root);
  return {
    manifest,
    fds,
    indexProblem,
    version: { ...location, sizes, modified, timings: timings.timings, timingsBytes: timings.bytes },
  };
}

/** M/model.json as the link als makes to .als/current, whose version is gone or not made yet. */
function isDanglingTopLevelLink(dir: string, name: string): boolean {
  try {
    return lstatSync(join(dir, name)).isSymbolicLink() && readlinkSync(join(dir, name)) === topLevelLink(name);
  } catch {
    return false;
  }
}

/**
 * Opens the model in `dir`. The live version (M/.als/current, or the files of a format-2
 * directory) is resolved once and every one of its files opened at once, so that a writer
 * replacing the model meanwhile cannot mix two models into one answer: each part is read later
 * through its open file, checksummed and validated the first time it is used. When the model is
 * replaced between resolving and opening, the read starts again, so a concurrent save never
 * shows as a corrupt model.
 *
 * Validated: model.json (regular, ≤ 64 MiB, shapes, factors ≤ 1024, input, losses, updates),
 * user ids and item names (one string per row, each given once, no tab, line break or NUL),
 * every file regular (no symlinks, FIFOs or devices) and of the size listed, checksums, factors
 * finite and within ±MAX_FACTOR, ascending in-range item indices, finite positive play counts, listener counts.
 *
 * @throws {AlsError} 'model' naming the file for every problem; 'usage' for an empty path
 */
export function loadModel(dir: string, options: LoadOptions = {}): AlsModel {
  const given = checkModelPath(dir);
  const { factorMemory } = checkOptions('options', options);
  if (factorMemory !== undefined && typeof (factorMemory as Partial<Kernels> | null)?.float32 !== 'function') {
    throw new AlsError(
      'usage',
      `options.factorMemory must be kernels (an object with float32(length)), not ${valueForMessage(factorMemory)}`,
    );
  }
  if (endianness() !== 'LE') throw new AlsError('model', 'this als reads models on little-endian machines only');
  for (let attempt = 1; ; attempt++) {
    const location = locateModel(given);
    try {
      return openModel(location, openVersion(location), factorMemory);
    } catch (error) {
      if (attempt < MAX_ATTEMPTS && replacedSince(location)) continue;
      throw error;
    }
  }
}

/** Whether the live version is no longer the one `location` resolved. */
function replacedSince(location: ModelLocation): boolean {
  try {
    return locateModel(location.dir).root !== location.root;
  } catch {
    return false;
  }
}

export interface LoadOptions {
  /**
   * Where the factor matrices are read to: kernels' own memory (kernels.float32), where the
   * WebAssembly kernels score them in place. A one-shot query then reads the 75 MB of item
   * factors of a 292K-item model once, instead of reading them and copying them in.
   * @default ordinary memory
   */
  factorMemory?: Pick<Kernels, 'float32'> & Partial<Pick<Kernels, 'firstBadFactor'>>;
}

function openModel(
  location: ModelLocation,
  { manifest, fds, indexProblem, version }: ReturnType<typeof openVersion>,
  factorMemory?: LoadOptions['factorMemory'],
): AlsModel {
  const dir = location.dir;
  const files = manifest.files;
  const read = (key: FileKey, into?: Uint8Array): Uint8Array => {
    const name = FILES[key];
    const fd = fds.get(name);
    if (fd === undefined)
      throw new AlsError('model', `${dir}: ${name} was not read before the model was closed (closeModel)`);
    let data: Uint8Array;
    try {
      data = into === undefined ? readExactly(fd, files[name].bytes) : into.subarray(0, readInto(fd, into));
    } catch (error) {
      throw fileError(dir, name, error);
    } finally {
      fds.delete(name);
      closeSync(fd);
    }
    if (data.length !== files[name].bytes)
      throw corruptModel(dir, `${name} has ${data.length} bytes, expected ${files[name].bytes}`);
    if (createHash('sha256').update(data).digest('hex') !== files[name].sha256)
      throw corruptModel(dir, `${name} fails its checksum`);
    return data;
  };
  // factors in kernel memory are checked there (sixteen at a time), others by validate.ts
  const scan = (values: Float32Array): number => factorMemory?.firstBadFactor?.(values) ?? firstBadFactor(values);
  const factorFile = (key: 'userFactors' | 'itemFactors'): Float32Array => {
    if (factorMemory === undefined) return typed(read(key), Float32Array);
    const values = factorMemory.float32(files[FILES[key]].bytes / 4);
    read(key, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    return values;
  };
  const json = (key: FileKey, length: number, noun: string) => {
    let value: unknown;
    const data = read(key) as Buffer;
    try {
      value = JSON.parse(data.toString('utf8'));
    } catch {
      throw corruptModel(dir, `${FILES[key]} is not valid JSON`);
    }
    return checkNames(dir, FILES[key], value, length, noun, mayHoldBreakers(data));
  };
  let options: TrainOptions;
  try {
    options = resolveTrainOptions(manifest.options as Partial<TrainOptions>);
  } catch (error) {
    for (const fd of fds.values()) closeSync(fd);
    throw corruptModel(dir, `${MANIFEST} holds bad training options (${(error as Error).message})`);
  }
  if (options.factors !== manifest.factors) {
    for (const fd of fds.values()) closeSync(fd);
    throw corruptModel(
      dir,
      `${MANIFEST} gives ${manifest.factors} factors, but its training options ${options.factors}`,
    );
  }

  // a part that failed stays failed: the same error again, never a half-read part
  const cache = new Map<string, { value?: unknown; error?: unknown }>();
  const lazy = <T>(key: string, make: () => T): T => {
    let entry = cache.get(key);
    if (!entry) {
      try {
        entry = { value: make() };
      } catch (error) {
        entry = { error };
      }
      cache.set(key, entry);
    }
    if ('error' in entry) throw entry.error;
    return entry.value as T;
  };
  const model: AlsModel = {
    users: manifest.users,
    items: manifest.items,
    factors: manifest.factors,
    options,
    input: (manifest.input as InputSummary | null) ?? null,
    losses: manifest.training?.losses ?? null,
    ...(manifest.training?.defaults ? { defaults: manifest.training.defaults as unknown as AppliedDefaults } : {}),
    ...(Array.isArray(manifest.updates) ? { updates: manifest.updates as unknown as UpdateSummary[] } : {}),
    ...(isObject(manifest.imported) ? { imported: manifest.imported as unknown as ImportSummary } : {}),
    ...(manifest.training?.engine ? { trainedBy: manifest.training.engine as TrainedBy } : {}),
    get userFactors() {
      return lazy('userFactors', () => checkFactors(dir, FILES.userFactors, factorFile('userFactors'), 0, scan));
    },
    get itemFactors() {
      return lazy('itemFactors', () => checkFactors(dir, FILES.itemFactors, factorFile('itemFactors'), 0, scan));
    },
    get userIds() {
      return lazy('userIds', () => json('userIds', manifest.users, 'user id'));
    },
    get itemNames() {
      return lazy('itemNames', () => json('itemNames', manifest.items, 'item name'));
    },
    get itemUserCounts() {
      return lazy('itemUserCounts', () => {
        const counts = typed(read('itemUserCounts'), Int32Array);
        for (let i = 0; i < counts.length; i++) {
          if (counts[i] < 0 || counts[i] > manifest.users)
            throw corruptModel(dir, `${FILES.itemUserCounts} holds a count out of range`);
        }
        return counts;
      });
    },
    get userItems() {
      return lazy('userItems', () =>
        checkMatrix(dir, {
          rows: manifest.users,
          cols: manifest.items,
          indptr: typed(read('indptr'), Int32Array),
          indices: typed(read('indices'), Int32Array),
          data: typed(read('plays'), Float32Array),
        }),
      );
    },
  };
  loaded.set(model, version);
  manifests.set(model, manifest);
  if (manifest.itemIndex !== undefined) {
    const entry = manifest.itemIndex;
    const itemFactorsSha256 = files[FILES.itemFactors].sha256;
    itemIndexFiles.set(model, () =>
      lazy('itemIndex', () => {
        if (indexProblem !== null) throw indexProblem;
        const fd = fds.get(ITEM_INDEX);
        if (fd === undefined)
          throw new AlsError('model', `${dir}: ${ITEM_INDEX} was not read before the model was closed (closeModel)`);
        let data: Uint8Array;
        try {
          data = readExactly(fd, files[ITEM_INDEX].bytes);
        } catch (error) {
          throw fileError(dir, ITEM_INDEX, error);
        } finally {
          fds.delete(ITEM_INDEX);
          closeSync(fd);
        }
        if (createHash('sha256').update(data).digest('hex') !== files[ITEM_INDEX].sha256)
          throw corruptModel(dir, `${ITEM_INDEX} fails its checksum`);
        return { bytes: data, entry, itemFactorsSha256, dir };
      }),
    );
  }
  unread.register(model, fds);
  openFiles.set(model, fds);
  return model;
}

/**
 * Takes the open file of part `key` of a model from loadModel, if that part was not read yet:
 * the caller then owns the descriptor (closes it) and reads the part as it needs, and the model
 * itself can no longer read it. Null for a model not from loadModel or a part already read
 * (or closed). Used by readRowsOnDemand (src/model/fileRows.ts).
 */
export function detachFile(
  model: AlsModel,
  key: FileKey,
): { fd: number; dir: string; name: string; bytes: number; sha256: string } | null {
  const fds = openFiles.get(model);
  const where = loaded.get(model);
  const name = FILES[key];
  const fd = fds?.get(name);
  const entry = manifests.get(model)?.files[name];
  if (fds === undefined || fd === undefined || where === undefined || entry === undefined) return null;
  fds.delete(name);
  return { fd, dir: where.dir, name, bytes: entry.bytes, sha256: entry.sha256 };
}

/** What readItemIndexFile gives: the index file's bytes (checksum checked) and its description. */
export interface ItemIndexFile {
  bytes: Uint8Array;
  entry: ItemIndexEntry;
  /** the checksum of the item_factors.f32 of the version it was read from */
  itemFactorsSha256: string;
  /** the model directory, for messages */
  dir: string;
}

const itemIndexFiles = new WeakMap<AlsModel, () => ItemIndexFile>();

/**
 * The item index of the version a model from loadModel was read from, read on first use and
 * checked against its size and sha256 in model.json; null when that version has none (or the
 * model was not loaded from a directory). Whether it still fits the model is the caller's check
 * (src/query/itemIndex.ts).
 *
 * @throws {AlsError} 'model' naming item_index.hnsw: missing, not a regular file (a link, FIFO,
 *   device), of another size, failing its checksum, or closed (closeModel) before it was read
 */
export function readItemIndexFile(model: AlsModel): ItemIndexFile | null {
  return itemIndexFiles.get(model)?.() ?? null;
}

/** the manifest each loaded model was opened with (detachFile gives a part's size and checksum) */
const manifests = new WeakMap<AlsModel, Manifest>();

/** the descriptors of each loaded model's files not read yet */
const openFiles = new WeakMap<AlsModel, Map<string, number>>();

/**
 * Closes the files of a model from loadModel that were not read yet (a model holds one open
 * file per part until the part is first used, so that a writer replacing the directory cannot
 * change what it reads). Parts already read stay usable; reading another part afterwards is
 * AlsError('model'). For a long-running process that loads often, such as a server: read what it
 * needs (or every part), then close.
 */
export function closeModel(model: AlsModel): void {
  const fds = openFiles.get(model);
  if (fds === undefined) return;
  for (const fd of fds.values()) closeSync(fd);
  fds.clear();
}
