import { AlsError, quoteForMessage } from '../errors.js';

const SEPARATOR = /[\t\n]/;

/**
 * Refuses ids and names that tab-separated lines cannot carry so that the triples reader gives
 * them back as they are: a tab or newline in one (escaping would change the name when read
 * back), or two items shown with the same name (read back as one). A carriage return is kept:
 * the readers drop only one just before a newline, which always follows the last field, so a
 * name keeps it (the Last.fm 360K file has such names). The one rule of every tab-separated
 * file als writes (the split, `--all` outputs). Returns how many names hold a carriage return,
 * because other tools may take a lone "\r" for a line break.
 *
 * @param what what is being written, for the message ("the split")
 * @throws {AlsError} 'output' naming the id or name
 */
export function checkTsvNames(userIds: readonly string[], itemNames: readonly string[], what: string): { carriageReturns: number } {
  const refuse = (why: string) => new AlsError('output', `cannot write ${what} as tab-separated lines: ${why}`);
  let carriageReturns = 0;
  for (const id of userIds) {
    if (SEPARATOR.test(id)) throw refuse(`user ${quoteForMessage(id)} contains a tab or newline (rename it in the input)`);
    if (id.includes('\r')) carriageReturns++;
  }
  const seen = new Set<string>();
  for (const name of itemNames) {
    if (SEPARATOR.test(name)) throw refuse(`item ${quoteForMessage(name)} contains a tab or newline (rename it in the input)`);
    if (name.includes('\r')) carriageReturns++;
    if (seen.has(name)) throw refuse(`two different items are both named ${quoteForMessage(name)} (they would be read back as one)`);
    seen.add(name);
  }
  return { carriageReturns };
}
