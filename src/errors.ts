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

/** Text echoed in a message is cut to this many characters (a query or a field can be megabytes long). */
const ECHO_CHARACTERS = 60;

/** `text` as a JSON string for an error message, cut to ECHO_CHARACTERS with "…". */
export function quoteForMessage(text: string): string {
  const chars = [...text];
  return JSON.stringify(chars.length > ECHO_CHARACTERS ? `${chars.slice(0, ECHO_CHARACTERS).join('')}…` : text);
}

/** A file-system error in words, by its code: one table for every message of als. */
const ERRNO_WORDS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EEXIST: 'a file is in the way',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  EISDIR: 'is a directory',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  EIO: 'input/output error',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'the name is too long for the file system',
  ENXIO: 'no such device or address',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  EPIPE: 'the reader closed it',
  ETXTBSY: 'the file is busy (a running program)',
};

/**
 * A file-system error in words, on one line ("no space left on the device"). `words` overrides
 * the table where an operation gives a code a more precise meaning (ENOENT when creating a file
 * means its directory is missing).
 */
export function describeErrno(error: unknown, words: Record<string, string> = {}): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  const known = code === undefined ? undefined : (words[code] ?? ERRNO_WORDS[code]);
  return known ?? String((error as Error)?.message ?? error).split('\n')[0];
}

/**
 * The error of anything a caller can cause. `message` is written for the library's caller: it
 * names the API field (an option, argument or property, e.g. `strict`) and the bad value, and no
 * command line. `field`, when set, is that API field, so that each front end can add its own hint
 * in its own words: the CLI names the flag (src/cli/errorHints.ts), the server the query parameter.
 */
export class AlsError extends Error {
  readonly code: AlsErrorCode;
  /** the API field the error is about, for a front end to name in its own words */
  readonly field?: string;

  constructor(code: AlsErrorCode, message: string, options?: { cause?: unknown; field?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AlsError';
    this.code = code;
    if (options?.field !== undefined) this.field = options.field;
  }
}
