import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { shown, terminalSafe } from '../../src/cli/output.js';
import { closestNames, userIdOfRow } from '../../src/query/lookup.js';
import { AlsError, quoteForMessage } from '../../src/errors.js';
import { ALS_BIN, tempDir } from '../helpers.js';

const work = tempDir('als-cli-safety-');
const model = join(work, 'model');
const data = join(work, 'plays.tsv');

/** Names a hostile data file could hold: colour, a window title with BEL, a right-to-left override, a C1 CSI. */
const RED = '\x1b[31mRed';
const TITLE = '\x1b]0;pwned\x07Title';
const REVERSED = 'evil\u202Egpj.exe';
const C1 = 'c1\u009b2Jcsi';
const CLEAR_USER = '\x1b[2Juser';
/** Every character that must never reach a terminal raw from data. */
const STEERING = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

function als(
  args: string[],
  env: Record<string, string> = {},
): { status: number | null; stdout: string; stderr: string } {
  const base = { ...process.env };
  delete base.FORCE_COLOR;
  const result = spawnSync(process.execPath, [ALS_BIN, ...args], {
    cwd: work,
    encoding: 'utf8',
    env: { ...base, ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('human output cannot steer the terminal (issue 9 class 9)', () => {
  before(() => {
    // numeric ids on purpose (class 10): 10, 20, 30 … with two taste groups
    const items = [RED, TITLE, REVERSED, C1, 'Plain One', 'Plain Two', 'Plain Three', 'Plain Four'];
    const users = ['10', '20', '30', '40', '50', '60', CLEAR_USER];
    const lines: string[] = [];
    users.forEach((user, u) => {
      items.forEach((item, i) => {
        if ((u + i) % 2 === 0 || (u === 0 && i === 1)) lines.push(`${user}\t${item}\t${1 + ((u * 7 + i * 3) % 11)}`);
      });
    });
    writeFileSync(data, `${lines.join('\n')}\n`);
    const trained = als([
      'train',
      data,
      '--format',
      'triples',
      '--factors',
      '4',
      '--iterations',
      '3',
      '--lambda',
      '0.1',
      '--model',
      model,
    ]);
    assert.equal(trained.status, 0, trained.stderr);
  });

  const commands: [string, string[]][] = [
    ['similar of a crafted name', ['similar', RED, '--min-listeners', '1']],
    ['similar of a name with a bidi override', ['similar', REVERSED, '--min-listeners', '1']],
    ['recommend for a user', ['recommend', '--user', '10', '-n', '8', '--include-played']],
    ['recommend for a crafted user id', ['recommend', '--user', CLEAR_USER, '-n', '8', '--include-played']],
    ['recommend --explain', ['recommend', '--user', '20', '--explain', '-n', '8', '--include-played']],
    [
      'recommend --items with crafted and unknown names',
      ['recommend', '--items', `${TITLE},${C1}=3,\x1b[5mnobody`, '-n', '8'],
    ],
    ['similar of an unknown crafted name (error line)', ['similar', '\x1b]0;x\x07Rex']],
  ];
  for (const [name, args] of commands) {
    for (const color of ['off', 'forced']) {
      it(`${name}, colour ${color}: no control or bidi character from the data reaches stdout or stderr`, () => {
        const result = als([...args, '--model', model], color === 'forced' ? { FORCE_COLOR: '1' } : {});
        assert.ok(result.status === 0 || result.status === 5, `${result.status}: ${result.stderr}`);
        const text = result.stdout + result.stderr;
        // the CLI's own colour codes are the only escape sequences, and only when colour is on
        const withoutColour = text.replace(/\x1b\[[0-9;]*m/g, '');
        assert.doesNotMatch(withoutColour, STEERING, JSON.stringify(text));
        if (color === 'off') assert.doesNotMatch(text, /\x1b/);
        // a crafted colour sequence is shown, not obeyed, even where colour is on
        assert.ok(!text.includes(RED) && !text.includes(CLEAR_USER), JSON.stringify(text));
      });
    }
  }

  it('a crafted option value in a command-line error is escaped too', () => {
    const result = als(['train', data, '--alpha', '\x1b]0;x\x07', '--model', model]);
    assert.equal(result.status, 2);
    assert.doesNotMatch(result.stderr, /\x1b|\x07/);
    assert.match(result.stderr, /\\x1b\]0;x\\x07/);
  });

  it('shows crafted names as visible escapes', () => {
    const result = als(['similar', RED, '--min-listeners', '1', '--model', model]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^Similar to \\x1b\[31mRed$/m);
    assert.match(result.stdout, /evil\\u202egpj\.exe/);
    assert.match(result.stdout, /\\x1b\]0;pwned\\x07Title/);
  });

  it(
    '--all --output - on a terminal shows names escaped; to a pipe it writes them exactly',
    { skip: spawnSync('script', ['--version']).status !== 0 && 'needs script(1) for a terminal' },
    () => {
      const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(ALS_BIN)} similar --all -o - --min-listeners 1 --model ${JSON.stringify(model)}`;
      const onTerminal = spawnSync('script', ['-qec', command, '/dev/null'], { cwd: work, encoding: 'utf8' });
      assert.equal(onTerminal.status, 0, onTerminal.stderr);
      assert.match(onTerminal.stdout, /\\x1b\[31mRed\t/);
      assert.doesNotMatch(
        onTerminal.stdout.replace(/\r\n/g, '\n'),
        /\x1b|\u202e|\x07/,
        'no escape sequence at all: no bar, no raw name',
      );
      const piped = als(['similar', '--all', '-o', '-', '--min-listeners', '1', '--model', model]);
      assert.ok(piped.stdout.includes(`${RED}\t`), 'a pipe gets the names as they are');
    },
  );

  it('--json keeps the names exactly (JSON escapes them itself)', () => {
    const result = als(['similar', RED, '--min-listeners', '1', '--json', '--model', model]);
    assert.equal(result.status, 0, result.stderr);
    const parsed = JSON.parse(result.stdout);
    assert.equal(parsed.item, RED);
    assert.ok(parsed.similar.some((s: { item: string }) => s.item === REVERSED));
  });

  it('escapes control and bidi characters and keeps the CLI colour', () => {
    assert.equal(shown('a\x1b[31mb\u202ec\td\0'), 'a\\x1b[31mb\\u202ec\\td\\x00');
    assert.equal(terminalSafe('\x1b[1mbold\x1b[22m \x1b]0;t\x07'), '\x1b[1mbold\x1b[22m \\x1b]0;t\\x07');
    assert.equal(shown('Björk – Sigur Rós'), 'Björk – Sigur Rós');
  });
});

describe('an id is an id, a row only when asked (issue 9 class 10)', () => {
  it('a number that is no user id is not found, with close ids and a hint, never another user', () => {
    const result = als(['recommend', '--user', '1', '--model', model]);
    assert.equal(result.status, 5, result.stderr);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^als: no user "1" in the model; did you mean "10"/);
    assert.match(result.stderr, /--row 1 picks the user in row 1/);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1);
  });

  it('--row picks the user in that row; a row past the end is not found', () => {
    const byRow = als(['recommend', '--row', '1', '--json', '--model', model]);
    assert.equal(byRow.status, 0, byRow.stderr);
    assert.equal(JSON.parse(byRow.stdout).user, '20');
    const past = als(['recommend', '--row', '7', '--model', model]);
    assert.equal(past.status, 5);
    assert.match(past.stderr, /^als: no user row 7: the model has 7 users \(rows 0 to 6\)\n$/);
    const both = als(['recommend', '--row', '1', '--user', '10', '--model', model]);
    assert.equal(both.status, 2);
  });

  it('userIdOfRow range-checks the row', () => {
    assert.equal(userIdOfRow(['a', 'b'], 1), 'b');
    assert.throws(
      () => userIdOfRow(['a', 'b'], 2),
      (e: unknown) => e instanceof AlsError && e.code === 'not-found',
    );
    assert.throws(
      () => userIdOfRow(['a', 'b'], -1),
      (e: unknown) => e instanceof AlsError && e.code === 'usage',
    );
    assert.throws(
      () => userIdOfRow(['a', 'b'], 0.5),
      (e: unknown) => e instanceof AlsError && e.code === 'usage',
    );
  });
});

describe('options and lists are read by one rule, with bounded work (issue 9 classes 6, 8)', () => {
  const oneLine = (result: { status: number | null; stderr: string }, status: number, message: RegExp) => {
    assert.equal(result.status, status, result.stderr);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, message);
  };

  it('--lambda and --regularization together are refused', () => {
    oneLine(
      als(['train', data, '--lambda', '1', '--regularization', '2', '--model', join(work, 'x')]),
      2,
      /^als: --lambda 1 and --regularization 2 name one setting/,
    );
  });

  it('hex, Infinity and numbers past 2^53 are not numbers', () => {
    oneLine(
      als(['train', data, '--alpha', '0x10', '--model', join(work, 'x')]),
      2,
      /--alpha.*expected a decimal number/,
    );
    oneLine(
      als(['train', data, '--lambda', 'Infinity', '--model', join(work, 'x')]),
      2,
      /--lambda.*expected a decimal number/,
    );
    oneLine(
      als(['train', data, '--factors', '99999999999999999999', '--model', join(work, 'x')]),
      2,
      /--factors.*expected a whole number up to/,
    );
  });

  it('a settings file that is a FIFO or too large is refused at once, not read without bound', () => {
    const fifo = join(work, 'config.fifo');
    spawnSync('mkfifo', [fifo]);
    oneLine(
      als(['train', data, '--config', fifo, '--model', join(work, 'x')]),
      3,
      /config\.fifo: is a FIFO; a settings file is a small JSON file/,
    );
    const big = join(work, 'big.json');
    writeFileSync(big, `{"about": "${'x'.repeat(1 << 17)}"}`);
    oneLine(
      als(['train', data, '--config', big, '--model', join(work, 'x')]),
      3,
      /big\.json: has \d+ bytes, more than the 65536 allowed/,
    );
  });

  it('a list of 10,000 unknown names: five warnings and a count, each name cut short', () => {
    // one argument holds at most 128 KiB on Linux: short names
    const names = Array.from({ length: 10_000 }, (_, k) => `nobody${k}`);
    const result = als(['recommend', '--items', ['Plain One', ...names].join(','), '--model', model]);
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 6);
    assert.equal(lines[5], 'warning: and 9,995 other unknown names (left out)');
    const none = als(['recommend', '--items', names.join(','), '--model', model]);
    assert.equal(none.status, 5);
    assert.ok(none.stderr.length < 1000, `${none.stderr.length} characters`);
    assert.match(none.stderr, /; and 9995 more\)\n$/);
  });

  it('suggestions skip edit distances for long queries and messages cut long names', () => {
    const names = ['Radiohead', 'a'.repeat(300)];
    assert.deepEqual(closestNames(names, 'b'.repeat(290)), [], 'no edit distance for a 290-character query');
    assert.deepEqual(closestNames(names, 'radiohed'), ['Radiohead']);
    assert.equal(quoteForMessage('x'.repeat(100)), JSON.stringify(`${'x'.repeat(60)}…`));
  });
});
