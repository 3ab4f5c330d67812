import { Option, type Command } from 'commander';
import { INPUT_FORMATS, type InputFormat } from '../data/read.js';
import { saveModel } from '../model/save.js';
import { inspectTarget } from '../model/store.js';
import { addCommonOptions, type CommonOptions } from './parse.js';
import { formatBytes, formatSeconds, makeOutput, plural, printJson, shown } from './output.js';
import { droppedIndexNotice, lockWaitNotice, readInput } from './train.js';

/** The formats `als import` reads. */
export const IMPORT_FORMATS = ['spark'] as const;

interface ImportCliOptions extends CommonOptions {
  format: (typeof IMPORT_FORMATS)[number];
  ids?: string;
  plays?: string;
  playsFormat?: InputFormat;
  strict?: boolean;
  json?: boolean;
}

export function registerImport(program: Command): void {
  const command = program
    .command('import')
    .summary('read a model saved by another engine (a Spark ALSModel directory) into a model directory')
    .description(
      'Read a Spark ML ALSModel directory (as model.save(dir) writes it, or als export) and write it ' +
        'as an als model directory (--model). Users and items are ordered by Spark id; their names come ' +
        'from the id tables userIds/ and itemIds/ (Parquet: id int, name string) in the Spark directory ' +
        "or in --ids DIR, else Spark's integer ids are the names. A Spark model holds no play counts: " +
        'give the training data with --plays FILE so that recommend leaves out what a user played and ' +
        'similar can filter by listeners; without it, nothing is left out as played and --min-listeners ' +
        'filters nothing.',
    )
    .argument('<dir>', 'the Spark ALSModel directory to read')
    .addOption(new Option('--format <format>', 'the format to read').choices(IMPORT_FORMATS).makeOptionMandatory())
    .option('--ids <dir>', 'directory holding the id tables userIds/ and itemIds/ (default: the Spark directory)')
    .option(
      '--plays <file>',
      'the interactions the model was trained on, kept as its play counts (.gz is read transparently)',
    )
    .addOption(new Option('--plays-format <format>', 'format of --plays (default: lastfm)').choices(INPUT_FORMATS))
    .option('--strict', 'with --plays: stop at the first malformed row instead of skipping it')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  als import --format spark ./spark-model --model ./als-model\n' +
        '  als import --format spark hdfs-copy/als --ids ./id-tables --plays plays.tsv.gz --json',
    );
  addCommonOptions(command).action(runImport);
}

async function runImport(dir: string, cli: ImportCliOptions): Promise<void> {
  const out = makeOutput(cli);
  const started = performance.now();
  // a model directory that cannot take the model is refused before anything is read
  inspectTarget(cli.model);
  const plays =
    cli.plays === undefined
      ? undefined
      : await readInput(out, cli.plays, { format: cli.playsFormat ?? 'lastfm', strict: cli.strict });
  // loaded here, not with the CLI (as in export)
  const { importSparkModel } = await import('../model/sparkFormat.js');
  const { model, summary } = await importSparkModel(dir, { ids: cli.ids, interactions: plays });
  const saved = await saveModel(model, cli.model, {}, { onLockWait: lockWaitNotice(out, cli.model) });
  droppedIndexNotice(out, saved, cli.model);
  const seconds = (performance.now() - started) / 1000;
  const interactions = model.userItems.indptr[model.users];
  if (cli.json) {
    printJson({
      model: cli.model,
      users: model.users,
      items: model.items,
      factors: model.factors,
      interactions,
      imported: summary,
      bytes: saved.bytes,
      seconds,
    });
    return;
  }
  const attached = summary.interactions;
  if (attached && attached.unknownUserPairs + attached.unknownItemPairs > 0) {
    out.warn(
      `${cli.plays}: ${plural(attached.unknownUserPairs, 'pair')} of users and ${plural(attached.unknownItemPairs, 'pair')} of artists ` +
        'not in the Spark model left out',
    );
  }
  if (attached === null) {
    out.warn(
      'no play counts attached (--plays FILE): recommend cannot leave out played artists, and --min-listeners filters nothing',
    );
  }
  if (out.quiet) return;
  const c = out.color;
  const label = (text: string) => c.bold(text.padEnd(9));
  const names = (source: string) => (source === 'spark ids' ? "Spark's integer ids" : shown(source));
  out.line(
    `${label('Read')}${shown(summary.from)}: Spark ${shown(summary.sparkVersion)} ALSModel ${shown(summary.uid)}, rank ${summary.rank}`,
  );
  out.line(`${label('Names')}users from ${names(summary.userNames)}, artists from ${names(summary.itemNames)}`);
  out.line(
    `${label('Matrix')}${plural(model.users, 'user')} × ${plural(model.items, 'item')}, ${plural(interactions, 'interaction')}`,
  );
  out.line(`${label('Saved')}${shown(cli.model)} ${c.dim(`(${formatBytes(saved.bytes)}, ${formatSeconds(seconds)})`)}`);
}
