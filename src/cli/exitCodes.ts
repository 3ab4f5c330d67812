import type { AlsErrorCode } from '../errors.js';

/** Exit codes, documented in docs/commands.md#exit-codes. */
export const EXIT = {
  ok: 0,
  /** a bug: an error that is not the user's */
  internal: 1,
  /** bad command line: unknown option, bad option value, missing argument */
  usage: 2,
  /** the input file is missing, unreadable, empty, or has no usable row */
  input: 3,
  /** the model is missing, corrupt, or cannot be written */
  model: 4,
  /** the user or item asked for is not in the model */
  notFound: 5,
  /** an output file cannot be written */
  output: 6,
  /** interrupted (Ctrl-C) */
  interrupted: 130,
} as const;

export function exitCodeFor(code: AlsErrorCode): number {
  switch (code) {
    case 'usage':
      return EXIT.usage;
    case 'input':
      return EXIT.input;
    case 'model':
      return EXIT.model;
    case 'not-found':
      return EXIT.notFound;
    case 'output':
      return EXIT.output;
  }
}
