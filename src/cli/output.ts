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

export function makeOutput(options: { quiet?: boolean } = {}): Output {
  const quiet = Boolean(options.quiet);
  const color = new Chalk({ level: colorLevel(process.stdout, quiet) });
  const warnColor = new Chalk({ level: colorLevel(process.stderr, quiet) });
  return {
    quiet,
    interactive: !quiet && Boolean(process.stdout.isTTY) && Boolean(process.stderr.isTTY),
    color,
    line: (text = '') => process.stdout.write(`${text}\n`),
    warn: (text) => process.stderr.write(`${warnColor.yellow('warning:')} ${text}\n`),
  };
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
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
