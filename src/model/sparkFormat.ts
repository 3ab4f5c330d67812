import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MAX_FACTORS, resolveTrainOptions } from '../als/options.js';
import { NotRegularFile, readSmallFile } from '../data/regularFile.js';
import type { Interactions } from '../data/read.js';
import { nameListProblem, nameListProblemWords } from '../data/nameList.js';
import { columnCounts, cooToCsr } from '../data/sparse.js';
import { AlsError } from '../errors.js';
import { checkInteractions, checkModel, checkOptions, checkString, checkWhole, valueForMessage } from '../validate.js';
import { writeDirectory, type DirectoryFile, type DirectoryKind } from './exportDirectory.js';
import type { AlsModel, ImportSummary } from './model.js';
import { factorTableBytes, nameTableBytes, readFactorTable, readNameTable } from './parquet.js';
import { describeFsError } from './store.js';

/**
 * A model as a Spark ML `ALSModel` directory, and back (issue 11). The layout is the one
 * `ALSModel.write.save(path)` makes (Spark's ALSModelWriter, DefaultParamsWriter.saveMetadata):
 *
 *   metadata/part-00000      one line of JSON: class, timestamp, sparkVersion, uid, paramMap,
 *                            defaultParamMap, rank
 *   userFactors/part-*.parquet   id int, features array<float> (Spark's user ids)
 *   itemFactors/part-*.parquet   id int, features array<float>
 * and, beside them, tables that Spark ignores and als reads back:
 *   userIds/part-*.parquet   id int, name string: the als user id of each Spark user id
 *   itemIds/part-*.parquet   id int, name string: the als item name of each Spark item id
 *   als-export.json          what was exported, from where (and the mark of an als export)
 */

/** The class Spark's reader checks in the metadata. */
export const SPARK_ALS_MODEL_CLASS = 'org.apache.spark.ml.recommendation.ALSModel';

/**
 * The Spark version written into the metadata. ALSModel's layout and params are the same from
 * Spark 3.0 (blockSize came then) through 4.x; Spark reads params after 2.4 the same way.
 */
export const SPARK_VERSION_WRITTEN = '3.0.0';

/** The table names inside a Spark model directory. */
export const SPARK_TABLES = {
  metadata: 'metadata',
  userFactors: 'userFactors',
  itemFactors: 'itemFactors',
  userIds: 'userIds',
  itemIds: 'itemIds',
} as const;

/** The file at the top of an exported directory that says als wrote it. */
export const EXPORT_MARKER = 'als-export.json';
const EXPORT_FORMAT = 'als-spark-export';

const EXPORT_KIND: DirectoryKind = {
  marker: EXPORT_MARKER,
  format: EXPORT_FORMAT,
  names: [EXPORT_MARKER, ...Object.values(SPARK_TABLES)],
};

/**
 * The params of the model written: ALSModel's own (Spark's defaults, with the columns named
 * user and item as in Spark's examples). `coldStartStrategy` "nan" is Spark's default: an id
 * unknown to the model gets NaN, as in a model Spark trained.
 */
const MODEL_PARAMS = {
  blockSize: 4096,
  coldStartStrategy: 'nan',
  itemCol: 'item',
  predictionCol: 'prediction',
  userCol: 'user',
} as const;

/**
 * Rows per Parquet part file written. A part is built as JavaScript arrays (one per row, as the
 * writer takes them), so this bounds the export's memory: measured exporting 200,000 users ×
 * 50,000 items × 64 factors (2 loaded cores), parts of 262,144 rows peaked at 1.05 GB RSS, parts
 * of 65,536 at 0.88 GB. Spark reads the parts of a table in parallel.
 */
export const PART_ROWS = 65536;

/** The most rows of a table read back (a row is an int32 id; rows are int32 in a model). */
const MAX_ROWS = 2 ** 31 - 2;

/** What exportSparkModel wrote. */
export interface SparkExport {
  /** the directory written, absolute */
  dir: string;
  users: number;
  items: number;
  rank: number;
  /** the uid written into the metadata */
  uid: string;
  /** bytes of all files written */
  bytes: number;
}

