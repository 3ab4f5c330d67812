import { Chalk, type ChalkInstance } from 'chalk';

/** How the CLI talks: colour and progress bars only on a terminal and never with --quiet. */
export interface Output {
  quiet: boolean;
  /** progress bars wanted (stdout and stderr are terminals, not --quiet) */
  interactive: boolean;
  color: ChalkInstance;
  /** a line on stdout */
  line(text?: string): void;
  /** a warning line on stderr */
  warn(text: string): void;
}

function colorLevel(stream: NodeJS.WriteStream, quiet: boolean): 0 | 1 | 2 | 3 {
  if (quiet || 'NO_COLOR' in process.env) return 0;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return 1;
  if (!stream.isTTY) return 0;
  const depth = stream.getColorDepth();
  return depth >= 24 ? 3 : depth >= 8 ? 2 : depth >= 4 ? 1 : 0;
}

/**
 * Characters that steer a terminal rather than show: C0 and C1 controls (ESC starts colour,
 * title and cursor sequences), DEL, and the bidirectional overrides and isolates (U+202E shows
 * "gpj.exe" as "exe.jpg"), plus the line and paragraph separators.
 */
const STEERING = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;
/** An SGR (colour) sequence, as chalk writes them. */
const SGR_OR_STEERING =
  /(\x1b\[[0-9;]*m)|[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

const NAMED_ESCAPES: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function escapeOne(char: string): string {
  const code = char.codePointAt(0) as number;
  return (
    NAMED_ESCAPES[char] ??
    (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`)
  );
}

/**
 * `text` safe to print to a terminal: every control or bidi character shown as an escape
 * (`\x1b`, `\u202e`, `\t`), so that a name in a data file cannot colour, retitle or reorder
 * the user's terminal (issue 9). For names, ids and paths in human output; JSON escapes its own.
 */
export function shown(text: string): string {
  return text.replace(STEERING, escapeOne);
}

/**
 * A whole line safe to print: the colour sequences the CLI itself adds are kept, any other
 * control or bidi character is escaped. Names are escaped where they are put into the line
 * (`shown`), so that a name holding a colour sequence of its own is escaped too.
 */
export function terminalSafe(line: string): string {
  return line.replace(SGR_OR_STEERING, (match, sgr: string | undefined) => sgr ?? escapeOne(match));
}

export function makeOutput(options: { quiet?: boolean } = {}): Output {
  const quiet = Boolean(options.quiet);
  const color = new Chalk({ level: colorLevel(process.stdout, quiet) });
  const warnColor = new Chalk({ level: colorLevel(process.stderr, quiet) });
  return {
    quiet,
    interactive: !quiet && Boolean(process.stdout.isTTY) && Boolean(process.stderr.isTTY),
    color,
    line: (text = '') => process.stdout.write(`${terminalSafe(text)}\n`),
    warn: (text) => process.stderr.write(`${warnColor.yellow('warning:')} ${shown(text)}\n`),
  };
}

export function formatCount(n: number): string {
  // whole numbers grouped by hand: the first toLocaleString loads the locale data (17 ms, a tenth
  // of a one-shot query's own work); anything else as toLocaleString prints it
  if (!Number.isSafeInteger(n) || Object.is(n, -0)) return n.toLocaleString('en-US');
  const digits = String(Math.abs(n));
  let grouped = digits.slice(0, ((digits.length - 1) % 3) + 1);
  for (let at = grouped.length; at < digits.length; at += 3) grouped += `,${digits.slice(at, at + 3)}`;
  return n < 0 ? `-${grouped}` : grouped;
}

/** "1 row", "2 rows", "1,000 rows" */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${formatCount(n)} ${n === 1 ? noun : nouns}`;
}

export function formatSeconds(seconds: number): string {
  return seconds < 10 ? `${seconds.toFixed(2)} s` : `${seconds.toFixed(1)} s`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

/** Pads to `width` terminal columns, counting characters (not bytes). */
export function padEnd(text: string, width: number): string {
  const length = [...text].length;
  return length >= width ? text : text + ' '.repeat(width - length);
}

/** A JSON document on stdout, for scripts. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
