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
  let carry: Buffer | null = null; // the unfinished line from the previous chunk
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

  for await (const chunk of chunks) {
    let buffer = chunk;
    if (carry !== null) {
      buffer = Buffer.concat([carry, chunk]);
      carry = null;
    }
    let start = 0;
    let newline = buffer.indexOf(NEWLINE, start);
    while (newline !== -1) {
      emit(buffer, start, newline);
      start = newline + 1;
      newline = buffer.indexOf(NEWLINE, start);
    }
    if (start < buffer.length) {
      if (overlong || buffer.length - start > MAX_LINE_BYTES) {
        overlong = true; // drop the bytes, remember that the line is bad
      } else {
        carry = Buffer.from(buffer.subarray(start));
      }
    }
    onChunk?.();
  }
  if (carry !== null || overlong) emit(carry ?? Buffer.alloc(0), 0, carry?.length ?? 0);
  return line;
}
