import { MAX_LINE_BYTES } from './lines.js';
import { OVERLONG_REASON } from './rows.js';

const COMMA = 0x2c;
const QUOTE = 0x22;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** Fields kept per record: a record with more is malformed whatever they hold, so they are only counted. */
const KEPT_FIELDS = 4;

// where the scanner is
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
/** just after a quote inside a quoted field: a second quote, a comma or the record's end must follow */
const AFTER_QUOTE = 3;
/** after a quote and a "\r" */
const AFTER_QUOTE_CR = 4;

/**
 * One record of a csv file: its first `KEPT_FIELDS` fields and how many it has, or why it cannot
 * be a row (`problem`), with the lines it spans: a record that spans lines counts as one row per
 * line, all skipped, so that a quote that is never closed loses no row silently.
 */
export type CsvRecordHandler = (fields: string[], fieldCount: number, line: number, lines: number, problem: string | null) => void;

/**
 * Splits comma-separated bytes into records (RFC 4180): a field that starts with `"` is quoted and
 * ends at the next lone `"`, `""` inside it being one quote; a quote anywhere else is data, as in
 * the TSV formats. Records end at "\n"; one "\r" before it is dropped. Because a name may not
 * hold a line break, a quoted field that spans lines makes its record malformed, reported at the
 * line where the record starts and counted once per line it spans; a quote still open at the
 * end of the file is "quote never closed (lines a–b)". Memory stays bounded: a record longer
 * than MAX_LINE_BYTES (all its bytes counted) is malformed and not kept, and only the first fields of a record are kept.
 * Empty lines are skipped. Returns the number of lines.
 */
export async function forEachCsvRecord(
  chunks: AsyncIterable<Buffer>,
  onRecord: CsvRecordHandler,
  onChunk?: () => void,
): Promise<number> {
  let line = 1; // the line being read
  let state = FIELD_START;
  let field = Buffer.alloc(256);
  let fieldLength = 0;
  let fields: string[] = [];
  let fieldCount = 0;
  let recordLine = 1;
  let recordBytes = 0;
  let quoteLine = 0;
  let quoted = false; // the current field was quoted
  let problem: string | null = null;
  let bytesOnLine = 0; // bytes read on the current line, to tell whether the file ends in "\n"

  const append = (byte: number) => {
    if (recordBytes > MAX_LINE_BYTES) return;
    if (fieldLength === field.length) {
      const grown = Buffer.alloc(Math.min(2 * field.length, MAX_LINE_BYTES));
      field.copy(grown, 0, 0, fieldLength);
      field = grown;
    }
    field[fieldLength++] = byte;
  };
  const endField = () => {
    if (fieldCount++ < KEPT_FIELDS && recordBytes <= MAX_LINE_BYTES) fields.push(field.toString('utf8', 0, fieldLength));
    fieldLength = 0;
    quoted = false;
    state = FIELD_START;
  };
  /** `newline`: the record ends at a "\n" (counted in recordBytes, but not part of the line) */
  const endRecord = (lastLine: number, unclosed: boolean, newline: boolean) => {
    const lines = lastLine - recordLine + 1;
    if (newline) recordBytes--;
    if (unclosed) {
      onRecord([], fieldCount + 1, recordLine, lines, `quote never closed (lines ${quoteLine}–${lastLine})`);
    } else {
      // one "\r" before the "\n" ends the line, not the field
      if (state === UNQUOTED && fieldLength > 0 && field[fieldLength - 1] === CARRIAGE_RETURN) fieldLength--;
      const empty = fieldCount === 0 && fieldLength === 0 && !quoted && state !== AFTER_QUOTE && state !== AFTER_QUOTE_CR;
      endField();
      if (lines > 1) {
        const which = fields.findIndex((text) => text.includes('\n'));
        const where = which >= 0 ? `field ${which + 1}` : 'a quoted field';
        onRecord(fields, fieldCount, recordLine, lines, `${where} holds a line break (lines ${recordLine}–${lastLine})`);
      } else if (recordBytes > MAX_LINE_BYTES) {
        onRecord(fields, fieldCount, recordLine, lines, OVERLONG_REASON);
      } else if (!empty) {
        onRecord(fields, fieldCount, recordLine, lines, problem);
      }
    }
    fields = [];
    fieldCount = 0;
    fieldLength = 0;
    recordBytes = 0;
    problem = null;
    quoted = false;
    state = FIELD_START;
  };

  for await (const chunk of chunks) {
    for (let n = 0; n < chunk.length; n++) {
      const byte = chunk[n];
      bytesOnLine++;
      recordBytes++; // every byte of the record counts, separators and quotes too
      switch (state) {
        case FIELD_START:
        case UNQUOTED:
          if (state === FIELD_START && byte === QUOTE) {
            state = QUOTED;
            quoted = true;
            quoteLine = line;
            break;
          }
          state = UNQUOTED;
          if (byte === COMMA) endField();
          else if (byte === NEWLINE) endRecord(line, false, true);
          else append(byte);
          break;
        case QUOTED:
          if (byte === QUOTE) state = AFTER_QUOTE;
          else append(byte);
          break;
        case AFTER_QUOTE:
        case AFTER_QUOTE_CR:
          if (byte === NEWLINE) {
            endRecord(line, false, true);
          } else if (state === AFTER_QUOTE && byte === QUOTE) {
            append(QUOTE);
            state = QUOTED;
          } else if (state === AFTER_QUOTE && byte === COMMA) {
            endField();
          } else if (state === AFTER_QUOTE && byte === CARRIAGE_RETURN) {
            state = AFTER_QUOTE_CR;
          } else {
            problem ??= `field ${fieldCount + 1} has text after its closing quote`;
            if (state === AFTER_QUOTE_CR) append(CARRIAGE_RETURN);
            state = UNQUOTED;
            n--; // read the byte again as data
            bytesOnLine--;
            recordBytes--;
          }
          break;
      }
      if (byte === NEWLINE) {
        line++;
        bytesOnLine = 0;
        if (state === FIELD_START && fieldCount === 0) recordLine = line;
      }
    }
    onChunk?.();
  }
  const lastLine = bytesOnLine > 0 ? line : line - 1;
  if (state === QUOTED) endRecord(lastLine, true, false);
  else if (bytesOnLine > 0) endRecord(line, false, false);
  return lastLine;
}
