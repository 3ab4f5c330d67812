import type { Command } from 'commander';
import { ITEM_INDEX } from '../model/format.js';
import { indexModelDirectory } from '../model/indexDirectory.js';
import { checkMinListeners, DEFAULT_MIN_ITEM_USERS } from '../query/listeners.js';
import { formatBytes, formatCount, formatSeconds, makeOutput, plural, printJson, shown } from './output.js';
import { addCommonOptions, wholeNumber, type CommonOptions } from './parse.js';
import { startProgress, type Progress } from './progress.js';
import { lockWaitNotice } from './train.js';

/** `als index` (named buildIndex.ts: an index.ts would read as a folder's entry point). */
interface IndexCliOptions extends CommonOptions {
  minListeners: number;
  json?: boolean;
}

export function registerIndex(program: Command): void {
  const command = program
    .command('index')
    .summary('build the approximate index that makes similar --all faster')
    .description(
      'Build an HNSW approximate nearest-neighbour index over the artists (items) with at least ' +
        '--min-listeners listeners, by the cosine similarity of their factors, and save it with the ' +
        `model as a new version (${ITEM_INDEX}, listed in model.json with its sha256). ` +
        '`als similar --all` then searches it instead of scoring every artist (--exact still scores ' +
        'them all). The index is bound to the item factors it was built from: `als train` drops it, ' +
        '`als update` keeps it while the indexed artists stay the same, and a stale one is never used.',
    )
    .option(
      '--min-listeners <n>',
      'index the artists played by at least this many users: the --min-listeners of the similar --all it serves (1 indexes all)',
      wholeNumber,
      DEFAULT_MIN_ITEM_USERS,
    )
    .option('--json', 'print {"model", "file", "items", "rows", "minListeners", "bytes", "changed", "seconds"} as JSON')
    .addHelpText('after', '\nExamples:\n  als index\n  als index --model my-model --json');
  addCommonOptions(command).action(runIndex);
}

async function runIndex(cli: IndexCliOptions): Promise<void> {
  const out = makeOutput(cli);
  checkMinListeners(cli.minListeners, '--min-listeners', 'artist');
  const started = performance.now();
  let bar: Progress | null = null;
  const result = await indexModelDirectory(cli.model, {
    minItemUsers: cli.minListeners,
    onLockWait: lockWaitNotice(out, cli.model),
    onProgress: (inserted, rows) => {
      bar ??= startProgress(
        out.interactive,
        'Index    |{bar}| {percentage}% | {value}/{total} artists | ETA {eta_formatted}',
        rows,
      );
      bar.update(inserted);
    },
  }).finally(() => (bar as Progress | null)?.stop());
  const seconds = (performance.now() - started) / 1000;
  const { entry, bytes, buildSeconds, items, saved } = result;
  if (cli.json) {
    printJson({
      model: cli.model,
      file: ITEM_INDEX,
      items,
      rows: entry.rows,
      minListeners: entry.minItemUsers,
      m: entry.m,
      efConstruction: entry.efConstruction,
      bytes,
      changed: saved !== null,
      seconds: { build: buildSeconds, total: seconds },
    });
    return;
  }
  if (out.quiet) return;
  if (saved === null) {
    out.line(
      `Nothing to do: ${shown(cli.model)} already has a fresh ${ITEM_INDEX} of ${formatCount(entry.rows)} artists (at least ${plural(entry.minItemUsers, 'listener')})`,
    );
    return;
  }
  const label = (text: string) => out.color.bold(text.padEnd(9));
  out.line(
    `${label('Indexed')}${formatCount(entry.rows)} of ${plural(items, 'artist')} (those with at least ${plural(entry.minItemUsers, 'listener')}) ` +
      out.color.dim(`(${formatSeconds(buildSeconds)})`),
  );
  out.line(`${label('Saved')}${shown(cli.model)} with ${ITEM_INDEX} ${out.color.dim(`(${formatBytes(bytes)})`)}`);
}
