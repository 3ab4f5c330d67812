/** Lines longer than this are reported as malformed instead of being buffered without bound. */
export const MAX_LINE_BYTES = 1 << 20;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Calls `onLine` for every line of the chunks (which may reuse their memory), split on "\n" bytes only: a quote or a lone "\r"
 * inside a line is data, never a line break or quoting. One "\r" before the "\n" is dropped
 * (CRLF files). `onLine` gets null for a line longer than MAX_LINE_BYTES. `onChunk` runs after
 * each chunk, e.g. to report progress. Returns the number of lines.
 */
export async function forEachLine(
  chunks: AsyncIterable<Buffer>,
  onLine: (text: string | null, line: number) => void,
  onChunk?: () => void,
): Promise<number> {
  let line = 0;
  // the unfinished line from the previous chunks, in a buffer that grows (never copied per chunk)
  let carry = Buffer.alloc(0);
  let carryLength = 0;
  let pending = false; // a line is unfinished
  let overlong = false; // inside a line that already passed MAX_LINE_BYTES

  const emit = (buffer: Buffer, start: number, end: number) => {
    line++;
    if (overlong) {
      overlong = false;
      onLine(null, line);
      return;
    }
    if (end - start > MAX_LINE_BYTES) {
      onLine(null, line);
      return;
    }
    if (end > start && buffer[end - 1] === CARRIAGE_RETURN) end--;
    onLine(buffer.toString('utf8', start, end), line);
  };
  const keep = (buffer: Buffer, start: number, end: number) => {
    pending = true;
    if (overlong) return;
    const length = carryLength + end - start;
    if (length > MAX_LINE_BYTES) {
      overlong = true; // drop the bytes, remember that the line is bad
      carryLength = 0;
      return;
    }
    if (length > carry.length) {
      const grown = Buffer.alloc(Math.min(Math.max(2 * carry.length, length, 256), MAX_LINE_BYTES));
      carry.copy(grown, 0, 0, carryLength);
      carry = grown;
    }
    buffer.copy(carry, carryLength, start, end);
    carryLength = length;
  };
  const finish = () => {
    pending = false;
    const length = carryLength;
    carryLength = 0;
    emit(carry, 0, length);
  };

  for await (const chunk of chunks) {
    let start = 0;
    let newline = chunk.indexOf(NEWLINE);
    if (pending && newline !== -1) {
      keep(chunk, 0, newline);
      finish();
      start = newline + 1;
      newline = chunk.indexOf(NEWLINE, start);
    }
    while (newline !== -1) {
      emit(chunk, start, newline);
      start = newline + 1;
      newline = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) keep(chunk, start, chunk.length);
    onChunk?.();
  }
  if (pending) finish();
  return line;
}
