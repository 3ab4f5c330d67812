/**
 * The one error type the core throws for anything a user can cause or fix: a bad option value,
 * an unreadable input file, a missing or corrupt model, an unknown user or item. The CLI turns
 * it into one line on stderr and an exit code chosen by `code`; anything else is a bug.
 */
export type AlsErrorCode =
  /** an option or argument value is out of range or unknown */
  | 'usage'
  /** the input file is missing, unreadable, empty or has no usable row (or a bad row in strict mode) */
  | 'input'
  /** the model directory is missing, corrupt, of another format, or cannot be written */
  | 'model'
  /** an output file (e.g. recommend --all --output) cannot be written */
  | 'output'
  /** a user or item named in a query is not in the model */
  | 'not-found';

export class AlsError extends Error {
  readonly code: AlsErrorCode;

  constructor(code: AlsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AlsError';
    this.code = code;
  }
}
