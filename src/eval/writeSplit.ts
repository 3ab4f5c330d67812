import { join } from 'node:path';
import { checkNumber, checkOptions, checkString, checkTriples } from '../validate.js';
import type { Interactions } from '../data/read.js';
import type { CsrMatrix } from '../data/sparse.js';
import { makeOutputDirectory, openOutput, type OpenOutput } from '../data/writeFile.js';
import { checkTsvNames } from '../data/tsvNames.js';
import { AlsError } from '../errors.js';
import { MIN_TEST_INTERACTIONS, splitByUser, type SplitOptions } from './split.js';

/** The names of the two files in the split directory. */
export const SPLIT_FILES = { train: 'train.tsv', test: 'test.tsv' } as const;

export interface WrittenSplit {
  /** the paths written: `dir`/train.tsv and `dir`/test.tsv */
  train: string;
  test: string;
  trainInteractions: number;
  testInteractions: number;
  /** users with a line in test.tsv (those with at least 5 interactions) */
  testUsers: number;
  /** user ids and item names holding a carriage return (read back exactly by als; see checkWritableAsTriples) */
  carriageReturns: number;
}

/** Lines are buffered up to about this many characters between writes. */
const WRITE_CHUNK = 1 << 20;

/** A tab or newline would split a field or a line of the file. */

/**
 * The count as the shortest decimal that reads back as the same float32: whole numbers as they
 * are ("12"), others with at most 9 significant digits ("0.1", not 0.10000000149011612).
 */
export function formatPlays(value: number): string {
  checkNumber('value', value);
  if (Number.isInteger(value) && Math.abs(value) < 1e21) return String(value);
  for (let digits = 1; digits < 9; digits++) {
    const text = value.toPrecision(digits);
    if (Math.fround(Number(text)) === value) return String(Number(text));
  }
  return String(Number(value.toPrecision(9)));
}

/**
 * Refuses what `user \t item \t count` lines cannot carry so that the triples reader gives it
 * back: names as checkTsvNames says, and a count that is not a positive finite number. Returns
 * how many names hold a carriage return.
 */
export function checkWritableAsTriples(data: Pick<Interactions, 'userItems' | 'userIds' | 'itemNames'>): {
  carriageReturns: number;
} {
  checkTriples('data', data);
  const { carriageReturns } = checkTsvNames(data.userIds, data.itemNames, 'the split');
  const refuse = (what: string) => new AlsError('output', `cannot write the split as tab-separated lines: ${what}`);
  const { rows, indptr, indices, data: plays } = data.userItems;
  for (let u = 0; u < rows; u++) {
    for (let n = indptr[u]; n < indptr[u + 1]; n++) {
      if (!(plays[n] > 0 && Number.isFinite(plays[n]))) {
        throw refuse(
          `user ${JSON.stringify(data.userIds[u])}, item ${JSON.stringify(data.itemNames[indices[n]])} has count ${plays[n]}`,
        );
      }
    }
  }
  return { carriageReturns };
}

/** Writes the rows of `matrix` as `user \t item \t count` lines, row by row, to an open output. */
async function writeLines(
  output: OpenOutput,
  matrix: CsrMatrix,
  userIds: string[],
  itemNames: string[],
): Promise<void> {
  const { rows, indptr, indices, data } = matrix;
  let text = '';
  for (let u = 0; u < rows; u++) {
    const start = indptr[u];
    const end = indptr[u + 1];
    if (start === end) continue;
    const prefix = `${userIds[u]}\t`;
    for (let n = start; n < end; n++) text += `${prefix}${itemNames[indices[n]]}\t${formatPlays(data[n])}\n`;
    if (text.length >= WRITE_CHUNK) {
      await output.write(text);
      text = '';
    }
  }
  if (text.length > 0) await output.write(text);
}

/**
 * Holds out part of every user's items exactly as `evaluate` does (splitByUser with the same
 * test fraction and seed) and writes the two halves to `dir`/train.tsv and `dir`/test.tsv as
 * `user \t item \t count` lines (no header; original user ids, item display names, counts after
 * duplicates were summed), which `--format triples` reads back. `dir` is created if missing.
 * Each file is written by the safe writer (src/data/writeFile.ts): under a random temporary name
 * beside it, renamed when both are complete, so neither is ever seen half-written (a FIFO or
 * device is written straight, a symbolic link followed). Throws AlsError('output') naming the
 * path when it cannot.
 */
export async function writeSplit(
  data: Pick<Interactions, 'userItems' | 'userIds' | 'itemNames'>,
  dir: string,
  options: SplitOptions = {},
): Promise<WrittenSplit> {
  checkString('dir', dir);
  options = checkOptions('options', options);
  const { carriageReturns } = checkWritableAsTriples(data);
  const { train, test, testUsers } = splitByUser(data.userItems, options);
  if (testUsers.length === 0) {
    const least = options.minInteractions ?? MIN_TEST_INTERACTIONS;
    throw new AlsError('input', `no user has enough interactions (at least ${least}) to hold some out`);
  }
  await makeOutputDirectory(dir);

  const parts = [
    { path: join(dir, SPLIT_FILES.train), matrix: train },
    { path: join(dir, SPLIT_FILES.test), matrix: test },
  ];
  // both opened (and checked) before either is written, both complete before either replaces its file
  const outputs: OpenOutput[] = [];
  try {
    for (const part of parts) outputs.push(await openOutput(part.path));
    for (const [n, part] of parts.entries()) await writeLines(outputs[n], part.matrix, data.userIds, data.itemNames);
    for (const output of outputs) await output.commit();
  } catch (error) {
    await Promise.all(outputs.map((output) => output.abort()));
    throw error;
  }
  return {
    train: parts[0].path,
    test: parts[1].path,
    trainInteractions: train.indptr[train.rows],
    testInteractions: test.indptr[test.rows],
    testUsers: testUsers.length,
    carriageReturns,
  };
}
