import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import { AlsError, quoteForMessage } from '../errors.js';
import { InteractionsBuilder, type BuiltInteractions } from './builder.js';
import { forEachCsvRecord } from './csv.js';
import { FastTsvReader } from './fastTsv.js';
import { DEFAULT_PART_BYTES, LaterParts, partStarts } from './parts.js';
import { forEachLine } from './lines.js';
import {
  canonicalName,
  fieldCountReason,
  isHeaderCount,
  isZeroCount,
  ABOVE_MAX_COUNT,
  MAX_COUNT,
  LASTFM_LAYOUT,
  OVERLONG_REASON,
  parseCount,
  rowProblem,
  TRIPLES_LAYOUT,
  type RowLayout,
} from './rows.js';
import { describeFileError, openInput, STDIN_PATH, type InputSource } from './source.js';
import type { CsrMatrix } from './sparse.js';

export const INPUT_FORMATS = ['lastfm', 'triples', 'csv'] as const;
/**
 * lastfm:  user \t artist-mbid \t artist-name \t plays (the Last.fm 360K layout); the item is the
 *          artist name, case-insensitively
 * triples: user \t item \t count
 * csv:     comma-separated, quoted fields allowed: user,item,count or user,mbid,name,plays
 *
 * In every format a UTF-8 byte order mark is dropped, user ids and item names are NFC-normalized
 * and trimmed (rows.ts says how), and a row is judged by `rowProblem`.
 */
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** How many skipped rows are kept, with line number and reason, for the report. */
export const SKIPPED_EXAMPLES = 5;

export interface ReadProgress {
  bytesRead: number;
  /** the size of the file; for a pipe, whose size is not known, bytesRead (see sizeKnown) */
  totalBytes: number;
  /** false when reading a pipe or another stream, whose size is not known */
  sizeKnown: boolean;
  rows: number;
}

export interface ReadOptions {
  format?: InputFormat;
  /** the first malformed row is an error instead of being skipped */
  strict?: boolean;
  onProgress?: (progress: ReadProgress) => void;
  /**
   * Internal, for tests and measurements: how the TSV formats are read, 'fast' (from the bytes,
   * the default) or 'simple' (line by line as strings, the reference). csv is always read as strings.
   */
  parser?: 'simple' | 'fast';
  /**
   * Threads that read a large regular uncompressed file, each a part of it (parts.ts); the
   * result is the same, bit for bit, with any number.
   * @default the machine's cores (os.availableParallelism())
   */
  threads?: number;
  /** Internal, for tests: the size of the chunks read from the file. */
  chunkBytes?: number;
  /** Internal, for tests: the least bytes a part read by a thread of its own is given (DEFAULT_PART_BYTES). */
  partBytes?: number;
}

export interface SkippedRow {
  line: number;
  reason: string;
}

export interface ReadStats {
  file: string;
  format: InputFormat;
  compressed: boolean;
  /** bytes of the file (for a pipe: bytes read from it) */
  bytes: number;
  lines: number;
  /** the first line was a header and was not counted as a row */
  header: boolean;
  /** data rows seen: used + skipped + zero counts */
  rows: number;
  /** rows that went into the matrix (before duplicates were summed) */
  used: number;
  skipped: number;
  /** the first few skipped rows */
  skippedExamples: SkippedRow[];
  /** rows with a count of zero, ignored */
  zeroCounts: number;
  /** rows summed into an earlier row of the same user and item */
  duplicates: number;
  seconds: number;
}

export interface Interactions {
  /** users × items, the summed counts */
  userItems: CsrMatrix;
  /** original user id of each row */
  userIds: string[];
  /** display name of each item (for lastfm: the most frequent spelling) */
  itemNames: string[];
  stats: ReadStats;
}

/**
 * Checks one row's fields and hands a good row to the builder. Returns null when the row was
 * used (or ignored as a zero count), else why it was skipped.
 */
class RowAcceptor {
  zeroCounts = 0;

  constructor(
    private readonly format: InputFormat,
    private readonly builder: InteractionsBuilder,
  ) {}

  /** True when `fields` are a header: the layout fits and the count field holds no digit. */
  isHeader(fields: string[]): boolean {
    const layout = this.layout(fields.length);
    return layout !== null && isHeaderCount(fields[layout.count]);
  }

  private layout(fieldCount: number): RowLayout | null {
    if (this.format === 'lastfm') return fieldCount === 4 ? LASTFM_LAYOUT : null;
    if (this.format === 'triples') return fieldCount === 3 ? TRIPLES_LAYOUT : null;
    if (fieldCount === 3) return TRIPLES_LAYOUT;
    if (fieldCount === 4) return LASTFM_LAYOUT;
    return null;
  }

