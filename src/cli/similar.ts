import type { Command } from 'commander';
import { AlsError } from '../errors.js';
import { oneQuery, withModel } from './withModel.js';
import type { AlsModel } from '../model/model.js';
import { checkMinListeners, DEFAULT_MIN_ITEM_USERS } from '../query/listeners.js';
import { similarItems } from '../query/similar.js';
import { writeAllSimilar } from '../query/similarAll.js';
import { openItemIndex, type ItemIndexSearch } from '../query/itemIndex.js';
import { addCommonOptions, wholeNumber, type CommonOptions } from './parse.js';
import { checkCount, printScored } from './print.js';
import { formatCount, formatSeconds, makeOutput, plural, printJson, shown, type Output } from './output.js';
import { isStandardOutput, outputSharesTerminal, outputTarget } from './outputTarget.js';
import { startProgress } from './progress.js';

interface SimilarCliOptions extends CommonOptions {
  all?: boolean;
  output?: string;
  count: number;
  minListeners: number;
  exact?: boolean;
  json?: boolean;
}

export function registerSimilar(program: Command): void {
  const command = program
    .command('similar')
    .summary('artists (items) most similar to one artist, or to every artist')
    .description(
      'Find an artist by name (letter case does not matter) and list the most similar artists by ' +
        'cosine similarity of their factors; scores are min-max scaled to 0..1 over the candidates. ' +
        'Artists with fewer than --min-listeners listeners are not listed: their factors rest on ' +
        'one or two users.',
    )
    .argument('[artist]', 'artist (item) name')
    .option('--all', 'list the neighbours of every artist (needs --output)')
    .option(
      '-o, --output <file>',
      'with --all: write "artist <tab> similar artist <tab> score" lines here (- for standard output)',
    )
    .option('-n, --count <n>', 'how many to list (per artist with --all)', wholeNumber, 10)
    .option(
      '--min-listeners <n>',
      'leave out artists played by fewer users (1 keeps all)',
      wholeNumber,
      DEFAULT_MIN_ITEM_USERS,
    )
    .option(
      '--exact',
      'with --all: score every artist even when the model has an index (als index), instead of searching it',
    )
    .option('--json', 'print {"item", "minListeners", "leftOut", "similar": [{"item", "score"}]} as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  als similar radiohead\n  als similar "jay-z" --min-listeners 1 --json\n  als similar --all --output similar.tsv -n 20',
    );
  addCommonOptions(command).action(runSimilar);
}

async function runSimilar(name: string | undefined, cli: SimilarCliOptions): Promise<void> {
  const out = makeOutput(cli);
  checkCount(cli.count);
  checkMinListeners(cli.minListeners, '--min-listeners', 'artist');
  if (cli.all && name !== undefined) throw new AlsError('usage', 'give either an artist or --all, not both');
  if (!cli.all && name === undefined)
    throw new AlsError('usage', 'which artist? give its name (or --all --output FILE)');
  if (cli.all && !cli.output) throw new AlsError('usage', '--all writes a file: give --output FILE');
  if (!cli.all && cli.output) throw new AlsError('usage', '--output goes with --all');
  if (!cli.all && cli.exact)
    throw new AlsError('usage', '--exact goes with --all (one artist is always scored exactly)');
  return withModel(
    cli.model,
    async (model) => {
      if (cli.all) return similarAll(out, model, cli);

      const {
        item,
        similar,
        minItemUsers: minListeners,
        leftOut,
      } = similarItems(model, name as string, {
        count: cli.count,
        minItemUsers: cli.minListeners,
      });
      if (cli.json) {
        printJson({
          item,
          minListeners,
          leftOut,
          similar: similar.map((s) => ({ item: s.name, score: s.score, raw: s.raw })),
        });
        return;
      }
      out.line(`${out.color.bold('Similar to')} ${out.color.cyan(shown(item))}`);
      printScored(out, similar);
      if (leftOut > 0 && !out.quiet) out.line(out.color.dim(`     (${leftOutNote(leftOut, minListeners)})`));
    },
    cli.all ? {} : oneQuery(),
  );
}

function leftOutNote(leftOut: number, minListeners: number): string {
  return `${plural(leftOut, 'artist')} with fewer than ${plural(minListeners, 'listener')} left out; --min-listeners 1 keeps them`;
}

/**
 * The index `similar --all` searches: the model's own when it is fresh and covers this
 * --min-listeners, else none (a stale one with a warning: it was built for another model).
 */
function indexFor(out: Output, model: AlsModel, cli: SimilarCliOptions): ItemIndexSearch | undefined {
  if (cli.exact) return undefined;
  // a corrupt index stops here, before the output file is opened
  const state = openItemIndex(model);
  if (state.kind === 'stale') {
    out.warn(
      `the item index of ${cli.model} is stale (${state.reason}): searching exactly; \`als index\` builds it again`,
    );
    return undefined;
  }
  if (state.kind === 'none' || state.search.minItemUsers !== cli.minListeners) return undefined;
  return state.search;
}

async function similarAll(out: Output, model: AlsModel, cli: SimilarCliOptions): Promise<void> {
  const started = performance.now();
  const itemIndex = indexFor(out, model, cli);
  const target = outputTarget(cli.output as string);
  // `--output -`: the lines are the output, with no bar or summary among them; no bar among
  // lines to stderr or a terminal either
  const toStdout = isStandardOutput(cli.output as string);
  const bar = startProgress(
    out.interactive && !outputSharesTerminal(cli.output as string),
    'Similar |{bar}| {percentage}% | {value}/{total} artists | ETA {eta_formatted}',
    model.items,
  );
  const summary = await writeAllSimilar(
    model,
    target,
    { count: cli.count, minItemUsers: cli.minListeners, ...(itemIndex ? { itemIndex } : {}) },
    (items) => bar.update(items),
  ).finally(() => bar.stop());
  if (toStdout) return;
  const seconds = (performance.now() - started) / 1000;
  if (cli.json) {
    const { items, lines, minItemUsers, leftOut, search } = summary;
    printJson({ output: cli.output, items, lines, minListeners: minItemUsers, leftOut, search, seconds });
  } else if (!out.quiet) {
    const how = summary.search === 'approximate' ? 'approximate, from the item index; ' : '';
    out.line(
      `Wrote ${formatCount(summary.lines)} neighbours of ${formatCount(summary.items)} artists to ${shown(cli.output as string)} ${out.color.dim(`(${how}${formatSeconds(seconds)})`)}`,
    );
    if (summary.leftOut > 0) out.line(out.color.dim(`(${leftOutNote(summary.leftOut, summary.minItemUsers)})`));
  }
}
