import type { Command } from 'commander';
import type { TrainOptions } from '../als/options.js';
import { describeLambda } from './trainOptions.js';
import { describeModelDirectory, type ModelDirectory } from '../model/files.js';
import { FILES, FORMAT_NAME, FORMAT_VERSION, ITEM_INDEX } from '../model/format.js';
import { openItemIndex } from '../query/itemIndex.js';
import { withModel } from './withModel.js';
import type { AlsModel, InputSummary } from '../model/model.js';
import { addCommonOptions, type CommonOptions } from './parse.js';
import {
  formatBytes,
  formatCount,
  formatSeconds,
  makeOutput,
  padEnd,
  plural,
  printJson,
  shown,
  type Output,
} from './output.js';

interface InfoCliOptions extends CommonOptions {
  json?: boolean;
}

export function registerInfo(program: Command): void {
  const command = program
    .command('info')
    .summary('describe a model: shapes, options, input, loss, files')
    .description(
      'Check every file of a model (sizes and sha256 checksums, as the other commands do for the ' +
        'parts they read) and describe it: format, shapes, training options, the input it was ' +
        'trained on, read and training time, the loss if recorded, and the size of each file.',
    )
    .option('--json', 'print the description as JSON')
    .addHelpText('after', '\nExamples:\n  als info\n  als info --model my-model --json');
  addCommonOptions(command).action(runInfo);
}

/** Reads every part once, so that each file's checksum and structure are checked (the item index's too). */
function checkAll(model: AlsModel): number {
  openItemIndex(model);
  void model.userFactors;
  void model.itemFactors;
  void model.userIds;
  void model.itemNames;
  void model.itemUserCounts;
  return model.userItems.indptr[model.users];
}

async function runInfo(cli: InfoCliOptions): Promise<void> {
  const out = makeOutput(cli);
  return withModel(cli.model, async (model) => {
    const interactions = checkAll(model);
    const directory = describeModelDirectory(model);
    if (cli.json) {
      printJson({
        model: cli.model,
        format: FORMAT_NAME,
        version: FORMAT_VERSION,
        users: model.users,
        items: model.items,
        factors: model.factors,
        interactions,
        options: model.options,
        defaults: model.defaults ?? null,
        input: model.input,
        // only for a model from als import, so that a trained model's description stays as it was
        ...(model.imported ? { imported: model.imported } : {}),
        seconds: directory.timings,
        losses: model.losses,
        ...(model.trainedBy ? { trainedBy: model.trainedBy } : {}),
        // only for a model with an item index (als index), so that other descriptions stay as they were
        ...itemIndexJson(model),
        files: directory.files,
        totalBytes: directory.totalBytes,
        modified: directory.modified.toISOString(),
      });
      return;
    }
    printInfo(out, cli.model, model, interactions, directory);
  });
}

function itemIndexJson(model: AlsModel): { itemIndex?: Record<string, unknown> } {
  const index = openItemIndex(model);
  if (index.kind === 'none') return {};
  if (index.kind === 'stale') return { itemIndex: { file: ITEM_INDEX, fresh: false, reason: index.reason } };
  const { candidates, minItemUsers } = index.search;
  return { itemIndex: { file: ITEM_INDEX, fresh: true, rows: candidates.count, minListeners: minItemUsers } };
}

/** The options, or for a model another engine trained, that engine and what it was given. */
function describeTraining(model: AlsModel): string {
  const by = model.trainedBy;
  if (by?.engine !== 'spark') return describeOptions(model.options);
  const o = model.options;
  const settings = (by.settings ?? {}) as { regParam?: unknown };
  const regParam =
    typeof settings.regParam === 'number' ? ` (Spark regParam ${Number(settings.regParam.toPrecision(4))})` : '';
  return (
    `Spark ${String(by.sparkVersion)} on ${String(by.master)}: ${plural(o.factors, 'factor')}, ${plural(o.iterations, 'iteration')}, ` +
    `${o.weighting} α=${o.alpha} λ=${o.regularization}${regParam}, seed ${o.seed}`
  );
}

