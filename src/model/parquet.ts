import { closeSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import {
  parquetMetadata,
  parquetReadObjects,
  type Compressors,
  type FileMetaData,
  type SchemaElement,
} from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { NotRegularFile, openRegular, readExactly } from '../data/regularFile.js';
import { AlsError } from '../errors.js';
import { badFactorWords, firstBadFactor } from '../validate.js';
import { describeFsError } from './store.js';

/**
 * The two tables of a Spark ALSModel in Parquet, read and written with hyparquet and
 * hyparquet-writer (pure JavaScript, no dependency beyond each other, snappy built in):
 *
 *   factors  id int32, features array<float>   (Spark's userFactors/ and itemFactors/)
 *   names    id int32, name string             (als's userIds/ and itemIds/, which Spark ignores)
 *
 * A table is a directory of part files as Spark writes it (hidden names, starting with "." or
 * "_", such as _SUCCESS and .crc files, are skipped as Hadoop skips them), or one Parquet file.
 */

/** One part file at most (a Buffer holds up to 2 GiB; a part of Spark's is some MB). */
const MAX_PART_BYTES = 2 ** 31 - 1;

/**
 * Codecs read beyond hyparquet's own (uncompressed and snappy, Spark's default): gzip, which
 * Spark writes with spark.sql.parquet.compression.codec=gzip, through Node's zlib; zstd too where
 * this Node has it (22.15 and later). Others (lz4, brotli) are refused as not readable, naming the codec.
 */
const zstd = (zlib as unknown as { zstdDecompressSync?: (input: Uint8Array) => Buffer }).zstdDecompressSync;
const COMPRESSORS: Compressors = {
  GZIP: (input) => zlib.gunzipSync(input),
  ...(zstd ? { ZSTD: (input: Uint8Array) => zstd(input) } : {}),
};

/** The error of a table that cannot be read as one: `file` names it. */
function badTable(file: string, why: string): AlsError {
  return new AlsError('model', `${file}: ${why}`);
}

/** The part files of the table at `path` (a directory of parts, or one file), in name order. */
export function tableParts(path: string): string[] {
  let names: string[];
  try {
    names = readdirSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') return [path];
    if (code === 'ENOENT') throw badTable(path, 'is missing');
    throw badTable(path, `cannot read it: ${describeFsError(error)}`);
  }
  const parts = names.filter((name) => !name.startsWith('.') && !name.startsWith('_')).sort();
  if (parts.length === 0) throw badTable(path, 'holds no part file (a table Spark wrote has part-*.parquet files)');
  return parts.map((name) => join(path, name));
}

/** The bytes of one part file: a regular file (no link, FIFO or device), read whole. */
function readPart(file: string): ArrayBuffer {
  let opened;
  try {
    opened = openRegular(file);
  } catch (error) {
    if (error instanceof NotRegularFile) throw badTable(file, error.message);
    throw badTable(file, `cannot read it: ${describeFsError(error)}`);
  }
  try {
    if (opened.size > MAX_PART_BYTES)
      throw badTable(file, `has ${opened.size} bytes, more than the ${MAX_PART_BYTES} of one part that als reads`);
    const data = readExactly(opened.fd, opened.size);
    if (data.length !== opened.size) throw badTable(file, 'was cut short while being read');
    return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  } finally {
    closeSync(opened.fd);
  }
}

/** The one message of a Parquet file hyparquet cannot parse. */
function notParquet(file: string, error: unknown): AlsError {
  const reason = String((error as Error)?.message ?? error)
    .split('\n')[0]
    .slice(0, 120);
  return badTable(file, `is not a readable Parquet file (${reason})`);
}

function metadataOf(file: string, bytes: ArrayBuffer): FileMetaData {
  try {
    return parquetMetadata(bytes);
  } catch (error) {
    throw notParquet(file, error);
  }
}

/** The leaf schema elements under the top-level column `name`: [] when there is no such column. */
function columnLeaves(schema: SchemaElement[], name: string): { top: SchemaElement; leaves: SchemaElement[] } | null {
  // the flat schema is a depth-first list: root, then each column with its num_children
  let at = 1;
  const skip = (): SchemaElement[] => {
    const element = schema[at++];
    if (element === undefined) return [];
    if (!element.num_children) return [element];
    const leaves: SchemaElement[] = [];
    for (let k = 0; k < element.num_children; k++) leaves.push(...skip());
    return leaves;
  };
  const columns = schema[0]?.num_children ?? 0;
  for (let c = 0; c < columns && at < schema.length; c++) {
    const top = schema[at];
    const leaves = skip();
    if (top.name === name) return { top, leaves };
  }
  return null;
}

type ColumnKind = 'int32' | 'string' | 'float list';

/** Throws unless column `name` of `schema` is of `kind` (as Spark writes an int, a string, an array<float>). */
function checkColumn(file: string, schema: SchemaElement[], name: string, kind: ColumnKind): void {
  const found = columnLeaves(schema, name);
  if (found === null) throw badTable(file, `has no column "${name}" (expected ${kindWords(kind)})`);
  const { top, leaves } = found;
  const leaf = leaves.length === 1 ? leaves[0] : undefined;
  const ok =
    kind === 'float list'
      ? top.num_children !== undefined &&
        top.repetition_type !== 'REPEATED' &&
        leaf?.type === 'FLOAT' &&
        leaves.length === 1
      : !top.num_children &&
        top.repetition_type !== 'REPEATED' &&
        (kind === 'int32'
          ? top.type === 'INT32' && (top.converted_type === undefined || top.converted_type === 'INT_32')
          : top.type === 'BYTE_ARRAY' && (top.converted_type === 'UTF8' || top.logical_type?.type === 'STRING'));
  if (!ok) throw badTable(file, `column "${name}" is ${typeWords(top, leaves)}, not ${kindWords(kind)}`);
}

function kindWords(kind: ColumnKind): string {
  return kind === 'int32' ? 'int (INT32)' : kind === 'string' ? 'string (UTF8)' : 'array<float> (a LIST of FLOAT)';
}

function typeWords(top: SchemaElement, leaves: SchemaElement[]): string {
  if (top.num_children)
    return `a group of ${leaves.map((l) => l.type ?? '?').join(', ')}${top.converted_type ? ` (${top.converted_type})` : ''}`;
  return `${top.repetition_type === 'REPEATED' ? 'repeated ' : ''}${top.type ?? '?'}${top.converted_type ? ` (${top.converted_type})` : ''}`;
}

/** What readFactorTable returns: ids and their factor rows in the order read. */
export interface FactorTable {
  ids: Int32Array;
  /** ids.length × rank, row-major */
  features: Float32Array;
  /** the part file each row came from (for messages), as an index into `files` */
  fileOfRow: Int32Array;
  files: string[];
}

/**
 * The rows of a factor table (Spark's userFactors/ or itemFactors/): id int32, features
 * array<float> of `rank` values each, finite and within ±MAX_FACTOR (validate.ts).
 *
 * @throws {AlsError} 'model' naming the part file: not Parquet, a column missing or of another
 *   type, a null id or features, features of another length than `rank`, a value not finite or too large
 */
export async function readFactorTable(path: string, rank: number, maxRows: number): Promise<FactorTable> {
  const files = tableParts(path);
  const ids: number[] = [];
  const rows: number[] = [];
  let features = new Float32Array(1024 * rank);
  let count = 0;
  for (let f = 0; f < files.length; f++) {
    const file = files[f];
    const bytes = readPart(file);
    const metadata = metadataOf(file, bytes);
    checkColumn(file, metadata.schema, 'id', 'int32');
    checkColumn(file, metadata.schema, 'features', 'float list');
    if (count + Number(metadata.num_rows) > maxRows)
      throw badTable(file, `brings the table to more than ${maxRows} rows, more than als holds`);
    let objects: Record<string, unknown>[];
    try {
      objects = await parquetReadObjects({
        file: bytes,
        metadata,
        columns: ['id', 'features'],
        compressors: COMPRESSORS,
      });
    } catch (error) {
      throw notParquet(file, error);
    }
    for (let r = 0; r < objects.length; r++) {
      const { id, features: values } = objects[r];
      if (typeof id !== 'number' || !Number.isInteger(id)) throw badTable(file, `row ${r} has no id`);
      if (!Array.isArray(values)) throw badTable(file, `row ${r} (id ${id}) has no features`);
      if (values.length !== rank)
        throw badTable(file, `row ${r} (id ${id}) has ${values.length} features, but the model's rank is ${rank}`);
      if (features.length < (count + 1) * rank) {
        const grown = new Float32Array(features.length * 2);
        grown.set(features);
        features = grown;
      }
      for (let k = 0; k < rank; k++) {
        const value = values[k];
        features[count * rank + k] = typeof value === 'number' ? value : NaN;
      }
      const bad = firstBadFactor(features.subarray(count * rank, (count + 1) * rank));
      if (bad !== -1)
        throw badTable(
          file,
          `row ${r} (id ${id}) holds ${badFactorWords(values[bad] === null ? NaN : features[count * rank + bad])} at feature ${bad}`,
        );
      ids.push(id);
      rows.push(f);
      count++;
    }
  }
  return {
    ids: Int32Array.from(ids),
    features: features.slice(0, count * rank),
    fileOfRow: Int32Array.from(rows),
    files,
  };
}

/**
 * The rows of an id table (als's userIds/ or itemIds/): id int32, name string.
 *
 * @throws {AlsError} 'model' naming the part file, as readFactorTable
 */
export async function readNameTable(
  path: string,
  maxRows: number,
): Promise<{ ids: Int32Array; names: string[]; fileOfRow: Int32Array; files: string[] }> {
  const files = tableParts(path);
  const ids: number[] = [];
  const names: string[] = [];
  const rows: number[] = [];
  for (let f = 0; f < files.length; f++) {
    const file = files[f];
    const bytes = readPart(file);
    const metadata = metadataOf(file, bytes);
    checkColumn(file, metadata.schema, 'id', 'int32');
    checkColumn(file, metadata.schema, 'name', 'string');
    if (ids.length + Number(metadata.num_rows) > maxRows)
      throw badTable(file, `brings the table to more than ${maxRows} rows, more than als holds`);
    let objects: Record<string, unknown>[];
    try {
      objects = await parquetReadObjects({ file: bytes, metadata, columns: ['id', 'name'], compressors: COMPRESSORS });
    } catch (error) {
      throw notParquet(file, error);
    }
    for (let r = 0; r < objects.length; r++) {
      const { id, name } = objects[r];
      if (typeof id !== 'number' || !Number.isInteger(id)) throw badTable(file, `row ${r} has no id`);
      if (typeof name !== 'string') throw badTable(file, `row ${r} (id ${id}) has no name`);
      ids.push(id);
      names.push(name);
      rows.push(f);
    }
  }
  return { ids: Int32Array.from(ids), names, fileOfRow: Int32Array.from(rows), files };
}

/** A Parquet file of one row group per ROW_GROUP rows: Spark reads row groups in parallel. */
const ROW_GROUP = 65536;

/** The schema Spark writes for a factor table (`spark_schema` is the root name Spark gives). */
const FACTOR_SCHEMA: SchemaElement[] = [
  { name: 'spark_schema', num_children: 2 },
  { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
  {
    name: 'features',
    repetition_type: 'OPTIONAL',
    converted_type: 'LIST',
    logical_type: { type: 'LIST' },
    num_children: 1,
  },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
];

const NAME_SCHEMA: SchemaElement[] = [
  { name: 'spark_schema', num_children: 2 },
  { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
  {
    name: 'name',
    type: 'BYTE_ARRAY',
    converted_type: 'UTF8',
    logical_type: { type: 'STRING' },
    repetition_type: 'REQUIRED',
  },
];

/** A factor table as Parquet bytes (snappy): row r has id firstId + r and the r-th `rank` values of `factors`. */
export function factorTableBytes(factors: Float32Array, rows: number, rank: number, firstId = 0): Buffer {
  const ids = new Int32Array(rows);
  const features: number[][] = new Array(rows);
  for (let r = 0; r < rows; r++) {
    ids[r] = firstId + r;
    features[r] = Array.from(factors.subarray(r * rank, (r + 1) * rank));
  }
  const bytes = parquetWriteBuffer({
    columnData: [
      { name: 'id', data: ids },
      // no min/max per page of floats: nothing filters factors by value, and it took a quarter of the writing
      { name: 'features', data: features, statistics: false },
    ],
    schema: FACTOR_SCHEMA,
    rowGroupSize: ROW_GROUP,
    createdBy: 'als (hyparquet-writer)',
  });
  return Buffer.from(bytes);
}

/** An id table as Parquet bytes (snappy): row r has id firstId + r and names[r]. */
export function nameTableBytes(names: readonly string[], firstId = 0): Buffer {
  const ids = Int32Array.from(names, (_, r) => firstId + r);
  const bytes = parquetWriteBuffer({
    columnData: [
      { name: 'id', data: ids },
      { name: 'name', data: [...names] },
    ],
    schema: NAME_SCHEMA,
    rowGroupSize: ROW_GROUP,
    createdBy: 'als (hyparquet-writer)',
  });
  return Buffer.from(bytes);
}
