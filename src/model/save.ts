import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { AlsError } from '../errors.js';
import { FILES, FORMAT_NAME, FORMAT_VERSION, MANIFEST, TIMINGS, type FileEntry, type FileKey, type Manifest } from './format.js';
import type { AlsModel } from './model.js';

function bytesOf(array: Float32Array | Int32Array): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

async function writeDurably(path: string, data: Buffer): Promise<void> {
  const handle = await fs.open(path, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Refuses to replace anything that is not an earlier model (or an empty directory). */
async function checkTarget(dir: string): Promise<boolean> {
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    if (code === 'ENOTDIR') throw new AlsError('model', `${dir}: exists and is not a directory; choose another --model`);
    throw new AlsError('model', `${dir}: ${(error as Error).message}`);
  }
  if (entries.length > 0 && !entries.includes(MANIFEST)) {
    throw new AlsError('model', `${dir}: not empty and not an als model; refusing to replace it (choose another --model)`);
  }
  return true;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes what an interrupted earlier save left beside `dir` (its process is gone). */
async function removeLeftovers(dir: string): Promise<void> {
  const prefix = `.${basename(dir)}.`;
  let names: string[];
  try {
    names = await fs.readdir(dirname(dir));
  } catch {
    return;
  }
  for (const name of names) {
    const match = name.startsWith(prefix) ? /^(?:tmp|old)-(\d+)-[0-9a-f]+$/.exec(name.slice(prefix.length)) : null;
    if (match && !isRunning(Number(match[1]))) await fs.rm(join(dirname(dir), name), { recursive: true, force: true });
  }
}

/**
 * Writes the model directory atomically: every file goes into a fresh sibling directory, which
 * then takes the place of `dir` by rename. A failure before the rename leaves an existing model
 * as it was.
 */
export async function saveModel(model: AlsModel, dir: string, timings: Record<string, number> = {}): Promise<void> {
  dir = resolve(dir);
  const exists = await checkTarget(dir);
  await removeLeftovers(dir);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const staging = join(dirname(dir), `.${basename(dir)}.tmp-${tag}`);
  const retired = join(dirname(dir), `.${basename(dir)}.old-${tag}`);

  const { users, items, factors } = model;
  const nnz = model.userItems.indptr[users];
  const parts: Record<FileKey, { data: Buffer; shape: number[]; dtype: FileEntry['dtype'] }> = {
    userFactors: { data: bytesOf(model.userFactors), shape: [users, factors], dtype: 'float32' },
    itemFactors: { data: bytesOf(model.itemFactors), shape: [items, factors], dtype: 'float32' },
    indptr: { data: bytesOf(model.userItems.indptr), shape: [users + 1], dtype: 'int32' },
    indices: { data: bytesOf(model.userItems.indices), shape: [nnz], dtype: 'int32' },
    plays: { data: bytesOf(model.userItems.data), shape: [nnz], dtype: 'float32' },
    userIds: { data: Buffer.from(JSON.stringify(model.userIds)), shape: [users], dtype: 'json' },
    itemNames: { data: Buffer.from(JSON.stringify(model.itemNames)), shape: [items], dtype: 'json' },
    itemListeners: { data: bytesOf(model.itemListeners), shape: [items], dtype: 'int32' },
  };

  const files: Record<string, FileEntry> = {};
  for (const [key, part] of Object.entries(parts)) {
    files[FILES[key as FileKey]] = {
      shape: part.shape,
      dtype: part.dtype,
      bytes: part.data.length,
      sha256: createHash('sha256').update(part.data).digest('hex'),
    };
  }
  const manifest: Manifest = {
    format: FORMAT_NAME,
    version: FORMAT_VERSION,
    byteOrder: 'little-endian',
    users,
    items,
    factors,
    interactions: nnz,
    // threads are how this machine trained, not what the model is (any count gives the same
    // bytes); leaving them out keeps model.json the same on every machine
    options: withoutThreads(model.options),
    input: model.input ? { ...model.input } : null,
    training: { losses: model.losses },
    // only when there are any, so that a freshly trained model's manifest stays as it was
    ...(model.updates && model.updates.length > 0 ? { updates: model.updates.map((u) => ({ ...u })) } : {}),
    files,
  };

  try {
    await fs.mkdir(staging);
    for (const [key, part] of Object.entries(parts)) await writeDurably(join(staging, FILES[key as FileKey]), part.data);
    await writeDurably(join(staging, TIMINGS), Buffer.from(JSON.stringify(timings, null, 2) + '\n'));
    // the manifest last: a directory without it is never taken for a model
    await writeDurably(join(staging, MANIFEST), Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
    if (exists) await fs.rename(dir, retired);
    await fs.rename(staging, dir);
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    if (exists) await fs.rename(retired, dir).catch(() => {});
    throw new AlsError('model', `cannot write the model to ${dir}: ${(error as Error).message}`, { cause: error });
  }
  if (exists) await fs.rm(retired, { recursive: true, force: true });
}

function withoutThreads(options: AlsModel['options']): Record<string, unknown> {
  const { threads: _threads, ...rest } = options;
  return rest;
}
