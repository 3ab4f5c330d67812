import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { endianness } from 'node:os';
import { join, resolve } from 'node:path';
import { resolveTrainOptions, type TrainOptions } from '../als/options.js';
import type { CsrMatrix } from '../data/sparse.js';
import { AlsError } from '../errors.js';
import { FILES, FORMAT_NAME, FORMAT_VERSION, MANIFEST, type FileEntry, type FileKey, type Manifest } from './format.js';
import type { AlsModel, InputSummary, UpdateSummary } from './model.js';

const BYTES_PER_VALUE = { float32: 4, int32: 4 } as const;

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function corrupt(dir: string, what: string): AlsError {
  return new AlsError('model', `${dir}: ${what} (the model is corrupt or incomplete; train it again)`);
}

function readManifest(dir: string): Manifest {
  let text: string;
  try {
    text = readFileSync(join(dir, MANIFEST), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new AlsError('model', `no model in ${dir} (train one with: als train FILE --model ${dir})`);
    }
    throw new AlsError('model', `${join(dir, MANIFEST)}: ${(error as Error).message}`);
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text);
  } catch {
    throw corrupt(dir, `${MANIFEST} is not valid JSON`);
  }
  if (manifest === null || typeof manifest !== 'object' || manifest.format !== FORMAT_NAME) {
    throw new AlsError('model', `${dir}: ${MANIFEST} does not describe an als model`);
  }
  if (manifest.version !== FORMAT_VERSION) {
    throw new AlsError(
      'model',
      `${dir}: model format version ${manifest.version}, but this als reads version ${FORMAT_VERSION}; train the model again`,
    );
  }
  if (manifest.byteOrder !== 'little-endian') throw corrupt(dir, `unknown byte order ${JSON.stringify(manifest.byteOrder)}`);
  const { users, items, factors, interactions } = manifest;
  if (!isCount(users) || !isCount(items) || !isCount(factors) || factors === 0 || !isCount(interactions)) {
    throw corrupt(dir, `${MANIFEST} has bad shapes`);
  }
  const expectedShapes: Record<FileKey, number[]> = {
    userFactors: [users, factors],
    itemFactors: [items, factors],
    indptr: [users + 1],
    indices: [interactions],
    plays: [interactions],
    userIds: [users],
    itemNames: [items],
    itemListeners: [items],
  };
  if (manifest.files === null || typeof manifest.files !== 'object') throw corrupt(dir, `${MANIFEST} lists no files`);
  for (const [key, shape] of Object.entries(expectedShapes)) {
    const name = FILES[key as FileKey];
    const entry = manifest.files[name];
    if (!entry || typeof entry.sha256 !== 'string' || !isCount(entry.bytes) || JSON.stringify(entry.shape) !== JSON.stringify(shape)) {
      throw corrupt(dir, `${MANIFEST} describes ${name} wrongly (expected shape [${shape.join(', ')}])`);
    }
    if (entry.dtype !== 'json' && entry.bytes !== shape.reduce((a, b) => a * b, 1) * BYTES_PER_VALUE[entry.dtype]) {
      throw corrupt(dir, `${MANIFEST} gives ${name} a size that does not fit its shape`);
    }
    let size: number;
    try {
      size = statSync(join(dir, name)).size;
    } catch {
      throw corrupt(dir, `${name} is missing`);
    }
    if (size !== entry.bytes) throw corrupt(dir, `${name} has ${size} bytes, expected ${entry.bytes}`);
  }
  return manifest;
}

/** Reads one listed file and checks its checksum. */
function readChecked(dir: string, name: string, entry: FileEntry): Buffer {
  const data = readFileSync(join(dir, name));
  if (data.length !== entry.bytes) throw corrupt(dir, `${name} has ${data.length} bytes, expected ${entry.bytes}`);
  if (createHash('sha256').update(data).digest('hex') !== entry.sha256) throw corrupt(dir, `${name} fails its checksum`);
  return data;
}

