import { isatty } from 'node:tty';
import { descriptorOfPath } from '../data/outputDescriptor.js';
import type { OutputTarget } from '../data/writeFile.js';
import { shown } from './output.js';

/**
 * The descriptor an output option (`--output`, `--write-config`) names: `-` is standard output
 * (1), and `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`, … as descriptorOfPath
 * says; null for a path to write.
 */
export function outputDescriptor(option: string): number | null {
  return option === '-' ? 1 : descriptorOfPath(option);
}

/** Whether an output option names standard output (no progress bar or summary is printed then). */
export function isStandardOutput(option: string): boolean {
  return outputDescriptor(option) === 1;
}

/** Whether a progress bar would mix with the output: it goes to stdout, stderr or a terminal. */
export function outputSharesTerminal(option: string): boolean {
  const fd = outputDescriptor(option);
  return fd !== null && (fd <= 2 || isatty(fd));
}

/**
 * What an output option writes to: process.stdout for `-` (and /dev/stdout, /dev/fd/1, …),
 * process.stderr for /dev/stderr (and /dev/fd/2, …), else the path for the safe writer, which
 * writes other descriptors through themselves. On a terminal the lines are for a person to read:
 * control and bidi characters in names are shown escaped, as in all human output (issue 9); to a
 * file or a pipe the names go as they are.
 */
export function outputTarget(option: string): OutputTarget {
  const fd = outputDescriptor(option);
  if (fd !== 1 && fd !== 2) return option;
  const stream = fd === 1 ? process.stdout : process.stderr;
  return stream.isTTY ? terminalLines(stream) : stream;
}

/** A stream that writes tab-separated lines to `terminal` with each field shown escaped. */
function terminalLines(terminal: NodeJS.WriteStream): NodeJS.WritableStream {
  const escapeFields = (text: string) =>
    text
      .split('\n')
      .map((line) => line.split('\t').map(shown).join('\t'))
      .join('\n');
  return new Proxy(terminal, {
    get(target, property, receiver) {
      if (property === 'write') {
        return (chunk: string | Uint8Array, ...rest: unknown[]) =>
          (target.write as (...args: unknown[]) => boolean)(
            escapeFields(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')),
            ...rest,
          );
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
