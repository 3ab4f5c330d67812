import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ALS_BIN, SAMPLE, tempDir } from '../helpers.js';
import { formatCount } from '../../src/cli/output.js';

/**
 * Regression tests of the attacker trial's V3: success messages printed user-typed output paths
 * raw, so a name holding a colour sequence coloured the terminal (the line filter keeps the CLI's
 * own SGR sequences, so a path must be escaped where it is put into the line).
 */

const work = tempDir('als-messages-');
const model = join(work, 'model');

function als(args: string[]) {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  const result = spawnSync(process.execPath, [ALS_BIN, ...args], {
    cwd: work,
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

before(() => {
  const trained = als(['train', SAMPLE, '--factors', '4', '--iterations', '2', '--model', model, '-q']);
  assert.equal(trained.status, 0, trained.stderr);
});

describe('success messages show typed output paths escaped (attacker trial V3)', () => {
  const RED = '\x1b[31m';
  const name = `o${RED}.tsv`;

  function assertEscaped(stdout: string, expected: RegExp) {
    assert.doesNotMatch(stdout, /[\x00-\x09\x0b-\x1f\x7f]/, JSON.stringify(stdout));
    assert.match(stdout, expected);
  }

  it('recommend --all and similar --all: "Wrote … to o\\x1b[31m.tsv"', () => {
    const recommended = als(['recommend', '--all', '-n', '1', '--model', model, '-o', name]);
    assert.equal(recommended.status, 0, recommended.stderr);
    assertEscaped(
      recommended.stdout,
      new RegExp(`^Wrote [\\d,]+ recommendations for [\\d,]+ users to o\\\\x1b\\[31m\\.tsv \\(`),
    );
    const similar = als(['similar', '--all', '-n', '1', '--model', model, '-o', name]);
    assert.equal(similar.status, 0, similar.stderr);
    assertEscaped(
      similar.stdout,
      new RegExp(`^Wrote [\\d,]+ neighbours of [\\d,]+ artists to o\\\\x1b\\[31m\\.tsv \\(`),
    );
    assert.equal(
      readFileSync(join(work, name), 'utf8'),
      als(['similar', '--all', '-n', '1', '--model', model, '-o', '-']).stdout,
      'the file has the name as typed',
    );
  });

  it('evaluate --write-split: "Wrote the split: …" shows both paths escaped', () => {
    const dir = `split${RED}`;
    const result = als(['evaluate', SAMPLE, '--iterations', '1', '--factors', '4', '--write-split', dir]);
    assert.equal(result.status, 0, result.stderr);
    assertEscaped(
      result.stdout,
      new RegExp(`\\nWrote the split: split\\\\x1b\\[31m/train\\.tsv \\([^)]+\\), split\\\\x1b\\[31m/test\\.tsv \\(`),
    );
    assert.deepEqual(readdirSync(join(work, dir)).sort(), ['test.tsv', 'train.tsv']);
  });

  it('tune --write-config: the "Wrote" line and its --config hint show the path escaped', () => {
    const result = als([
      'tune',
      SAMPLE,
      '--trials',
      '1',
      '--iterations',
      '1',
      '--factors',
      '4',
      '--write-config',
      `t${RED}.json`,
    ]);
    assert.equal(result.status, 0, result.stderr);
    assertEscaped(
      result.stdout,
      new RegExp(`\\nWrote t\\\\x1b\\[31m\\.json {2}\\(als train \\S+ --config 't\\\\x1b\\[31m\\.json'\\)\\n$`),
    );
    assert.ok(existsSync(join(work, `t${RED}.json`)));
  });
});

describe('formatCount', () => {
  it("groups digits as toLocaleString('en-US') does, for every kind of number", () => {
    const values = [
      0,
      -0,
      1,
      12,
      123,
      1234,
      12345,
      123456,
      1234567,
      -1,
      -999,
      -1000,
      -1234567,
      1e15,
      2 ** 53 - 1,
      -(2 ** 53 - 1),
      2 ** 53,
      1.5,
      12345.678,
      1e21,
      NaN,
      Infinity,
      -Infinity,
    ];
    for (let n = 1; n < 1e16; n *= 7) values.push(n, n + 1, -n);
    for (const n of values) assert.equal(formatCount(n), n.toLocaleString('en-US'), String(n));
  });
});