  /** `fieldCount` may exceed fields.length (a csv record keeps its first fields only). */
  accept(fields: string[], fieldCount = fields.length): string | null {
    const layout = this.layout(fieldCount);
    if (layout === null) {
      const expected = this.format === 'lastfm' ? '4' : this.format === 'triples' ? '3' : '3 or 4';
      return fieldCountReason(expected, fieldCount);
    }
    const problem = rowProblem(fields, layout);
    if (problem !== null) return problem;
    const count = parseCount(fields[layout.count]);
    if (isZeroCount(count)) {
      this.zeroCounts++;
      return null;
    }
    const item = canonicalName(fields[layout.item]);
    this.builder.add(canonicalName(fields[0]), layout.foldCase ? item.toLowerCase() : item, item, count);
    return null;
  }
}

/** Reports a malformed row (or, for a csv record spanning lines, `rows` rows) at `line`; may throw. */
export type Skip = (line: number, reason: string, rows?: number) => void;

/** Reads the rows of one file, judging each and collecting the good ones. */
interface RowReader {
  /** data rows seen: used + skipped + zero counts */
  readonly rows: number;
  readonly header: boolean;
  readonly zeroCounts: number;
  /** rows that went into the matrix */
  readonly used: number;
  /** Reads the input, calling `onChunk` now and then; returns the number of lines. */
  read(source: InputSource, onChunk: () => void): Promise<number>;
  build(): BuiltInteractions;
}

/**
 * The string reader: every line decoded and split (csv by the scanner in csv.ts), every field a
 * string. It reads csv, and is the reference the byte reader of the TSV formats is tested against.
 */
class StringReader implements RowReader {
  rows = 0;
  header = false;
  private readonly builder = new InteractionsBuilder();
  private readonly acceptor: RowAcceptor;

  constructor(
    private readonly format: InputFormat,
    private readonly skip: Skip,
  ) {
    this.acceptor = new RowAcceptor(format, this.builder);
  }

  get zeroCounts(): number {
    return this.acceptor.zeroCounts;
  }

  get used(): number {
    return this.builder.rows;
  }

  private handleFields(fields: string[], line: number, fieldCount = fields.length): void {
    if (line === 1 && this.rows === 0 && fieldCount === fields.length && this.acceptor.isHeader(fields)) {
      this.header = true;
      return;
    }
    this.rows++;
    const reason = this.acceptor.accept(fields, fieldCount);
    if (reason !== null) this.skip(line, reason);
  }

  read(source: InputSource, onChunk: () => void): Promise<number> {
    if (this.format === 'csv') {
      return forEachCsvRecord(
        source.chunks(),
        (fields, fieldCount, line, lines, problem) => {
          if (problem === null) return this.handleFields(fields, line, fieldCount);
          this.rows += lines;
          this.skip(line, problem, lines);
        },
        onChunk,
      );
    }
    return forEachLine(
      source.chunks(),
      (text, line) => {
        if (text === null) {
          this.rows++;
          this.skip(line, OVERLONG_REASON);
        } else if (text.length > 0) {
          this.handleFields(text.split('\t'), line);
        }
      },
      onChunk,
    );
  }

  build(): BuiltInteractions {
    return this.builder.build();
  }
}

/**
 * Streams an interactions file into a users × items matrix. Malformed rows are skipped and
 * counted (or, with `strict`, the first is an error); duplicate (user, item) rows are summed.
 * Throws AlsError('input') when the file cannot be read or has no usable row.
 */