/** Options of exportSparkModel. */
export interface SparkExportOptions {
  /** where the model came from, recorded in als-export.json (e.g. its directory) @default null */
  source?: string;
  /** rows per Parquet part file, from 1 to 2³¹ − 1 @default PART_ROWS (65,536) */
  partRows?: number;
}

/** The part files of a table of `rows` rows, PART_ROWS each. */
function parts(
  table: string,
  rows: number,
  partRows: number,
  bytesOf: (start: number, end: number) => Buffer,
): DirectoryFile[] {
  const files: DirectoryFile[] = [];
  for (let start = 0, k = 0; start < rows || k === 0; start += partRows, k++) {
    const end = Math.min(rows, start + partRows);
    files.push([`${table}/part-${String(k).padStart(5, '0')}.snappy.parquet`, bytesOf(start, end)]);
  }
  files.push([`${table}/_SUCCESS`, Buffer.alloc(0)]);
  return files;
}

/** The part of a factor table holding rows [start, end), whose Spark ids are start … end − 1. */
function factorPart(factors: Float32Array, rank: number, start: number, end: number): Buffer {
  return factorTableBytes(factors.subarray(start * rank, end * rank), end - start, rank, start);
}

/**
 * Writes `model` to `dir` as a Spark ALSModel directory (see the top of this file): user row u
 * is Spark user id u, item row i Spark item id i, and the id tables give their als names. The
 * directory is written whole or not at all (exportDirectory.ts): a missing path or an empty
 * directory is created or replaced, an earlier export of als is replaced, anything else (a
 * symbolic link, a file, a FIFO, a directory with other files) is refused untouched.
 *
 * The Spark model scores as als does: Spark's prediction for (u, i) is the dot product of the
 * two factor rows, als's raw score the same product.
 *
 * @throws {AlsError} 'usage' for a bad argument; 'output' when `dir` is refused or cannot be written
 */
export async function exportSparkModel(
  model: AlsModel,
  dir: string,
  options: SparkExportOptions = {},
): Promise<SparkExport> {
  checkModel('model', model);
  checkString('dir', dir);
  options = checkOptions('options', options);
  if (options.source !== undefined) checkString('options.source', options.source);
  const partRows =
    options.partRows === undefined ? PART_ROWS : checkWhole('options.partRows', options.partRows, 1, 2 ** 31 - 1);
  const { users, items, factors: rank } = model;
  const userFactors = model.userFactors;
  const itemFactors = model.itemFactors;
  const uid = `ALS_${createHash('sha256')
    .update(Buffer.from(userFactors.buffer, userFactors.byteOffset, userFactors.byteLength))
    .update(Buffer.from(itemFactors.buffer, itemFactors.byteOffset, itemFactors.byteLength))
    .digest('hex')
    .slice(0, 12)}`;
  const metadata = {
    class: SPARK_ALS_MODEL_CLASS,
    timestamp: Date.now(),
    sparkVersion: SPARK_VERSION_WRITTEN,
    uid,
    paramMap: { ...MODEL_PARAMS },
    defaultParamMap: { ...MODEL_PARAMS },
    rank,
  };
  const files: DirectoryFile[] = [
    [`${SPARK_TABLES.metadata}/part-00000`, Buffer.from(`${JSON.stringify(metadata)}\n`)],
    [`${SPARK_TABLES.metadata}/_SUCCESS`, Buffer.alloc(0)],
    ...parts(SPARK_TABLES.userFactors, users, partRows, (start, end) => factorPart(userFactors, rank, start, end)),
    ...parts(SPARK_TABLES.itemFactors, items, partRows, (start, end) => factorPart(itemFactors, rank, start, end)),
    ...parts(SPARK_TABLES.userIds, users, partRows, (start, end) =>
      nameTableBytes(model.userIds.slice(start, end), start),
    ),
    ...parts(SPARK_TABLES.itemIds, items, partRows, (start, end) =>
      nameTableBytes(model.itemNames.slice(start, end), start),
    ),
  ];
  const marker = { format: EXPORT_FORMAT, version: 1, source: options.source ?? null, users, items, rank, uid };
  files.push([EXPORT_MARKER, Buffer.from(`${JSON.stringify(marker, null, 2)}\n`)]);
  await writeDirectory(dir, EXPORT_KIND, files);
  return { dir: resolve(dir), users, items, rank, uid, bytes: files.reduce((sum, [, data]) => sum + data.length, 0) };
}

