import type { AlsError } from '../errors.js';

/**
 * The CLI's words for what the core says in the library's: the core names the API field
 * (AlsError.field) and no command line, the CLI names its flag and the command to run. One entry
 * per field whose messages the CLI words differently; each rewrites only the message it knows and
 * leaves any other message of that field as it is. The core's messages are tested to hold no
 * flag (test/errors.test.ts). (The server does not map fields yet: it checks its parameters itself.)
 */
export const CLI_WORDING: Readonly<Record<string, (message: string) => string>> = {
  // an unknown item, alone or among those of a list: the sample's items are artists
  name: (message) => artistWords(message),
  list: (message) => artistWords(message),
  strict: (message) =>
    message.replace(/\(strict: true stops at the first bad row\)$/, '(--strict stops at the first bad row)'),
  regularization: (message) => message.replace(/; train with regularization above 0$/, '; train with --lambda above 0'),
  dir: (message) =>
    message.replace(
      /^no model in (.*) \(saveModel writes one\)$/s,
      (_, dir: string) => `no model in ${dir} (train one with: als train FILE --model ${dir})`,
    ),
};

/** "no item named" as the CLI says it, where the items are artists: "no artist or item named". */
export function artistWords(message: string): string {
  return message.replace(/\bno item named\b/g, 'no artist or item named');
}

/** The message of `error` as the CLI prints it: with the flag in place of the API field. */
export function cliMessage(error: AlsError): string {
  const { field } = error;
  return field !== undefined && Object.hasOwn(CLI_WORDING, field) ? CLI_WORDING[field](error.message) : error.message;
}
