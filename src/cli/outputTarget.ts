import type { OutputTarget } from '../data/writeFile.js';

/** Names of this process's standard output: written through process.stdout, in order with everything else printed. */
const STANDARD_OUTPUT = new Set(['-', '/dev/stdout', '/dev/fd/1', '/proc/self/fd/1']);

/** What `--output <file>` writes to: process.stdout for `-` (or /dev/stdout), else the path for the safe writer. */
export function outputTarget(option: string): OutputTarget {
  return STANDARD_OUTPUT.has(option) ? process.stdout : option;
}
