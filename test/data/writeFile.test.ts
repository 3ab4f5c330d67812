import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  createReadStream,
  existsSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { before, describe, it } from 'node:test';
import { checkOutputPath, openOutput, writeOutput } from '../../src/data/writeFile.js';
import { AlsError } from '../../src/errors.js';
import { ALS_BIN, NOBODY, nobodyCommand, SAMPLE, tempDir } from '../helpers.js';

const work = tempDir('als-write-');
const isRoot = process.geteuid?.() === 0;
const nobody = nobodyCommand();
const hasMkfifo = spawnSync('mkfifo', ['--version']).status === 0;

function outputError(pattern: RegExp) {
  return (error: unknown) => error instanceof AlsError && error.code === 'output' && pattern.test(error.message);
}

/** Writes `text` to `target` through the safe writer in two pieces. */
function write(target: string, text: string): Promise<void> {
  const half = Math.floor(text.length / 2);
  return writeOutput(target, async (emit) => {
    await emit(text.slice(0, half));
    await emit(text.slice(half));
  });
}

function mkfifo(path: string): void {
  const made = spawnSync('mkfifo', [path]);
  assert.equal(made.status, 0, String(made.stderr));
}

/** Everything a reader of the FIFO gets until the writer closes it. */
function readFifo(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    createReadStream(path, 'utf8')
      .on('data', (chunk) => (text += chunk))
      .on('end', () => resolve(text))
      .on('error', reject);
  });
}

/** A directory everyone may use, for the tests that run as nobody. */
function sharedDir(name: string, mode = 0o777): string {
  const dir = join(work, name);
  mkdirSync(dir);
  chmodSync(dir, mode);
  return dir;
}

/** Names in `dir` that are not `keep`: a temporary left behind would be one. */
function others(dir: string, ...keep: string[]): string[] {
  return readdirSync(dir).filter((name) => !keep.includes(name));
}

const TEXT = 'user1\tMuse\t1.000000\n'.repeat(10_000);

describe('the safe writer: temporaries (issue 9, class 2)', () => {
  it('uses a new unpredictable temporary name beside the target for each write, with the target mode before any byte is written', async () => {
    const dir = join(work, 'names');
    mkdirSync(dir);
    const target = join(dir, 'out.tsv');
    writeFileSync(target, 'old');
    const seen: string[] = [];
    for (let n = 0; n < 2; n++) {
      const output = await openOutput(target);
      const [temporary] = others(dir, 'out.tsv');
      seen.push(temporary);
      assert.match(temporary, /^\.out\.tsv\.[0-9a-f]{18}\.tmp$/);
      assert.equal(
        lstatSync(join(dir, temporary)).mode & 0o777,
        0o644,
        'given the target mode before any byte is written',
      );
      await output.abort();
      assert.deepEqual(others(dir, 'out.tsv'), [], 'abort removes it');
    }
    assert.notEqual(seen[0], seen[1]);
    assert.ok(!seen.includes(`out.tsv.tmp-${process.pid}`));
    assert.equal(readFileSync(target, 'utf8'), 'old');
  });

  it('leaves a symlink planted at the old PATH.tmp-<pid> name untouched, and its target unchanged', async () => {
    const dir = join(work, 'planted');
    mkdirSync(dir);
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious');
    const target = join(dir, 'out.tsv');
    const planted = `${target}.tmp-${process.pid}`;
    symlinkSync(victim, planted);
    await write(target, TEXT);
    assert.equal(readFileSync(target, 'utf8'), TEXT);
    assert.equal(readFileSync(victim, 'utf8'), 'precious');
    assert.ok(lstatSync(planted).isSymbolicLink());
    assert.deepEqual(others(dir, 'out.tsv', 'victim', `out.tsv.tmp-${process.pid}`), [], 'no temporary left');
  });

  it('removes its temporary and leaves the target as it was when the producer fails', async () => {
    const dir = join(work, 'failing');
    mkdirSync(dir);
    const target = join(dir, 'out.tsv');
    writeFileSync(target, 'old');
    const failure = new AlsError('model', 'a corrupt model');
    await assert.rejects(
      writeOutput(target, async (emit) => {
        await emit('x'.repeat(1 << 17));
        throw failure;
      }),
      (error) => error === failure,
    );
    assert.equal(readFileSync(target, 'utf8'), 'old');
    assert.deepEqual(others(dir, 'out.tsv'), []);
  });
});

