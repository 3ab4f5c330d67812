import type { Command } from 'commander';
import { loadModel } from '../model/load.js';
import { similarItems } from '../query/similar.js';
import { addCommonOptions, wholeNumber, type CommonOptions } from './parse.js';
import { checkCount, printScored } from './print.js';
import { makeOutput, printJson } from './output.js';

interface SimilarCliOptions extends CommonOptions {
  count: number;
  json?: boolean;
}

export function registerSimilar(program: Command): void {
  const command = program
    .command('similar')
    .summary('artists (items) most similar to one artist')
    .description(
      'Find an artist by name (letter case does not matter) and list the most similar artists by ' +
        'cosine similarity of their factors; scores are min-max scaled to 0..1 over all artists.',
    )
    .argument('<artist>', 'artist (item) name')
    .option('-n, --count <n>', 'how many to list', wholeNumber, 10)
    .option('--json', 'print {"item", "similar": [{"item", "score"}]} as JSON');
  addCommonOptions(command).action(runSimilar);
}

function runSimilar(name: string, cli: SimilarCliOptions): void {
  const out = makeOutput(cli);
  checkCount(cli.count);
  const model = loadModel(cli.model);
  const { item, similar } = similarItems(model, name, { count: cli.count });
  if (cli.json) {
    printJson({ item, similar: similar.map((s) => ({ item: s.name, score: s.score })) });
    return;
  }
  out.line(`${out.color.bold('Similar to')} ${out.color.cyan(item)}`);
  printScored(out, similar);
}