/** Options of importSparkModel. */
export interface SparkImportOptions {
  /**
   * A directory holding the id tables `userIds/` and `itemIds/` (each a directory of Parquet
   * parts or one Parquet file). @default the Spark model directory itself; where a table is
   * missing there, Spark's integer ids become the names
   */
  ids?: string;
  /**
   * The interactions the model was trained on (readInteractions), attached as the model's play
   * counts, so that recommendations leave out what a user played and similar can filter by
   * listeners. Plays of users or items the model lacks are left out and counted. @default none:
   * the model holds no play counts
   */
  interactions?: Interactions;
}

/** What importSparkModel read. */
export interface SparkImport {
  model: AlsModel;
  summary: ImportSummary;
}

function badMetadata(file: string, why: string): AlsError {
  return new AlsError('model', `${file}: ${why}`);
}

/** The first line of the first non-empty part of `dir/metadata` (Spark's reader takes the same). */
function readMetadata(dir: string): { file: string; json: Record<string, unknown> } {
  const folder = join(dir, SPARK_TABLES.metadata);
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new AlsError(
        'model',
        `${folder} is missing: ${dir} is not a Spark ALSModel directory (it has metadata/, userFactors/ and itemFactors/)`,
      );
    }
    throw badMetadata(folder, `cannot read it: ${describeFsError(error)}`);
  }
  const parts = names.filter((name) => !name.startsWith('.') && !name.startsWith('_')).sort();
  for (const name of parts) {
    const file = join(folder, name);
    let text: string;
    try {
      text = readSmallFile(file, 16 * 1024 * 1024).toString('utf8');
    } catch (error) {
      if (error instanceof NotRegularFile) throw badMetadata(file, error.message);
      throw badMetadata(file, `cannot read it: ${describeFsError(error)}`);
    }
    const line = text.split('\n')[0];
    if (line.trim() === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw badMetadata(file, 'is not JSON (Spark writes one line of JSON there)');
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json))
      throw badMetadata(file, 'is not a JSON object');
    return { file, json: json as Record<string, unknown> };
  }
  throw badMetadata(folder, 'holds no metadata (no non-empty part file)');
}

interface SparkMetadata {
  file: string;
  rank: number;
  uid: string;
  sparkVersion: string;
}

function checkMetadata(file: string, json: Record<string, unknown>): SparkMetadata {
  if (json.class !== SPARK_ALS_MODEL_CLASS) {
    throw badMetadata(file, `describes a ${valueForMessage(json.class)}, not a ${SPARK_ALS_MODEL_CLASS}`);
  }
  const rank = json.rank;
  if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 1 || rank > MAX_FACTORS) {
    throw badMetadata(file, `gives rank ${valueForMessage(rank)}; als reads a rank from 1 to ${MAX_FACTORS}`);
  }
  if (typeof json.uid !== 'string') throw badMetadata(file, `has no uid (a string), but ${valueForMessage(json.uid)}`);
  if (typeof json.sparkVersion !== 'string')
    throw badMetadata(file, `has no sparkVersion (a string), but ${valueForMessage(json.sparkVersion)}`);
  return { file, rank, uid: json.uid.slice(0, 200), sparkVersion: json.sparkVersion.slice(0, 100) };
}

/** The rows of a factor table ordered by Spark id; a repeated id is refused, naming the table. */
function byId(
  table: string,
  ids: Int32Array,
  features: Float32Array,
  rank: number,
): { ids: Int32Array; factors: Float32Array } {
  const order = Int32Array.from(ids.keys()).sort((a, b) => ids[a] - ids[b]);
  const sorted = new Int32Array(ids.length);
  const factors = new Float32Array(features.length);
  for (let r = 0; r < order.length; r++) {
    sorted[r] = ids[order[r]];
    if (r > 0 && sorted[r] === sorted[r - 1])
      throw new AlsError('model', `${table}: id ${sorted[r]} appears twice (rows must have distinct ids)`);
    factors.set(features.subarray(order[r] * rank, (order[r] + 1) * rank), r * rank);
  }
  return { ids: sorted, factors };
}