describe('the safe writer respects what the path is (issue 9, class 3)', () => {
  it(
    'writes into a FIFO, which stays a FIFO, and the reader gets every byte',
    { skip: !hasMkfifo && 'mkfifo is missing', timeout: 60_000 },
    async () => {
      const fifo = join(work, 'fifo');
      mkfifo(fifo);
      // the check before long work (tune's) neither opens it (that would wait for a reader) nor writes
      await checkOutputPath(fifo);
      const [received] = await Promise.all([readFifo(fifo), write(fifo, TEXT)]);
      assert.equal(received, TEXT);
      assert.ok(lstatSync(fifo).isFIFO());
      assert.deepEqual(
        readdirSync(work).filter((name) => name.startsWith('.fifo')),
        [],
        'no temporary beside it',
      );
    },
  );

  it('follows a symlink: the link stays a link, its target gets the text and keeps its mode', async () => {
    const dir = join(work, 'link');
    mkdirSync(join(dir, 'real'), { recursive: true });
    const real = join(dir, 'real', 'data.tsv');
    writeFileSync(real, 'old', { mode: 0o640 });
    chmodSync(real, 0o640);
    symlinkSync('real/data.tsv', join(dir, 'out.tsv'));
    await write(join(dir, 'out.tsv'), TEXT);
    assert.ok(lstatSync(join(dir, 'out.tsv')).isSymbolicLink());
    assert.equal(readFileSync(real, 'utf8'), TEXT);
    assert.equal(statSync(real).mode & 0o7777, 0o640);
    assert.deepEqual(others(join(dir, 'real'), 'data.tsv'), []);
  });

  it('creates the target of a link to nothing, as a shell redirection does', async () => {
    const dir = join(work, 'dangling');
    mkdirSync(dir);
    symlinkSync('made.tsv', join(dir, 'out.tsv'));
    await write(join(dir, 'out.tsv'), 'x\n');
    assert.ok(lstatSync(join(dir, 'out.tsv')).isSymbolicLink());
    assert.equal(readFileSync(join(dir, 'made.tsv'), 'utf8'), 'x\n');
  });

  it('keeps a mode-600 file at 600, and as root its owner (nobody) and group', async () => {
    const dir = join(work, 'mode');
    mkdirSync(dir);
    const target = join(dir, 'private.tsv');
    writeFileSync(target, 'old');
    chmodSync(target, 0o600);
    if (isRoot) chownSync(target, NOBODY, NOBODY);
    await write(target, TEXT);
    const stats = statSync(target);
    assert.equal(stats.mode & 0o7777, 0o600);
    assert.equal(readFileSync(target, 'utf8'), TEXT);
    if (isRoot) assert.deepEqual([stats.uid, stats.gid], [NOBODY, NOBODY]);
  });

  it('gives a new file 0666 less the umask', async () => {
    const previous = process.umask(0o027);
    try {
      await write(join(work, 'new.tsv'), 'x\n');
    } finally {
      process.umask(previous);
    }
    assert.equal(statSync(join(work, 'new.tsv')).mode & 0o777, 0o640);
  });

  it('replaces a file with two hard links: the other name keeps the old text', async () => {
    const dir = join(work, 'hard');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a'), 'old');
    linkSync(join(dir, 'a'), join(dir, 'b'));
    await write(join(dir, 'a'), 'new');
    assert.equal(readFileSync(join(dir, 'a'), 'utf8'), 'new');
    assert.equal(readFileSync(join(dir, 'b'), 'utf8'), 'old');
  });

  it('writes to a stream (what --output - is) without closing it', async () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (chunk) => (text += chunk));
    await writeOutput(stream, async (emit) => emit(TEXT));
    assert.equal(text, TEXT);
    assert.ok(stream.writable, 'still open');
  });

  it('refuses a directory, a missing directory, a name ending in / and a file in the way, naming the path as given', async () => {
    const file = join(work, 'plain');
    writeFileSync(file, 'kept');
    for (const [path, pattern] of [
      [work, /: is a directory$/],
      [join(work, 'no', 'such', 'out.tsv'), /: no such directory$/],
      [join(work, 'out/'), /: a file name cannot end with "\/"/],
      [join(file, 'out.tsv'), /: a file is in the way of the directory$/],
    ] as const) {
      await assert.rejects(
        checkOutputPath(path),
        outputError(new RegExp(`^cannot write ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${pattern.source}`)),
      );
      await assert.rejects(write(path, 'x'), outputError(pattern));
    }
    assert.equal(readFileSync(file, 'utf8'), 'kept');
    await assert.rejects(write('', 'x'), outputError(/^cannot write "": an empty file name$/));
  });

  it(
    'refuses a symlink of another user, in a sticky world-writable directory or in a folder of theirs (stricter than fs.protected_symlinks)',
    { skip: !isRoot && 'needs root to plant a link owned by nobody' },
    async () => {
      const sticky = sharedDir('sticky', 0o1777);
      const victim = join(work, 'root-owned');
      writeFileSync(victim, 'precious');
      const planted = join(sticky, 'out.tsv');
      symlinkSync(victim, planted);
      lchownSync(planted, NOBODY, NOBODY);
      await assert.rejects(
        checkOutputPath(planted),
        outputError(
          /out\.tsv is a symbolic link of another user \(uid 65534\); als follows only its own user's and root's links/,
        ),
      );
      await assert.rejects(write(planted, TEXT), outputError(/als follows only its own user's and root's links/));
      // also when it is a directory on the way
      const plantedDir = join(sticky, 'dir');
      symlinkSync(work, plantedDir);
      lchownSync(plantedDir, NOBODY, NOBODY);
      await assert.rejects(
        write(join(plantedDir, 'root-owned'), TEXT),
        outputError(/als follows only its own user's and root's links/),
      );
      assert.equal(readFileSync(victim, 'utf8'), 'precious');
      assert.deepEqual(readdirSync(sticky).sort(), ['dir', 'out.tsv']);

      // a file or FIFO planted there by another user is not written either (as fs.protected_regular)
      const file = join(sticky, 'theirs.tsv');
      writeFileSync(file, 'theirs');
      chownSync(file, NOBODY, NOBODY);
      await assert.rejects(
        write(file, TEXT),
        outputError(/belongs to another user \(uid 65534\) in a directory that everyone may write to/),
      );
      assert.equal(readFileSync(file, 'utf8'), 'theirs');

      // the trial's case (issue 9): a folder of another user's own in /tmp, not sticky itself, with
      // their link in it: the kernel would follow it (its owner owns the folder); als does not even
      // go through the folder (its owner could swap what is in it between als's look and its write)
      const theirFolder = join(sticky, 'their-folder');
      mkdirSync(theirFolder);
      chownSync(theirFolder, NOBODY, NOBODY);
      const theirLink = join(theirFolder, 'train.tsv');
      symlinkSync(victim, theirLink);
      lchownSync(theirLink, NOBODY, NOBODY);
      await assert.rejects(
        write(theirLink, TEXT),
        outputError(/their-folder is a directory of another user \(uid 65534\)/),
      );
      assert.equal(readFileSync(victim, 'utf8'), 'precious');

      // a link of the running user's own there is followed
      const own = join(sticky, 'own.tsv');
      symlinkSync(victim, own);
      await write(own, 'mine');
      assert.equal(readFileSync(victim, 'utf8'), 'mine');
    },
  );

  it(
    'stops with AlsError(output) caused by EPIPE when the reader of a FIFO goes away',
    { skip: !hasMkfifo && 'mkfifo is missing' },
    async () => {
      const fifo = join(work, 'closing-fifo');
      mkfifo(fifo);
      const reader = new Promise<void>((resolve) => {
        const stream = createReadStream(fifo, { highWaterMark: 16 });
        stream.once('data', () => {
          stream.destroy();
          resolve();
        });
      });
      const big = 'x'.repeat(1 << 16);
      const writing = writeOutput(fifo, async (emit) => {
        for (let n = 0; n < 256; n++) await emit(big);
      });
      await reader;
      await assert.rejects(
        writing,
        (error: unknown) =>
          error instanceof AlsError &&
          error.code === 'output' &&
          (error.cause as NodeJS.ErrnoException)?.code === 'EPIPE',
      );
    },
  );
});