function describeOptions(o: TrainOptions): string {
  const solver = o.solver === 'cg' ? `cg (${o.cgSteps} steps)` : 'naive (exact)';
  const bm25 = o.weighting === 'bm25' ? ` K1=${o.bm25K1} B=${o.bm25B}` : '';
  return `${solver}, ${plural(o.factors, 'factor')}, ${plural(o.iterations, 'iteration')}, ${o.weighting} α=${o.alpha} ${describeLambda(o)}${bm25}, seed ${o.seed}`;
}

function describeInput(input: InputSummary): string {
  return (
    `${shown(input.file)} (${shown(String(input.format))}): ${plural(input.rows, 'row')}${input.header ? ' (line 1 taken as a header)' : ''}, ` +
    `${formatCount(input.used)} used, ${formatCount(input.skipped)} skipped, ${formatCount(input.zeroCounts)} with count 0, ` +
    `${plural(input.duplicates, 'duplicate')} summed`
  );
}

/** "2026-01-31 14:05:09" in local time */
function formatTime(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

function printInfo(out: Output, dir: string, model: AlsModel, interactions: number, directory: ModelDirectory): void {
  const c = out.color;
  const label = (text: string) => c.bold(text.padEnd(9));
  const none = (text: string) => c.dim(text);
  const dataFiles = Object.keys(FILES).length + (directory.files.some((f) => f.name === ITEM_INDEX) ? 1 : 0);
  out.line(
    `${label('Model')}${shown(dir)} ${c.dim(`(${FORMAT_NAME} version ${FORMAT_VERSION}; all ${dataFiles} data files match their checksums)`)}`,
  );
  const index = openItemIndex(model);
  if (index.kind === 'fresh')
    out.line(
      `${label('Index')}${ITEM_INDEX}: ${plural(index.search.candidates.count, 'item')} with at least ${plural(index.search.minItemUsers, 'user')} ${c.dim('(similar --all searches it)')}`,
    );
  else if (index.kind === 'stale')
    out.line(`${label('Index')}${ITEM_INDEX} is stale: ${index.reason} ${c.dim('(not used)')}`);
  const cells = model.users * model.items;
  out.line(
    `${label('Matrix')}${plural(model.users, 'user')} × ${plural(model.items, 'item')}, ${plural(interactions, 'interaction')}` +
      (cells > 0 ? ` ${c.dim(`(${((100 * interactions) / cells).toFixed(3)}% filled)`)}` : ''),
  );
  const train = directory.timings?.train;
  if (model.imported) {
    // Spark's model keeps no α or λ: the options shown for a trained model would be als's defaults
    const i = model.imported;
    out.line(
      `${label('Imported')}Spark ${shown(String(i.sparkVersion))} ALSModel ${shown(String(i.uid))} from ${shown(String(i.from))}, ${plural(model.factors, 'factor')} ${c.dim('(training settings not recorded by Spark)')}`,
    );
  } else
    out.line(
      `${label('Trained')}${describeTraining(model)}${train === undefined ? '' : ` ${c.dim(`(${formatSeconds(train)})`)}`}`,
    );
  if (model.defaults) out.line(`${label('Rule')}${shown(model.defaults.description)}`);
  const read = directory.timings?.read;
  out.line(
    `${label('Input')}${model.input ? describeInput(model.input) : none('not recorded')}${read === undefined || !model.input ? '' : ` ${c.dim(`(${formatSeconds(read)})`)}`}`,
  );
  const losses = model.losses;
  out.line(
    `${label('Loss')}${losses && losses.length > 0 ? `${losses[losses.length - 1].toPrecision(6)} after ${plural(losses.length, 'iteration')}` : none('not recorded (train with --loss)')}`,
  );
  const width = Math.max(...directory.files.map((f) => f.name.length), 5);
  const size = (bytes: number) => formatBytes(bytes).padStart(9);
  directory.files.forEach((file, i) =>
    out.line(`${label(i === 0 ? 'Files' : '')}${padEnd(file.name, width)}  ${size(file.bytes)}`),
  );
  out.line(`${label('')}${padEnd('total', width)}  ${size(directory.totalBytes)}`);
  out.line(`${label('Saved')}${formatTime(directory.modified)} ${c.dim('(when model.json was written)')}`);
}
