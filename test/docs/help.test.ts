import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { buildProgram, docPage } from '../../src/cli/main.js';
import { brokenLink, readDoc, section } from './markdown.js';

/** What `als COMMAND --help` prints, with the text added after the options (examples, the page). */
function helpText(command: Command): string {
  let text = '';
  command.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  command.outputHelp();
  return text;
}

/** The flags `--help` lists for a command ("-f, --format <format>"), without -h, --help. */
function helpFlags(command: Command): string[] {
  return command
    .createHelp()
    .visibleOptions(command)
    .map((option) => option.flags)
    .filter((flags) => flags !== '-h, --help');
}

/** The options in the reference tables of a section: first cells such as `` `-f, --format <format>` ``. */
export function documentedFlags(lines: string[]): string[] {
  return lines
    .map((line) => /^\|\s*`(-[^`]*)`\s*\|/.exec(line)?.[1])
    .filter((flags): flags is string => flags !== undefined);
}

/** What differs between the options of --help and those of the docs' table, one line each. */
export function optionDrift(command: string, page: string, help: string[], documented: string[]): string[] {
  return [
    ...help
      .filter((flags) => !documented.includes(flags))
      .map((flags) => `als ${command}: \`${flags}\` is in --help but not in the table of ${page}`),
    ...documented
      .filter((flags) => !help.includes(flags))
      .map((flags) => `als ${command}: \`${flags}\` is in the table of ${page} but not in --help`),
  ];
}

describe('the help and the documentation', () => {
  const program = buildProgram();
  const commands = program.commands;

  it('knows every command', () => {
    assert.deepEqual(commands.map((c) => c.name()).sort(), [
      'evaluate',
      'export',
      'import',
      'index',
      'info',
      'recommend',
      'serve',
      'similar',
      'train',
      'tune',
      'update',
    ]);
  });

  it('reads an options table and names a drift both ways', () => {
    const table = [
      '## als x',
      '| Option | Default | Meaning |',
      '|---|---|---|',
      '| `FILE` | (required) | a file |',
      '| `-n, --count <n>` | `10` | how many |',
      '| `--old` | off | gone |',
    ];
    assert.deepEqual(documentedFlags(table), ['-n, --count <n>', '--old']);
    assert.deepEqual(optionDrift('x', 'docs/x.md#als-x', ['-n, --count <n>', '--new <v>'], documentedFlags(table)), [
      'als x: `--new <v>` is in --help but not in the table of docs/x.md#als-x',
      'als x: `--old` is in the table of docs/x.md#als-x but not in --help',
    ]);
  });

  for (const command of commands) {
    const name = command.name();
    const page = docPage(name);

    it(`als ${name} --help ends with examples and the page that documents it`, () => {
      const lines = helpText(command).trimEnd().split('\n');
      assert.equal(lines.at(-1), `Documentation: ${page}`);
      const examples = lines.lastIndexOf('Examples:');
      assert.ok(examples !== -1, `als ${name} --help has no "Examples:"`);
      const exampleLines = lines.slice(examples + 1, -1).filter((line) => line.trim() !== '');
      assert.ok(
        exampleLines.length >= 1 && exampleLines.every((line) => /^ {2}\S/.test(line)),
        exampleLines.join('\n'),
      );
      assert.ok(
        exampleLines.some((line) => line.includes(`als ${name}`)),
        `no example of als ${name}`,
      );
      assert.equal(brokenLink('README.md', page), null);
    });

    it(`als ${name}: the options of --help are the options of the table in ${page}`, () => {
      const [file, anchor] = page.split('#');
      const lines = section(readDoc(file), anchor);
      assert.ok(lines !== null, `${file} has no section #${anchor}`);
      const documented = documentedFlags(lines);
      assert.ok(documented.length > 0, `${page} has no options table`);
      assert.deepEqual(optionDrift(name, page, helpFlags(command), documented), []);
      assert.equal(new Set(documented).size, documented.length, `${page} lists an option twice`);
    });
  }
});
