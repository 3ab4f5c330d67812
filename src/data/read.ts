import { parse as parseCsv, CsvError } from 'csv-parse';
import { basename } from 'node:path';
import { AlsError } from '../errors.js';
import type { Readable } from 'node:stream';
import { InteractionsBuilder, type BuiltInteractions } from './builder.js';
import { FastTsvReader } from './fastTsv.js';
import { forEachLine } from './lines.js';
import {
  badCountReason,
  EMPTY_USER_REASON,
  emptyItemReason,
  fieldCountReason,
  LASTFM_LAYOUT,
  OVERLONG_REASON,
  parseCount,
  TRIPLES_LAYOUT,
  type RowLayout,
} from './rows.js';
import { describeFileError, openInput, type InputSource } from './source.js';
import type { CsrMatrix } from './sparse.js';

export const INPUT_FORMATS = ['lastfm', 'triples', 'csv'] as const;
/**
 * lastfm:  user \t artist-mbid \t artist-name \t plays (the Last.fm 360K layout); the item is the
 *          artist name, case-insensitively
 * triples: user \t item \t count
 * csv:     comma-separated, quoted fields allowed: user,item,count or user,mbid,name,plays
 */
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** How many skipped rows are kept, with line number and reason, for the report. */
export const SKIPPED_EXAMPLES = 5;

export interface ReadProgress {
  bytesRead: number;
  totalBytes: number;
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
  engine?: 'simple' | 'fast';
  /** Internal, for tests: the size of the chunks read from the file. */
  chunkBytes?: number;
}

export interface SkippedRow {
  line: number;
  reason: string;
}

export interface ReadStats {
  file: string;
  format: InputFormat;
  compressed: boolean;
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

  /** True when `fields` look like a header: the count column is not a number. */
  isHeader(fields: string[]): boolean {
    const layout = this.layout(fields.length);
    return layout !== null && fields[layout.count] !== undefined && Number.isNaN(parseCount(fields[layout.count]));
  }

  private layout(fieldCount: number): RowLayout | null {
    if (this.format === 'lastfm') return fieldCount === 4 ? LASTFM_LAYOUT : null;
    if (this.format === 'triples') return fieldCount === 3 ? TRIPLES_LAYOUT : null;
    if (fieldCount === 3) return TRIPLES_LAYOUT;
    if (fieldCount === 4) return LASTFM_LAYOUT;
    return null;
  }

  accept(fields: string[]): string | null {
    const layout = this.layout(fields.length);
    if (layout === null) {
      const expected = this.format === 'lastfm' ? '4' : this.format === 'triples' ? '3' : '3 or 4';
      return fieldCountReason(expected, fields.length);
    }
    const user = fields[0];
    const item = fields[layout.item];
    if (user.length === 0) return EMPTY_USER_REASON;
    if (item.length === 0) return emptyItemReason(layout);
    const count = parseCount(fields[layout.count]);
    if (Number.isNaN(count)) return badCountReason(layout, fields[layout.count]);
    if (count === 0) {
      this.zeroCounts++;
      return null;
    }
    this.builder.add(user, layout.foldCase ? item.toLowerCase() : item, item, count);
    return null;
  }
}

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
 * The string reader: every line decoded and split (or parsed by csv-parse), every field a
 * string. It reads csv, and is the reference the byte reader of the TSV formats is tested against.
 */
class StringReader implements RowReader {
  rows = 0;
  header = false;
  private readonly builder = new InteractionsBuilder();
  private readonly acceptor: RowAcceptor;

  constructor(
    private readonly format: InputFormat,
    private readonly name: string,
    private readonly skip: (line: number, reason: string) => void,
    private readonly strict: boolean,
  ) {
    this.acceptor = new RowAcceptor(format, this.builder);
  }

  get zeroCounts(): number {
    return this.acceptor.zeroCounts;
  }

  get used(): number {
    return this.builder.rows;
  }

  private handleFields(fields: string[], line: number): void {
    if (line === 1 && this.rows === 0 && this.acceptor.isHeader(fields)) {
      this.header = true;
      return;
    }
    this.rows++;
    const reason = this.acceptor.accept(fields);
    if (reason !== null) this.skip(line, reason);
  }

  read(source: InputSource, onChunk: () => void): Promise<number> {
    const handleFields = (fields: string[], line: number) => this.handleFields(fields, line);
    if (this.format === 'csv') return readCsv(this.name, source.stream(), handleFields, this.skip, onChunk, this.strict);
    return forEachLine(
      source.chunks(),
      (text, line) => {
        if (text === null) {
          this.rows++;
          this.skip(line, OVERLONG_REASON);
        } else if (text.length > 0) {
          handleFields(text.split('\t'), line);
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
  const format = options.format ?? 'lastfm';
  if (!INPUT_FORMATS.includes(format)) {
    throw new AlsError('usage', `unknown input format "${format}" (expected one of: ${INPUT_FORMATS.join(', ')})`);
  }
  const started = performance.now();
  const source = await openInput(path, options.chunkBytes);
  const name = basename(path);
  const skippedExamples: SkippedRow[] = [];
  let skipped = 0;

  const skip = (line: number, reason: string) => {
    if (options.strict) throw new AlsError('input', `${name}, line ${line}: ${reason} (--strict stops at the first bad row)`);
    skipped++;
    if (skippedExamples.length < SKIPPED_EXAMPLES) skippedExamples.push({ line, reason });
  };
  const reader: RowReader =
    format !== 'csv' && options.engine !== 'simple'
      ? new FastTsvReader(format, skip)
      : new StringReader(format, name, skip, Boolean(options.strict));
  const progress = () =>
    options.onProgress?.({ bytesRead: source.bytesRead(), totalBytes: source.totalBytes, rows: reader.rows });

  let lines: number;
  try {
    lines = await reader.read(source, progress);
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
    if (source.totalBytes === 0) throw new AlsError('input', `${name}: the file is empty`);
    const where = skippedExamples.map((s) => s.line).join(', ');
    const first = skippedExamples[0] ? `; line ${skippedExamples[0].line}: ${skippedExamples[0].reason}` : '';
    throw new AlsError(
      'input',
      `${name}: no usable row (${rows} rows, ${skipped} malformed${where ? ` at lines ${where}` : ''}, ` +
        `${zeroCounts} with count 0${first})`,
    );
  }
  const { userItems, userIds, itemNames, duplicates } = reader.build();
  return {
    userItems,
    userIds,
    itemNames,
    stats: {
      file: path,
      format,
      compressed: source.compressed,
      bytes: source.totalBytes,
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

/** Comma-separated input through csv-parse (quoted fields may hold commas, quotes and newlines). */
async function readCsv(
  name: string,
  stream: Readable,
  onFields: (fields: string[], line: number) => void,
  onBadRecord: (line: number, reason: string) => void,
  onChunk: () => void,
  strict: boolean,
): Promise<number> {
  const parser = parseCsv({
    bom: true,
    info: true,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: !strict,
    on_skip: (error: CsvError | undefined) => {
      if (error) onBadRecord(Number((error as CsvError & { lines?: number }).lines ?? 0), error.message);
    },
  });
  stream.pipe(parser);
  stream.on('error', (error) => parser.destroy(error));
  let chunks = 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      onFields(record, info.lines);
      if (++chunks % 65536 === 0) onChunk();
    }
  } catch (error) {
    if (error instanceof CsvError) {
      const line = (error as CsvError & { lines?: number }).lines;
      throw new AlsError('input', `${name}, line ${line}: ${error.message} (--strict stops at the first bad row)`, { cause: error });
    }
    throw error;
  }
  return parser.info.lines;
}
