/**
 * The lines the --all writers make, `first \t second \t score` with the score as toFixed(6)
 * gives it, built as UTF-8 bytes: each name encoded once per model instead of once per line,
 * and the score's digits written from an integer. At 200,000 lines a run the string lines took
 * the writing thread about as long as a tenth of the scoring, which that thread shares a core
 * with.
 */

/** UTF-8 bytes of names, all in one buffer. */
export interface EncodedNames {
  bytes: Buffer;
  /** name i is bytes[starts[i], starts[i + 1]) */
  starts: Int32Array;
}

const TAB = 0x09;
const NEWLINE = 0x0a;
const ZERO = 0x30;

const encoded = new WeakMap<readonly string[], EncodedNames>();

/** The names' bytes, encoded once per array (a model's names do not change). */
export function encodedNames(names: readonly string[]): EncodedNames {
  let found = encoded.get(names);
  if (found === undefined) {
    // one encoding of all the names, joined by newlines that mark where each ends, unless a name
    // holds one itself (the --all writers refuse those, checkTsvNames): then each is measured
    const bytes = Buffer.from(names.join('\n'));
    const starts = new Int32Array(names.length + 1);
    const separated = !names.some((name) => name.includes('\n'));
    for (let i = 0, at = 0; i < names.length; i++) {
      starts[i] = at;
      if (!separated) at += Buffer.byteLength(names[i]) + 1;
      else at = i + 1 < names.length ? bytes.indexOf(NEWLINE, at) + 1 : bytes.length + 1;
    }
    starts[names.length] = bytes.length + 1;
    found = { bytes, starts };
    encoded.set(names, found);
  }
  return found;
}

/**
 * `score.toFixed(6)` for a score in [0, 1] from the integer round(score · 10⁶), or null when
 * that could differ: toFixed rounds the exact binary value, and the product's rounding can
 * matter only within 10⁻⁶ of a half.
 */
function micros(score: number): number | null {
  if (!(score >= 0 && score <= 1)) return null;
  const scaled = score * 1e6;
  const fraction = scaled - Math.floor(scaled);
  if (fraction > 0.499999 && fraction < 0.500001) return null;
  return Math.round(scaled);
}

/** Lines of two names and a score, in a buffer that grows as needed; `take` hands them over. */
export class ScoredLines {
  private buffer = Buffer.allocUnsafe(1 << 16);
  private length = 0;

  constructor(
    private readonly firsts: EncodedNames,
    private readonly seconds: EncodedNames,
  ) {}

  /** Adds `firsts[first] \t seconds[second] \t score.toFixed(6) \n`. */
  add(first: number, second: number, score: number): void {
    const a = this.firsts;
    const b = this.seconds;
    const aStart = a.starts[first];
    const aEnd = a.starts[first + 1] - 1;
    const bStart = b.starts[second];
    const bEnd = b.starts[second + 1] - 1;
    const n = micros(score);
    const text = n === null ? score.toFixed(6) : null;
    const room = aEnd - aStart + bEnd - bStart + 3 + (text === null ? 8 : Buffer.byteLength(text));
    if (this.length + room > this.buffer.length) this.grow(room);
    const out = this.buffer;
    let at = this.length;
    at += copyBytes(a.bytes, aStart, aEnd, out, at);
    out[at++] = TAB;
    at += copyBytes(b.bytes, bStart, bEnd, out, at);
    out[at++] = TAB;
    if (text !== null) at += out.write(text, at, 'latin1');
    else if (n === 1e6) at += out.write('1.000000', at, 'latin1');
    else {
      out[at++] = ZERO;
      out[at++] = 0x2e;
      for (let digit = 5, rest = n as number; digit >= 0; digit--, rest = Math.floor(rest / 10))
        out[at + digit] = ZERO + (rest % 10);
      at += 6;
    }
    out[at++] = NEWLINE;
    this.length = at;
  }

  /** The lines added since the last call, as a buffer of their own. */
  take(): Buffer {
    const lines = Buffer.from(this.buffer.subarray(0, this.length));
    this.length = 0;
    return lines;
  }

  private grow(room: number): void {
    const buffer = Buffer.allocUnsafe(Math.max(2 * this.buffer.length, this.length + room));
    this.buffer.copy(buffer, 0, 0, this.length);
    this.buffer = buffer;
  }
}

/** Copies from[start, end) to out at `at` (names are short: a loop beats a call); returns how many. */
function copyBytes(from: Buffer, start: number, end: number, out: Buffer, at: number): number {
  if (end - start > 32) return from.copy(out, at, start, end);
  for (let i = start; i < end; i++) out[at++] = from[i];
  return end - start;
}