export async function readInteractions(path: string, options: ReadOptions = {}): Promise<Interactions> {
  if (options === null || typeof options !== 'object') throw new AlsError('usage', 'options must be an object of read options');
  const format = options.format ?? 'lastfm';
  if (!INPUT_FORMATS.includes(format)) {
    throw new AlsError('usage', `unknown input format ${typeof format === 'string' ? quoteForMessage(format) : typeof format} (expected one of: ${INPUT_FORMATS.join(', ')})`);
  }
  if (typeof path !== 'string' || path.length === 0) throw new AlsError('usage', 'the input path must be a non-empty string');
  const { chunkBytes } = options;
  if (chunkBytes !== undefined && !(Number.isInteger(chunkBytes) && chunkBytes >= 1 && chunkBytes <= 1 << 30)) {
    throw new AlsError('usage', `chunkBytes must be a whole number from 1 to 2^30, not ${String(chunkBytes)}`);
  }
  const { threads = availableParallelism(), partBytes = DEFAULT_PART_BYTES } = options;
  if (!(Number.isInteger(threads) && threads >= 1 && threads <= 1024)) {
    throw new AlsError('usage', `threads must be a whole number from 1 to 1024, not ${String(threads)}`, { field: 'threads' });
  }
  if (!(Number.isInteger(partBytes) && partBytes >= 1)) throw new AlsError('usage', `partBytes must be a whole number ≥ 1, not ${String(partBytes)}`);
  const started = performance.now();
  const name = path === STDIN_PATH ? 'standard input' : basename(path);
  const source = await openInput(path, options.chunkBytes, name);
  const skippedExamples: SkippedRow[] = [];
  let skipped = 0;

  const skip: Skip = (line, reason, rows = 1) => {
    if (options.strict)
      throw new AlsError('input', `${name}, line ${line}: ${reason} (strict: true stops at the first bad row)`, {
        field: 'strict',
      });
    skipped += rows;
    if (skippedExamples.length < SKIPPED_EXAMPLES) skippedExamples.push({ line, reason });
  };
  const reader: RowReader =
    format !== 'csv' && options.parser !== 'simple' ? new FastTsvReader(format, skip) : new StringReader(format, skip);
  const bytes = () => source.totalBytes ?? source.bytesRead();
  let parts: LaterParts | null = null;
  const progress = () =>
    options.onProgress?.({
      bytesRead: source.bytesRead() + (parts?.bytesRead() ?? 0),
      totalBytes: bytes(),
      sizeKnown: source.totalBytes !== null,
      rows: reader.rows + (parts?.rows() ?? 0),
    });

  let lines: number;
  try {
    // the byte reader reads a regular uncompressed file in parts, when it is large enough for two
    const file = reader instanceof FastTsvReader ? source.parts : undefined;
    const starts = file ? await partStarts(file, Math.min(threads, Math.floor(file.size / partBytes))) : [0];
    if (file && starts.length > 1 && reader instanceof FastTsvReader) {
      const settings = { format: format as 'lastfm' | 'triples', strict: options.strict === true, chunkBytes: chunkBytes ?? 1 << 20, examples: SKIPPED_EXAMPLES };
      parts = new LaterParts(file, starts, settings);
      lines = await parts.readWith(reader, skip, progress);
      source.close();
    } else {
      lines = await reader.read(source, progress);
    }
  } catch (error) {
    source.close();
    if (error instanceof AlsError) throw error;
    if ((error as { code?: string }).code?.startsWith('Z_')) {
      throw new AlsError('input', `${name}: not a valid gzip file (${(error as Error).message})`, { cause: error });
    }
    throw new AlsError('input', describeFileError(name, error), { cause: error });
  }
  progress();

  const { rows, header, zeroCounts, used } = reader;
  if (used === 0) {
    if (bytes() === 0) throw new AlsError('input', `${name}: the file is empty`);
    const where = skippedExamples.map((s) => s.line).join(', ');
    const first = skippedExamples[0] ? `; line ${skippedExamples[0].line}: ${skippedExamples[0].reason}` : '';
    throw new AlsError(
      'input',
      `${name}: no usable row (${rows} rows, ${skipped} malformed${where ? ` at lines ${where}` : ''}, ` +
        `${zeroCounts} with count 0${first})`,
    );
  }
  const { userItems, userIds, itemNames, duplicates } = reader.build();
  checkSums(name, userItems, userIds, itemNames);
  return {
    userItems,
    userIds,
    itemNames,
    stats: {
      file: path,
      format,
      compressed: source.compressed,
      bytes: bytes(),
      lines,
      header,
      rows,
      used,
      skipped,
      skippedExamples,
      zeroCounts,
      duplicates,
      seconds: (performance.now() - started) / 1000,
    },
  };
}

/**
 * Every row's count is at most MAX_COUNT, but duplicates of one user and item are summed: their
 * sum must be too, or confidences and the model's float32 plays could overflow (issue 9).
 */
function checkSums(name: string, m: CsrMatrix, userIds: string[], itemNames: string[]): void {
  for (let u = 0; u < m.rows; u++) {
    for (let n = m.indptr[u]; n < m.indptr[u + 1]; n++) {
      if (m.data[n] > MAX_COUNT) {
        throw new AlsError(
          'input',
          `${name}: the counts of user ${quoteForMessage(userIds[u])} and item ${quoteForMessage(itemNames[m.indices[n]])} add up to ` +
            `${Number(m.data[n].toPrecision(3)) > MAX_COUNT ? m.data[n].toPrecision(3) : String(m.data[n])}, ${ABOVE_MAX_COUNT}`,
        );
      }
    }
  }
}