describe('the CLI writes every output it is given (issue 9, classes 3 and 7)', () => {
  const model = join(work, 'model');

  function als(args: string[], options: { stdout?: number; user?: boolean } = {}) {
    const env = { ...process.env };
    delete env.FORCE_COLOR;
    const [command, ...argv] =
      options.user && 'argv' in nobody ? [...nobody.argv, ...args] : [process.execPath, ALS_BIN, ...args];
    const result = spawnSync(command, argv, {
      cwd: work,
      env,
      encoding: 'utf8',
      maxBuffer: 1 << 26,
      stdio: ['ignore', options.stdout ?? 'pipe', 'pipe'],
    });
    return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr };
  }

  /** Runs als with its standard output on /dev/full, opened here as a shell's `> /dev/full` would. */
  function toFullDevice(args: string[]) {
    const fd = openSync('/dev/full', 'w');
    try {
      return als(args, { stdout: fd });
    } finally {
      closeSync(fd);
    }
  }

  before(() => {
    chmodSync(work, 0o777);
  });

  it(
    'a full disk on standard output is one line and exit 6, for train (the model is still saved), info, similar, --json and --output -',
    { skip: !existsSync('/dev/full') && 'no /dev/full' },
    () => {
      const train = toFullDevice(['train', SAMPLE, '--iterations', '2', '--factors', '8', '--model', model]);
      assert.equal(train.status, 6, train.stderr);
      assert.equal(
        train.stderr,
        'als: cannot write standard output: no space left on the device (the model was saved)\n',
      );
      assert.ok(existsSync(join(model, 'model.json')));
      for (const args of [
        ['info'],
        ['similar', 'radiohead'],
        ['recommend', '--user', 'user2', '--json'],
        ['similar', '--all', '--output', '-'],
      ]) {
        const result = toFullDevice([...args, '--model', model]);
        assert.equal(result.status, 6, `${args.join(' ')}: ${result.stderr}`);
        assert.equal(result.stderr, 'als: cannot write standard output: no space left on the device\n', args.join(' '));
      }
    },
  );

  it('--output - writes the lines to standard output, and nothing else; a closed pipe is exit 0 and quiet', () => {
    const file = als(['similar', '--all', '--output', 'all.tsv', '-n', '3', '--model', model]);
    assert.equal(file.status, 0, file.stderr);
    const lines = als(['similar', '--all', '--output', '-', '-n', '3', '--model', model]);
    assert.equal(lines.status, 0, lines.stderr);
    assert.equal(lines.stdout, readFileSync(join(work, 'all.tsv'), 'utf8'));
    assert.equal(lines.stdout.split('\n').length - 1, 17_620 * 3);

    const piped = spawnSync(
      'bash',
      [
        '-c',
        `"${process.execPath}" "${ALS_BIN}" recommend --all --output - --model "${model}" | head -1; echo "status \${PIPESTATUS[0]}" >&2`,
      ],
      {
        encoding: 'utf8',
        cwd: work,
      },
    );
    assert.match(piped.stdout, /^user2\t[^\t]+\t1\.000000\n$/);
    assert.equal(piped.stderr, 'status 0\n');
  });

  it(
    '--output to a FIFO: the reader gets every line, the FIFO stays one',
    { skip: !hasMkfifo && 'mkfifo is missing' },
    async () => {
      const fifo = join(work, 'recs.fifo');
      mkfifo(fifo);
      const child = spawn(
        process.execPath,
        [ALS_BIN, 'recommend', '--all', '--output', fifo, '-n', '2', '--model', model, '--quiet'],
        { stdio: 'ignore' },
      );
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const text = await readFifo(fifo);
      assert.equal(await exited, 0);
      assert.equal(text.split('\n').length - 1, 1892 * 2);
      assert.match(text, /^user2\t/);
      assert.ok(lstatSync(fifo).isFIFO());
    },
  );

  it(
    '--output /dev/full as a user who cannot replace the device: exit 6, one line, no "Wrote"',
    { skip: 'skip' in nobody && nobody.skip },
    () => {
      const result = als(['similar', '--all', '--output', '/dev/full', '--model', model], { user: true });
      assert.equal(result.status, 6, result.stderr);
      assert.equal(result.stderr, 'als: cannot write /dev/full: no space left on the device\n');
      assert.equal(result.stdout, '');
      assert.ok(statSync('/dev/full').isCharacterDevice());
    },
  );

  it(
    'as nobody: a 0600 file of nobody keeps its mode; a file nobody may not write, or in a directory nobody may not write, is refused untouched',
    { skip: 'skip' in nobody && nobody.skip },
    () => {
      const dir = sharedDir('as-nobody');
      const own = join(dir, 'own.tsv');
      writeFileSync(own, 'old');
      chmodSync(own, 0o600);
      chownSync(own, NOBODY, NOBODY);
      const wrote = als(['similar', '--all', '--output', own, '-n', '1', '--model', model, '--quiet'], { user: true });
      assert.equal(wrote.status, 0, wrote.stderr);
      const stats = statSync(own);
      assert.deepEqual([stats.mode & 0o7777, stats.uid], [0o600, NOBODY]);
      assert.equal(readFileSync(own, 'utf8').split('\n').length - 1, 17_620);

      const rootFile = join(dir, 'root.tsv');
      writeFileSync(rootFile, 'root');
      chmodSync(rootFile, 0o644);
      const refused = als(['similar', '--all', '--output', rootFile, '--model', model], { user: true });
      assert.equal(refused.status, 6);
      assert.equal(refused.stderr, `als: cannot write ${rootFile}: permission denied\n`);
      assert.equal(readFileSync(rootFile, 'utf8'), 'root');
      assert.deepEqual(readdirSync(dir).sort(), ['own.tsv', 'root.tsv'], 'no temporary left');

      // nobody's own file in root's directory: writable, but not replaceable
      const closed = join(work, 'closed');
      mkdirSync(closed, { mode: 0o755 });
      const theirs = join(closed, 'theirs.tsv');
      writeFileSync(theirs, 'old');
      chownSync(theirs, NOBODY, NOBODY);
      const denied = als(['similar', '--all', '--output', theirs, '--model', model], { user: true });
      assert.equal(denied.status, 6);
      assert.match(
        denied.stderr,
        /^als: cannot write \S+theirs\.tsv: permission denied on its directory \S+closed \(als writes a new file beside it and renames it over the old one\)\n$/,
      );
      assert.equal(readFileSync(theirs, 'utf8'), 'old');
    },
  );
});
