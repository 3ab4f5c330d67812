import assert from 'node:assert/strict';
import { spawnSync, type StdioOptions } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { descriptorOfPath } from '../../src/data/outputDescriptor.js';
import { checkOutputPath, makeOutputDirectory, writeOutput } from '../../src/data/writeFile.js';
import { AlsError } from '../../src/errors.js';
import { ALS_BIN, SAMPLE, tempDir } from '../helpers.js';

/**
 * Regression tests of the attacker trial's V1: a path naming an open descriptor was reopened by
 * Linux at offset 0 without O_APPEND, overwriting the start of the user's file.
 */

const work = tempDir('als-descriptors-');
const model = join(work, 'model');
const KEEP = 'LINE1 keep\nLINE2 keep\n';

/** Runs als in `work` with the given stdio (an fd number at index 3 and up is passed as that descriptor). */
function als(args: string[], stdio: StdioOptions = ['ignore', 'pipe', 'pipe']) {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  const result = spawnSync(process.execPath, [ALS_BIN, ...args], {
    cwd: work,
    env,
    encoding: 'utf8',
    stdio,
    maxBuffer: 1 << 26,
  });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

/** A file holding KEEP, opened for appending as a shell's `>>` opens it. */
function appendTo(name: string): { path: string; fd: number } {
  const path = join(work, name);
  writeFileSync(path, KEEP);
  return { path, fd: openSync(path, 'a') };
}

function isOutputError(pattern: RegExp) {
  return (error: unknown) => error instanceof AlsError && error.code === 'output' && pattern.test(error.message);
}

let allSimilar = '';
let allRecommended = '';

before(() => {
  const trained = als(['train', SAMPLE, '--factors', '4', '--iterations', '2', '--model', model, '-q']);
  assert.equal(trained.status, 0, trained.stderr);
  const similar = als(['similar', '--all', '-n', '2', '--model', model, '-o', '-']);
  assert.equal(similar.status, 0, similar.stderr);
  allSimilar = similar.stdout;
  const recommended = als(['recommend', '--all', '-n', '2', '--model', model, '-o', '-']);
  assert.equal(recommended.status, 0, recommended.stderr);
  allRecommended = recommended.stdout;
  assert.ok(allSimilar.length > 1000 && allRecommended.length > 1000);
});

describe('descriptorOfPath: the one recognition of descriptor paths', () => {
  it("names the descriptor of /dev/stdin|stdout|stderr, /dev/fd/N and this process's /proc fd links", () => {
    assert.equal(descriptorOfPath('/dev/stdin'), 0);
    assert.equal(descriptorOfPath('/dev/stdout'), 1);
    assert.equal(descriptorOfPath('/dev/stderr'), 2);
    assert.equal(descriptorOfPath('/dev/fd/3'), 3);
    assert.equal(descriptorOfPath('/proc/self/fd/12'), 12);
    assert.equal(descriptorOfPath('/proc/thread-self/fd/0'), 0);
    assert.equal(descriptorOfPath(`/proc/${process.pid}/fd/4`), 4);
    assert.equal(descriptorOfPath(`/proc/self/task/${process.pid}/fd/5`), 5);
    assert.equal(descriptorOfPath(`/proc/${process.pid}/task/${process.pid}/fd/5`), 5);
  });

  it("names none for files, another process's descriptors, a thread not of this process and numbers the kernel does not spell so", () => {
    for (const path of [
      '-',
      'out.tsv',
      '/dev/null',
      '/dev/fd',
      '/dev/fd/',
      '/dev/fd/03',
      '/dev/fd/-1',
      '/dev/fd/1x',
      '/proc/self/fd',
      `/proc/${process.ppid}/fd/1`,
      '/proc/self/task/999999999/fd/1',
      '/proc/thread-self/task/1/fd/1',
      './dev/stdout',
    ]) {
      assert.equal(descriptorOfPath(path), null, path);
    }
  });
});

describe('every output option writes a descriptor path through the open descriptor (attacker trial V1)', () => {
  it('recommend --all -o /dev/stderr with stderr appending to a log: the log keeps its lines, the recommendations follow', () => {
    const log = appendTo('log');
    try {
      const result = als(
        ['recommend', '--all', '-n', '2', '--model', model, '-o', '/dev/stderr', '-q'],
        ['ignore', 'pipe', log.fd],
      );
      assert.equal(result.status, 0);
      assert.equal(result.stdout, '', 'no summary with -q');
    } finally {
      closeSync(log.fd);
    }
    assert.equal(readFileSync(log.path, 'utf8'), KEEP + allRecommended);
  });

  for (const form of ['/dev/fd/3', '/proc/self/fd/3', '/proc/thread-self/fd/3']) {
    it(`similar --all -o ${form} with descriptor 3 appending (exec 3>>file): the file keeps its text, the lines follow`, () => {
      const file = appendTo('fd3');
      try {
        const result = als(
          ['similar', '--all', '-n', '2', '--model', model, '-o', form, '-q'],
          ['ignore', 'pipe', 'pipe', file.fd],
        );
        assert.equal(result.status, 0, result.stderr);
        assert.equal(result.stderr, '');
      } finally {
        closeSync(file.fd);
      }
      assert.equal(readFileSync(file.path, 'utf8'), KEEP + allSimilar);
    });
  }

  it('-o /proc/<its own pid>/fd/3 is descriptor 3 too (the shell execs als in its own pid)', () => {
    const file = appendTo('pid3');
    const script = `exec "${process.execPath}" "${ALS_BIN}" similar --all -n 2 --model "${model}" -q -o /proc/$$/fd/3 3>>"${file.path}"`;
    closeSync(file.fd);
    const result = spawnSync('bash', ['-c', script], { cwd: work, encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(readFileSync(file.path, 'utf8'), KEEP + allSimilar);
  });

  it('a descriptor opened without O_APPEND is written at its offset: the text before stays, nothing is truncated', () => {
    const path = join(work, 'offset');
    const bytes = Buffer.byteLength(allSimilar);
    const tail = 'x'.repeat(bytes + 100);
    writeFileSync(path, `HEAD\n${tail}`);
    const fd = openSync(path, 'r+');
    try {
      readSync(fd, Buffer.alloc(5), 0, 5, null);
      const result = als(
        ['similar', '--all', '-n', '2', '--model', model, '-o', '/dev/fd/3', '-q'],
        ['ignore', 'pipe', 'pipe', fd],
      );
      assert.equal(result.status, 0, result.stderr);
    } finally {
      closeSync(fd);
    }
    assert.equal(readFileSync(path, 'utf8'), `HEAD\n${allSimilar}${tail.slice(bytes)}`);
  });

  it('a link to /dev/stderr is followed to descriptor 2: written through it, the link stays', () => {
    symlinkSync('/dev/stderr', join(work, 'to-stderr'));
    const log = appendTo('linked-log');
    try {
      const result = als(
        ['similar', '--all', '-n', '2', '--model', model, '-o', 'to-stderr', '-q'],
        ['ignore', 'pipe', log.fd],
      );
      assert.equal(result.status, 0);
    } finally {
      closeSync(log.fd);
    }
    assert.equal(readFileSync(log.path, 'utf8'), KEEP + allSimilar);
  });

  it('tune --write-config /dev/stdout >> file: the file keeps its text, then the settings, then the summary, in order', () => {
    const out = appendTo('tune-out');
    try {
      const result = als(
        ['tune', SAMPLE, '--trials', '1', '--iterations', '1', '--factors', '4', '-q', '--write-config', '/dev/stdout'],
        ['ignore', out.fd, 'pipe'],
      );
      assert.equal(result.status, 0, result.stderr);
    } finally {
      closeSync(out.fd);
    }
    const text = readFileSync(out.path, 'utf8');
    assert.ok(text.startsWith(KEEP), text);
    const rest = text.slice(KEEP.length);
    const configEnd = rest.indexOf('\n}\n') + 3;
    const settings = JSON.parse(rest.slice(0, configEnd));
    assert.equal(settings.factors, 4);
    assert.match(
      rest.slice(configEnd),
      /^Best trial 1: [^]*\nTrain with\n {2}als train [^\n]+\nWrote \/dev\/stdout\n$/,
    );
  });

  it('tune --write-config - writes the settings to standard output, creates no file named "-", and gives no --config hint', () => {
    const result = als([
      'tune',
      SAMPLE,
      '--trials',
      '1',
      '--iterations',
      '1',
      '--factors',
      '4',
      '-q',
      '--write-config',
      '-',
    ]);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(existsSync(join(work, '-')), false);
    assert.match(result.stdout, /^\{\n {2}"about": "als tune [^]*\n\}\nBest trial 1/);
    assert.match(result.stdout, /\nWrote the settings to standard output\n$/);
    assert.doesNotMatch(result.stdout, /--config/);
  });

  it('a descriptor that is not open is one line and exit 6, before any work and creating nothing', () => {
    const before = readdirSync(work).sort();
    for (const args of [
      ['similar', '--all', '--model', model, '-o', '/dev/fd/1000'],
      ['recommend', '--all', '--model', model, '-o', '/proc/self/fd/1000'],
      ['tune', SAMPLE, '--trials', '1', '--write-config', '/dev/fd/1000'],
    ]) {
      const result = als(args);
      assert.equal(result.status, 6, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr, `als: cannot write ${args.at(-1)}: descriptor 1000 is not open\n`);
      assert.equal(result.stdout, '', 'no summary, no trial');
    }
    assert.deepEqual(readdirSync(work).sort(), before);
  });

  it('-o /dev/stdin with the input file on standard input is refused and leaves that file alone', () => {
    const input = join(work, 'input.tsv');
    writeFileSync(input, KEEP);
    const fd = openSync(input, 'r');
    try {
      const result = als(['similar', '--all', '--model', model, '-o', '/dev/stdin'], [fd, 'pipe', 'pipe']);
      assert.equal(result.status, 6, result.stderr);
      assert.equal(result.stderr, 'als: cannot write /dev/stdin: descriptor 0 is open for reading only\n');
    } finally {
      closeSync(fd);
    }
    assert.equal(readFileSync(input, 'utf8'), KEEP);
  });

  it('evaluate --write-split refuses "-" and descriptor paths as a usage error (it needs a directory); ./- is a directory named "-"', () => {
    for (const [dir, reason] of [
      ['-', '"-" is standard output (a directory named "-" can be given as ./-)'],
      ['/dev/stdout', '/dev/stdout names open descriptor 1'],
      ['/proc/self/fd/2', '/proc/self/fd/2 names open descriptor 2'],
    ]) {
      const result = als(['evaluate', SAMPLE, '--iterations', '1', '--factors', '4', '--write-split', dir]);
      assert.equal(result.status, 2, result.stderr);
      assert.equal(
        result.stderr,
        `als: --write-split needs a directory to write train.tsv and test.tsv into; ${reason}\n`,
      );
      assert.equal(result.stdout, '');
      assert.equal(existsSync(join(work, '-')), false);
    }
    const named = als(['evaluate', SAMPLE, '--iterations', '1', '--factors', '4', '-q', '--write-split', './-']);
    assert.equal(named.status, 0, named.stderr);
    assert.deepEqual(readdirSync(join(work, '-')).sort(), ['test.tsv', 'train.tsv']);
  });
});

describe('the library writer and descriptor paths (attacker trial V1)', () => {
  it('writeOutput to /dev/fd/N appends through the descriptor and leaves it open', async () => {
    const file = appendTo('library-fd');
    try {
      await writeOutput(`/dev/fd/${file.fd}`, async (emit) => {
        await emit('one\n');
        await emit('two\n');
      });
      await checkOutputPath(`/proc/self/fd/${file.fd}`);
      writeSync(file.fd, 'three\n');
    } finally {
      closeSync(file.fd);
    }
    assert.equal(readFileSync(file.path, 'utf8'), `${KEEP}one\ntwo\nthree\n`);
  });

  it('refuses a descriptor that is not open, and a descriptor path as the directory of output files', async () => {
    await assert.rejects(
      writeOutput('/dev/fd/1000', (emit) => emit('x')),
      isOutputError(/^cannot write \/dev\/fd\/1000: descriptor 1000 is not open$/),
    );
    await assert.rejects(checkOutputPath('/dev/fd/99999999999'), isOutputError(/descriptor 99999999999 is not open$/));
    await assert.rejects(
      makeOutputDirectory('/dev/stdout'),
      isOutputError(/^cannot write \/dev\/stdout: names an open descriptor, not a directory$/),
    );
    symlinkSync('/dev/stdout', join(work, 'dir-link'));
    await assert.rejects(
      makeOutputDirectory(join(work, 'dir-link')),
      isOutputError(/names an open descriptor, not a directory$/),
    );
  });
});
