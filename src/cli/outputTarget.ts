import type { OutputTarget } from '../data/writeFile.js';
import { shown } from './output.js';

/** Names of this process's standard output: written through process.stdout, in order with everything else printed. */
const STANDARD_OUTPUT = new Set(['-', '/dev/stdout', '/dev/fd/1', '/proc/self/fd/1']);

/** Whether `--output <file>` names standard output (no progress bar or summary is printed then). */
export function isStandardOutput(option: string): boolean {
  return STANDARD_OUTPUT.has(option);
}

/**
 * What `--output <file>` writes to: process.stdout for `-` (or /dev/stdout), else the path for
 * the safe writer. On a terminal the lines are for a person to read: control and bidi
 * characters in names are shown escaped, as in all human output (issue 9); to a file or a pipe
 * the names go as they are.
 */
export function outputTarget(option: string): OutputTarget {
  if (!STANDARD_OUTPUT.has(option)) return option;
  return process.stdout.isTTY ? terminalLines(process.stdout) : process.stdout;
}

/** A stream that writes tab-separated lines to `terminal` with each field shown escaped. */
function terminalLines(terminal: NodeJS.WriteStream): NodeJS.WritableStream {
  const escapeFields = (text: string) => text.split('\n').map((line) => line.split('\t').map(shown).join('\t')).join('\n');
  return new Proxy(terminal, {
    get(target, property, receiver) {
      if (property === 'write') {
        return (chunk: string | Uint8Array, ...rest: unknown[]) =>
          (target.write as (...args: unknown[]) => boolean)(escapeFields(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')), ...rest);
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