/**
 * Whether something is at `path` (a table may be a directory of parts or one file); one that
 * cannot be read counts as there, so that reading it says why.
 */
function exists(path: string): boolean {
  try {
    readdirSync(path);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/**
 * The als name of each Spark id in `ids` from the id table at `path`, or the ids themselves as
 * names when there is no table. Refused: an id given twice in the table, an id of the factors
 * the table does not name, a name given twice or holding a tab, line break or NUL.
 */
async function namesOf(path: string | null, ids: Int32Array, factorTable: string, noun: string): Promise<string[]> {
  if (path === null) return Array.from(ids, String);
  const table = await readNameTable(path, MAX_ROWS);
  const byId = new Map<number, number>();
  for (let r = 0; r < table.ids.length; r++) {
    const id = table.ids[r];
    if (byId.has(id)) throw new AlsError('model', `${path}: id ${id} appears twice (each id is named once)`);
    byId.set(id, r);
  }
  const names = Array.from(ids, (id) => {
    const row = byId.get(id);
    if (row === undefined) throw new AlsError('model', `${path}: no name for id ${id} of ${factorTable}`);
    return table.names[row];
  });
  const problem = nameListProblem(names);
  if (problem !== null) throw new AlsError('model', `${path}: ${nameListProblemWords(problem, noun)}`);
  return names;
}

/**
 * The interactions of `data` on the model's rows: the pairs of a user and an item of the model,
 * summed per pair; the pairs of others counted. User ids are matched exactly; item names
 * exactly, then (except for triples input, whose names are ids) without regard to letter case,
 * as `als update` matches them.
 */
function attachInteractions(userIds: string[], itemNames: string[], data: Interactions) {
  const userRow = new Map<string, number>();
  userIds.forEach((id, u) => userRow.set(id, u));
  const exact = new Map<string, number>();
  itemNames.forEach((name, i) => exact.set(name, i));
  let folded: Map<string, number> | null = null;
  if (data.stats?.format !== 'triples') {
    folded = new Map();
    for (let i = itemNames.length - 1; i >= 0; i--) folded.set(itemNames[i].toLowerCase(), i);
  }
  const users = Int32Array.from(data.userIds, (id) => userRow.get(id) ?? -1);
  const items = Int32Array.from(data.itemNames, (name) => exact.get(name) ?? folded?.get(name.toLowerCase()) ?? -1);
  const m = data.userItems;
  const nnz = m.indptr[m.rows];
  const rows = new Int32Array(nnz);
  const cols = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  let kept = 0;
  let unknownUserPairs = 0;
  let unknownItemPairs = 0;
  for (let r = 0; r < m.rows; r++) {
    for (let n = m.indptr[r]; n < m.indptr[r + 1]; n++) {
      if (users[r] === -1) unknownUserPairs++;
      else if (items[m.indices[n]] === -1) unknownItemPairs++;
      else {
        rows[kept] = users[r];
        cols[kept] = items[m.indices[n]];
        values[kept] = m.data[n];
        kept++;
      }
    }
  }
  const { matrix } = cooToCsr(userIds.length, itemNames.length, rows, cols, values, kept);
  return { matrix, kept, unknownUserPairs, unknownItemPairs };
}

/**
 * Reads the Spark ALSModel directory `dir` (as `model.save(dir)` writes it, or as
 * exportSparkModel writes it) into an als model, to be saved with saveModel. Rows are ordered
 * by Spark id; names come from the id tables (options.ids, else `dir`'s own userIds/ and
 * itemIds/), else the integer ids are the names. The training options are als's defaults with
 * `factors` = the rank (Spark's metadata keeps no α or λ of the training).
 *
 * Checked, each failure one AlsError('model') naming the file: the metadata (class ALSModel, a
 * rank from 1 to 1024, uid, sparkVersion), every Parquet part (readable, columns id int and
 * features array<float> of `rank` values, finite and within ±1e15), ids given once, the id
 * tables (id int and name string, every id named once, names unique and free of tab, line
 * break and NUL).
 *
 * @throws {AlsError} 'usage' for bad arguments; 'model' for the directory's faults; 'input' when
 *   options.interactions holds no pair of a user and an item of the model
 */
export async function importSparkModel(dir: string, options: SparkImportOptions = {}): Promise<SparkImport> {
  checkString('dir', dir);
  options = checkOptions('options', options);
  if (options.ids !== undefined) checkString('options.ids', options.ids);
  if (options.interactions !== undefined) checkInteractions('options.interactions', options.interactions);
  const given = resolve(dir);
  const { file, json } = readMetadata(given);
  const metadata = checkMetadata(file, json);
  const { rank } = metadata;
  const userTable = join(given, SPARK_TABLES.userFactors);
  const itemTable = join(given, SPARK_TABLES.itemFactors);
  const userRead = await readFactorTable(userTable, rank, MAX_ROWS);
  const itemRead = await readFactorTable(itemTable, rank, MAX_ROWS);
  if (userRead.ids.length === 0) throw new AlsError('model', `${userTable}: holds no user (an empty table)`);
  if (itemRead.ids.length === 0) throw new AlsError('model', `${itemTable}: holds no item (an empty table)`);
  const users = byId(userTable, userRead.ids, userRead.features, rank);
  const items = byId(itemTable, itemRead.ids, itemRead.features, rank);

  const idsDir = options.ids === undefined ? given : resolve(options.ids);
  if (options.ids !== undefined && !exists(idsDir))
    throw new AlsError('model', `${idsDir}: the id tables' directory is missing`);
  const userIdTable = join(idsDir, SPARK_TABLES.userIds);
  const itemIdTable = join(idsDir, SPARK_TABLES.itemIds);
  const userTableFound = exists(userIdTable);
  const itemTableFound = exists(itemIdTable);
  if (options.ids !== undefined && !userTableFound && !itemTableFound) {
    throw new AlsError(
      'model',
      `${idsDir}: holds neither ${SPARK_TABLES.userIds}/ nor ${SPARK_TABLES.itemIds}/ (the id tables als writes beside a Spark export)`,
    );
  }
  const userIds = await namesOf(userTableFound ? userIdTable : null, users.ids, userTable, 'user id');
  const itemNames = await namesOf(itemTableFound ? itemIdTable : null, items.ids, itemTable, 'item name');

  let userItems = cooToCsr(
    userIds.length,
    itemNames.length,
    new Int32Array(0),
    new Int32Array(0),
    new Float32Array(0),
    0,
  ).matrix;
  let attachedSummary: ImportSummary['interactions'] = null;
  if (options.interactions !== undefined) {
    const attached = attachInteractions(userIds, itemNames, options.interactions);
    if (attached.kept === 0) {
      throw new AlsError(
        'input',
        `${options.interactions.stats?.file ?? 'the interactions'}: no row is of a user and an item of the model (user ids must match the model's exactly)`,
      );
    }
    userItems = attached.matrix;
    attachedSummary = {
      kept: userItems.indptr[userItems.rows],
      unknownUserPairs: attached.unknownUserPairs,
      unknownItemPairs: attached.unknownItemPairs,
    };
  }
  const stats = options.interactions?.stats;
  const model: AlsModel = {
    users: userIds.length,
    items: itemNames.length,
    factors: rank,
    userFactors: users.factors,
    itemFactors: items.factors,
    userIds,
    itemNames,
    userItems,
    itemUserCounts: columnCounts(userItems),
    options: resolveTrainOptions({ factors: rank }),
    input: stats
      ? {
          file: stats.file,
          format: stats.format,
          rows: stats.rows,
          used: stats.used,
          skipped: stats.skipped,
          zeroCounts: stats.zeroCounts,
          duplicates: stats.duplicates,
          header: stats.header,
        }
      : null,
    losses: null,
    imported: {
      format: 'spark',
      from: given,
      sparkVersion: metadata.sparkVersion,
      uid: metadata.uid,
      rank,
      userNames: userTableFound ? userIdTable : 'spark ids',
      itemNames: itemTableFound ? itemIdTable : 'spark ids',
      interactions: attachedSummary,
    },
  };
  return { model, summary: model.imported as ImportSummary };
}