function typed<T extends Float32Array | Int32Array>(data: Buffer, Type: { new (buffer: ArrayBuffer, offset: number, length: number): T }): T {
  // typed arrays need 4-byte alignment; a fresh read normally has it, a pooled slice may not
  const aligned = data.byteOffset % 4 === 0 ? data : Buffer.from(data);
  return new Type(aligned.buffer as ArrayBuffer, aligned.byteOffset, aligned.byteLength / 4);
}

function checkMatrix(dir: string, m: CsrMatrix): CsrMatrix {
  const nnz = m.indices.length;
  if (m.indptr[0] !== 0 || m.indptr[m.rows] !== nnz) throw corrupt(dir, `${FILES.indptr} does not span the matrix`);
  for (let r = 0; r < m.rows; r++) if (m.indptr[r + 1] < m.indptr[r]) throw corrupt(dir, `${FILES.indptr} is not ascending`);
  for (let n = 0; n < nnz; n++) {
    if (m.indices[n] < 0 || m.indices[n] >= m.cols) throw corrupt(dir, `${FILES.indices} holds an item index out of range`);
  }
  return m;
}

function checkNames(dir: string, name: string, value: unknown, length: number): string[] {
  if (!Array.isArray(value) || value.length !== length || !value.every((v) => typeof v === 'string')) {
    throw corrupt(dir, `${name} is not a list of ${length} names`);
  }
  return value;
}

/**
 * Opens the model in `dir`: model.json is read and every file's presence and size checked at
 * once; each part is read, checksummed and validated the first time it is used. Every problem
 * is an AlsError('model') naming the file.
 */
export function loadModel(dir: string): AlsModel {
  if (endianness() !== 'LE') throw new AlsError('model', 'this als reads models on little-endian machines only');
  dir = resolve(dir);
  const manifest = readManifest(dir);
  const files = manifest.files;
  const read = (key: FileKey) => readChecked(dir, FILES[key], files[FILES[key]]);
  const json = (key: FileKey, length: number) => {
    let value: unknown;
    try {
      value = JSON.parse(read(key).toString('utf8'));
    } catch (error) {
      if (error instanceof AlsError) throw error;
      throw corrupt(dir, `${FILES[key]} is not valid JSON`);
    }
    return checkNames(dir, FILES[key], value, length);
  };
  let options: TrainOptions;
  try {
    options = resolveTrainOptions(manifest.options as Partial<TrainOptions>);
  } catch (error) {
    throw corrupt(dir, `${MANIFEST} holds bad training options (${(error as Error).message})`);
  }

  const cache = new Map<string, unknown>();
  const lazy = <T>(key: string, make: () => T): T => {
    if (!cache.has(key)) cache.set(key, make());
    return cache.get(key) as T;
  };
  return {
    users: manifest.users,
    items: manifest.items,
    factors: manifest.factors,
    options,
    input: (manifest.input as InputSummary | null) ?? null,
    losses: manifest.training?.losses ?? null,
    ...(Array.isArray(manifest.updates) ? { updates: manifest.updates as unknown as UpdateSummary[] } : {}),
    get userFactors() {
      return lazy('userFactors', () => typed(read('userFactors'), Float32Array));
    },
    get itemFactors() {
      return lazy('itemFactors', () => typed(read('itemFactors'), Float32Array));
    },
    get userIds() {
      return lazy('userIds', () => json('userIds', manifest.users));
    },
    get itemNames() {
      return lazy('itemNames', () => json('itemNames', manifest.items));
    },
    get itemListeners() {
      return lazy('itemListeners', () => {
        const counts = typed(read('itemListeners'), Int32Array);
        for (let i = 0; i < counts.length; i++) {
          if (counts[i] < 0 || counts[i] > manifest.users) throw corrupt(dir, `${FILES.itemListeners} holds a count out of range`);
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
}
