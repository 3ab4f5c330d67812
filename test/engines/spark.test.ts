/**
 * `als train --engine spark` against a real Spark (issue 11, part A): pyspark from PyPI, Java 17.
 * Spark's start-up costs 10–20 s per job, so the file runs few jobs and shares them: one model
 * trained on the sample (every command, the bad cases' "existing model"), one --describe job for
 * the input rules and the weighting, one evaluation, one standalone cluster, two failing jobs.
 * Without Java or spark-submit the tests are skipped, saying how to enable them; with CI=true
 * they run and fail.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { confidences } from '../../src/als/weighting.js';
import { DEFAULT_ALPHA, WEIGHTINGS, defaultTrainOptions } from '../../src/als/options.js';
import { readInteractions, type InputFormat } from '../../src/data/read.js';
import { findJava, findSparkSubmit } from '../../src/engines/spark/locate.js';
import { SPARK_JOB } from '../../src/engines/spark/sparkEngine.js';
import { sparkRegularization } from '../../src/engines/spark/settings.js';
import { ALS_BIN, SAMPLE, tempDir } from '../helpers.js';

const ENABLE = 'pip install pyspark (and Java 17 or later), or set SPARK_HOME';

/** Why Spark cannot run here, or null. */
function sparkMissing(): string | null {
  try {
    findSparkSubmit(undefined);
    findJava();
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

const missing = sparkMissing();
const skip = missing !== null && process.env.CI !== 'true' ? `Spark is not available (${missing}): ${ENABLE}` : false;
if (skip) console.log(`# skipping the Spark tests: ${skip}`);

const work = tempDir('als-spark-test-');
const model = join(work, 'model');
/**
 * The temporary folder of the CLI runs here: a Spark job that fails keeps its folder with the log
 * the message names (src/engines/spark/sparkEngine.ts), which would outlive the test in the OS's
 * temporary folder; inside `work`, it goes with it.
 */
const jobTmp = join(work, 'tmp');
mkdirSync(jobTmp);
/** Spark settings of every job here: no web UI (no port to find, less start-up) */
const QUIET_SPARK = ['--spark-conf', 'spark.ui.enabled=false'];

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI without blocking the event loop (the cluster's processes are watched meanwhile). */
function als(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [ALS_BIN, ...args], {
      cwd: work,
      env: { ...env, TMPDIR: jobTmp, FORCE_COLOR: undefined },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

/** The bytes of a file in an ArrayBuffer of their own (a small file's Buffer is a view of a shared pool). */
function arrayBuffer(path: string): ArrayBuffer {
  const bytes = readFileSync(path);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
}

function hashDirectory(dir: string): string {
  const hash = createHash('sha256');
  for (const name of readdirSync(dir).sort()) {
    hash.update(name);
    if (name !== '.als') hash.update(readFileSync(join(dir, name)));
  }
  for (const name of readdirSync(join(dir, '.als')).sort()) hash.update(name);
  return hash.digest('hex');
}

/** One line on stderr, starting "als: " (no stack trace). */
function oneLine(run: Run): string {
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0], /^als: /);
  return lines[0];
}

const HIP_HOP = new Set(
  [
    'kanye west',
    "lil' wayne",
    'lil wayne',
    't.i.',
    '2pac',
    '50 cent',
    'ludacris',
    'snoop dogg',
    'drake',
    'nas',
    'the game',
    'eminem',
    'nelly',
    'busta rhymes',
    'timbaland',
    'usher',
    'akon',
    'rihanna',
    'beyoncé',
    'ne-yo',
    'chris brown',
    'lupe fiasco',
    'common',
    'the roots',
    'outkast',
    'missy elliott',
    'pharrell',
    'n.e.r.d',
    'dr. dre',
    'notorious b.i.g.',
    'the notorious b.i.g.',
    'method man',
    'wu-tang clan',
    'mos def',
    'talib kweli',
    'kid cudi',
    'b.o.b',
    'young jeezy',
    'rick ross',
    'lloyd banks',
    'g-unit',
    'fabolous',
    'justin timberlake',
    'r. kelly',
    'alicia keys',
    'mary j. blige',
    'ciara',
    'keyshia cole',
    'jay-z & kanye west',
    'gym class heroes',
    'flo rida',
    't-pain',
    'nicki minaj',
    'xzibit',
    'ice cube',
    'dmx',
    'ja rule',
    'jadakiss',
    'swizz beatz',
    'pitbull',
    'sean paul',
    'fat joe',
    'lil jon',
    'young money',
    'wale',
  ].map((n) => n.toLowerCase()),
);

describe('als train --engine spark (real Spark)', { skip, timeout: 15 * 60_000 }, () => {
  before(async () => {
    if (missing !== null) throw new Error(`CI=true and Spark cannot start: ${missing} (${ENABLE})`);
    const run = await als([
      'train',
      SAMPLE,
      '--engine',
      'spark',
      '--master',
      'local[2]',
      '--factors',
      '32',
      '--iterations',
      '10',
      '-m',
      model,
      ...QUIET_SPARK,
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /1,892 users × 17,620 items, 92,830 interactions/);
    assert.match(run.stdout, /Spark 4\.\d+\.\d+ on local\[2\]/);
  });

  it('writes an ordinary model: checksums match, model.json records Spark, its master, version and settings', async () => {
    const info = await als(['info', '-m', model, '--json']);
    assert.equal(info.status, 0, info.stderr);
    const manifest = JSON.parse(readFileSync(join(model, 'model.json'), 'utf8'));
    assert.equal(manifest.training.engine.engine, 'spark');
    assert.equal(manifest.training.engine.master, 'local[2]');
    assert.match(manifest.training.engine.sparkVersion, /^\d+\.\d+\.\d+/);
    const settings = manifest.training.engine.settings;
    assert.equal(settings.rank, 32);
    assert.equal(settings.maxIter, 10);
    assert.equal(settings.alpha, DEFAULT_ALPHA.log);
    assert.equal(settings.implicitPrefs, true);
    // constant λ = 10 mapped to the same total regularization: λ·(users + items)/(2·nnz)
    assert.ok(Math.abs(settings.regParam - (10 * (1892 + 17620)) / (2 * 92830)) < 1e-9, String(settings.regParam));
    assert.equal(manifest.options.regularization, 10);
    // what was read: the numbers of als's own reader on the same file
    const data = await readInteractions(SAMPLE);
    for (const key of ['rows', 'used', 'skipped', 'zeroCounts', 'duplicates', 'header'] as const)
      assert.equal(manifest.input[key], data.stats[key], key);
    const userIds = JSON.parse(readFileSync(join(model, 'user_ids.json'), 'utf8'));
    const itemNames = JSON.parse(readFileSync(join(model, 'item_names.json'), 'utf8'));
    assert.deepEqual(userIds, data.userIds);
    assert.deepEqual(itemNames, data.itemNames);
    const plays = new Float32Array(arrayBuffer(join(model, 'user_items.plays.f32')));
    assert.deepEqual(plays, data.userItems.data);
  });

  it('loads in every command: similar jay-z has at least 6 hip-hop/R&B artists; recommend, --items, --explain, update, info', async () => {
    const similar = await als(['similar', 'jay-z', '--json', '-m', model]);
    assert.equal(similar.status, 0, similar.stderr);
    const names: string[] = JSON.parse(similar.stdout).similar.map((r: { item: string }) => r.item.toLowerCase());
    assert.equal(names.length, 10);
    const hipHop = names.filter((n) => HIP_HOP.has(n));
    assert.ok(hipHop.length >= 6, `only ${hipHop.length} hip-hop/R&B artists among ${names.join(', ')}`);

    const recommend = await als(['recommend', '--user', 'user2', '--json', '-m', model]);
    assert.equal(recommend.status, 0, recommend.stderr);
    assert.equal(JSON.parse(recommend.stdout).recommendations.length, 10);
    const items = await als(['recommend', '--items', 'jay-z,kanye west', '--json', '-m', model]);
    assert.equal(items.status, 0, items.stderr);
    assert.equal(JSON.parse(items.stdout).recommendations.length, 10);
    const explain = await als(['recommend', '--user', 'user2', '--explain', '-n', '3', '-m', model]);
    assert.equal(explain.status, 0, explain.stderr);
    assert.equal((explain.stdout.match(/^ +\d+\.\d+ = .+%/gm) ?? []).length, 3, explain.stdout);

    const copy = join(work, 'updated');
    const updateFile = join(work, 'update.tsv');
    writeFileSync(updateFile, 'newcomer\t\tJay-Z\t50\nnewcomer\t\tKanye West\t40\nnewcomer\t\tNas\t30\n');
    const cp = spawnSync('cp', ['-r', model, copy]);
    assert.equal(cp.status, 0);
    const update = await als(['update', updateFile, '-m', copy]);
    assert.equal(update.status, 0, update.stderr);
    const after = await als(['recommend', '--user', 'newcomer', '--json', '-m', copy]);
    assert.equal(after.status, 0, after.stderr);
    assert.equal(
      JSON.parse(readFileSync(join(copy, 'model.json'), 'utf8')).training.engine.engine,
      'spark',
      'an update keeps the engine record',
    );
    const info = await als(['info', '-m', model]);
    assert.equal(info.status, 0, info.stderr);
    assert.match(info.stdout, /Spark 4\.\d+\.\d+ on local\[2\]/);
  });

  it("reads by als's input rules: rows, skips, zero counts, duplicates, users, items and the matrix equal als's; 1 + α·w(r) is als's confidence", async () => {
    const dir = join(work, 'rules');
    mkdirSync(dir);
    const lastfm = Buffer.concat([
      Buffer.from('\ufeffuser\tmbid\tartist\tplays\n'),
      Buffer.from(
        'u1\t\tThe Beatles\t10\nu1\t\tthe beatles\t5\nu2\t\tTHE BEATLES\t3\nu2\t\tThe Beatles\t4\nu3\t\tthe beatles\t1\n',
      ),
      Buffer.from(
        'u1\t\tBjo\u0308rk\t2\nu2\t\tBj\u00f6rk \t3\n\u00a0u3\u00a0\t\tBj\u00f6rk\t0\nu3\t\tMuse\t7\r\nu3\t\tMuse\t1\n\n',
      ),
      Buffer.from(
        'u4\t\tMuse\tabc\nu4\t\t\t3\n\t\tMuse\t3\nu4\t\tMuse\t1e39\nu4\tMuse\t3\nu4\t\tMuse\t-1\nu4\t\tMu\0se\t2\nu4\t\tRadiohead\t+2.5\n',
      ),
      Buffer.from([0x75, 0x35, 0x09, 0x09, 0x42, 0x6a, 0xf6, 0x72, 0x6b, 0x09, 0x31, 0x0a]), // invalid UTF-8
      Buffer.from('u5\t\t\u001cRadiohead\t1\nu5\t\t\u2003Radiohead\t1e2\nu6\t\tMuse\t.5\nu6\t\tMuse\t0.0\n'),
    ]);
    const triples = 'user\titem\tcount\na\tx\t1\na\tx\t2\nb\ty\t0\nb\tx\t3\nc\ty\t4\t5\nc\ty\t4\n';
    const csv =
      'user,item,count\n"u,1",x,3\nu2,"a ""quoted"" item",2\nu3,"spans\nthree\nlines",4\nu4,"closed"junk,5\nu5,mbid,"Name, with comma",6\n\nu6,x,1\n' +
      'u7,"x",0\nu8,x\n';
    const files: [string, InputFormat][] = [
      [join(dir, 'plays.tsv'), 'lastfm'],
      [join(dir, 'triples.tsv.gz'), 'triples'],
      [join(dir, 'plays.csv'), 'csv'],
    ];
    writeFileSync(files[0][0], lastfm);
    writeFileSync(files[1][0], gzipSync(triples));
    writeFileSync(files[2][0], csv);
    const out = join(dir, 'out');
    mkdirSync(out);
    const args = files.flatMap(([file, format]) => ['--input', file, '--format', format]);
    const job = spawnSync(
      findSparkSubmit(undefined),
      [
        '--master',
        'local[2]',
        '--conf',
        'spark.ui.enabled=false',
        SPARK_JOB,
        '--describe',
        '--write-weights',
        '--out',
        out,
        ...args,
      ],
      {
        encoding: 'utf8',
        maxBuffer: 1 << 28,
      },
    );
    assert.equal(job.status, 0, job.stderr.slice(-3000));
    const report = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')).describe;
    for (const [n, [file, format]] of files.entries()) {
      const data = await readInteractions(file, { format });
      const got = report[n].stats;
      assert.ok(got, JSON.stringify(report[n]));
      assert.ok(data.stats.skipped > 0 || format === 'triples', 'each file has bad rows');
      for (const key of ['rows', 'used', 'skipped', 'zeroCounts', 'duplicates', 'header'] as const)
        assert.equal(got[key], data.stats[key], `${format}: ${key}`);
      assert.deepEqual(
        got.skippedExamples.map((s: { line: number }) => s.line),
        data.stats.skippedExamples.map((s) => s.line),
        `${format}: the lines of the skipped rows`,
      );
      assert.equal(got.users, data.userItems.rows, `${format}: users`);
      assert.equal(got.items, data.userItems.cols, `${format}: items`);
      const part = join(out, String(n));
      assert.deepEqual(
        readFileSync(join(part, 'user_ids.txt'), 'utf8').split('\n').slice(0, -1),
        data.userIds,
        `${format}: user ids`,
      );
      assert.deepEqual(
        readFileSync(join(part, 'item_names.txt'), 'utf8').split('\n').slice(0, -1),
        data.itemNames,
        `${format}: item names`,
      );
      const pairs = new Int32Array(arrayBuffer(join(part, 'pairs.i32')));
      const counts = new Float32Array(arrayBuffer(join(part, 'counts.f32')));
      const m = data.userItems;
      assert.equal(counts.length, m.indptr[m.rows]);
      for (let u = 0, n2 = 0; u < m.rows; u++) {
        for (let k = m.indptr[u]; k < m.indptr[u + 1]; k++, n2++) {
          assert.deepEqual(
            [pairs[2 * n2], pairs[2 * n2 + 1], counts[n2]],
            [u, m.indices[k], m.data[k]],
            `${format}: entry ${n2}`,
          );
        }
      }
      for (const weighting of WEIGHTINGS) {
        const alpha = DEFAULT_ALPHA[weighting];
        const { bm25K1, bm25B } = defaultTrainOptions();
        const als = confidences(m, { weighting, alpha, bm25K1, bm25B });
        const w = new Float32Array(arrayBuffer(join(part, `weights.${weighting}.f32`)));
        for (let k = 0; k < als.length; k++) {
          // Spark's implicit ALS: c = 1 + α·|rating| (ALS.computeFactors), in float64 of the float rating
          const spark = 1 + alpha * w[k];
          assert.ok(
            Math.abs(spark - als[k]) <= 1e-6 * als[k],
            `${format} ${weighting} entry ${k}: Spark ${spark}, als ${als[k]}`,
          );
        }
      }
    }
  });

  it("on the evaluation split, precision@10 with mapped settings is within 10% of the built-in engine's", async () => {
    const common = ['--factors', '32', '--iterations', '10', '--json', '-q'];
    const builtin = await als(['evaluate', SAMPLE, ...common]);
    assert.equal(builtin.status, 0, builtin.stderr);
    const spark = await als([
      'evaluate',
      SAMPLE,
      ...common,
      '--engine',
      'spark',
      '--master',
      'local[2]',
      ...QUIET_SPARK,
    ]);
    assert.equal(spark.status, 0, spark.stderr);
    const b = JSON.parse(builtin.stdout);
    const s = JSON.parse(spark.stdout);
    assert.equal(s.users, b.users, 'the same split');
    assert.equal(s.trainInteractions, b.trainInteractions);
    const ratio = s.model.precision / b.model.precision;
    console.log(
      `# precision@10: spark ${s.model.precision.toFixed(4)}, builtin ${b.model.precision.toFixed(4)} (ratio ${ratio.toFixed(3)})`,
    );
    assert.ok(ratio >= 0.9, `spark ${s.model.precision} against builtin ${b.model.precision}`);
  });

  describe('bad cases: one clear line each, the existing model untouched', () => {
    let before: string;
    const train = (extra: string[], env?: NodeJS.ProcessEnv) =>
      als(
        [
          'train',
          SAMPLE,
          '--engine',
          'spark',
          '--master',
          'local[2]',
          '--iterations',
          '2',
          '-m',
          model,
          ...QUIET_SPARK,
          ...extra,
        ],
        env,
      );
    const untouched = () => assert.equal(hashDirectory(model), before, 'the model directory changed');

    it('(set-up)', () => {
      before = hashDirectory(model);
    });

    it('no Java', async () => {
      const empty = join(work, 'no-java');
      mkdirSync(empty, { recursive: true });
      const run = await train([], { ...process.env, JAVA_HOME: empty });
      assert.equal(run.status, 2);
      assert.match(
        oneLine(run),
        /Spark needs Java \(17 or later\): JAVA_HOME is .*no-java, but .*bin\/java is not an executable file/,
      );
      const none = await train(['--spark-submit', findSparkSubmit(undefined)], {
        ...process.env,
        JAVA_HOME: '',
        PATH: empty,
      });
      assert.equal(none.status, 2);
      assert.match(oneLine(none), /Spark needs Java.*no java is on PATH/);
      untouched();
    });

    it('no spark-submit', async () => {
      const run = await train([], { ...process.env, SPARK_HOME: '', PATH: join(work, 'no-java') });
      assert.equal(run.status, 2);
      assert.match(oneLine(run), /spark-submit was not found.*pip install pyspark.*--spark-submit/);
      const given = await train(['--spark-submit', join(work, 'nowhere', 'spark-submit')]);
      assert.equal(given.status, 2);
      assert.match(oneLine(given), /nowhere\/spark-submit: no such executable file/);
      untouched();
    });

    it('a master that does not answer (a bounded wait)', async () => {
      const port = await freePort();
      const started = Date.now();
      const run = await train(['--master', `spark://127.0.0.1:${port}`]);
      assert.equal(run.status, 2);
      assert.match(
        oneLine(run),
        new RegExp(
          `the Spark master spark://127\\.0\\.0\\.1:${port} does not answer \\(127\\.0\\.0\\.1:${port}: connection refused\\)`,
        ),
      );
      assert.ok(Date.now() - started < 15_000);
      untouched();
    });

    it('an input Spark cannot read', async () => {
      const run = await als([
        'train',
        join(work, 'missing.tsv'),
        '--engine',
        'spark',
        '--master',
        'local[2]',
        '-m',
        model,
        ...QUIET_SPARK,
      ]);
      assert.equal(run.status, 3);
      const line = oneLine(run);
      assert.match(
        line,
        /missing\.tsv: Spark cannot read it \(.*(PATH_NOT_FOUND|does not exist).*\) \(the Spark log is \/.*spark\.log\)/,
      );
      const log = /the Spark log is (\S+spark\.log)\)/.exec(line)![1];
      assert.match(readFileSync(log, 'utf8'), /missing\.tsv/);
      untouched();
    });

    it('a job that fails half-way (its driver killed after the read)', async () => {
      // a few hundred rows: the read is as many Spark jobs as the sample's, each one shorter
      const small = join(work, 'half-way.tsv');
      writeFileSync(small, readFileSync(SAMPLE, 'utf8').split('\n').slice(0, 500).join('\n') + '\n');
      const run = await als(
        ['train', small, '--engine', 'spark', '--master', 'local[2]', '-m', model, ...QUIET_SPARK],
        { ...process.env, ALS_TEST_KILL_AT: 'spark-after-read' },
      );
      assert.equal(run.status, 3);
      const line = oneLine(run);
      assert.match(
        line,
        /the Spark job for .*half-way\.tsv failed with exit code \d+.*; the Spark log is \/.*spark\.log/,
      );
      const log = /the Spark log is (\S+spark\.log)/.exec(line)![1];
      assert.deepEqual(readdirSync(join(log, '..')), ['spark.log'], 'only the log is kept');
      untouched();
    });
  });
});

/** A TCP port nobody listens on (now). */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

describe('settings between the engines', () => {
  it("maps λ: ν = 1, α₀ = 0 is Spark's regParam = λ; ν = 0 is the same total regularization; other values are refused", () => {
    assert.deepEqual(sparkRegularization({ regularization: 0.1, regularizationExponent: 1, regularizationAlpha0: 0 }), {
      mode: 'frequency',
      lambda: 0.1,
    });
    assert.deepEqual(sparkRegularization({ regularization: 10 }), { mode: 'constant', lambda: 10 });
    assert.throws(
      () => sparkRegularization({ regularization: 1, regularizationExponent: 0.5 }),
      /regularizationExponent 0\.5 with regularizationAlpha0 0 has no Spark equivalent/,
    );
    assert.throws(
      () => sparkRegularization({ regularization: 1, regularizationExponent: 1, regularizationAlpha0: 0.1 }),
      /no Spark equivalent/,
    );
  });

  it('refuses, before anything runs, options of the other engine and input Spark cannot take (one line, exit 2)', async () => {
    const cases: [string[], RegExp][] = [
      [['--master', 'local[2]'], /^als: --master is an option of --engine spark$/],
      [['--spark-conf', 'spark.executor.memory=1g'], /^als: --spark-conf is an option of --engine spark$/],
      [['--engine', 'spark', '--solver', 'naive'], /^als: --solver is an option of the built-in engine/],
      [['--engine', 'spark', '--threads', '1'], /^als: --threads is an option of the built-in engine/],
      [
        ['--engine', 'spark', '--loss'],
        /^als: --loss is an option of the built-in engine: Spark does not report the loss/,
      ],
      [
        ['--engine', 'spark', '--master', 'local[2]; rm -rf /'],
        /^als: master must be local, local\[N\], local\[\*\], spark:\/\/HOST:PORT, yarn or k8s:\/\/URL, not "local\[2\]; rm -rf \/"$/,
      ],
      [
        ['--engine', 'spark', '--spark-conf', 'executor.memory=1g'],
        /^als: Spark setting "executor.memory" is not a spark\.\* name$/,
      ],
      [['--engine', 'spark', '--spark-conf', 'novalue'], /--spark-conf.*expected KEY=VALUE/],
    ];
    for (const [extra, pattern] of cases) {
      const run = await als(['train', SAMPLE, '-m', join(work, 'never'), ...extra]);
      assert.equal(run.status, 2, `${extra.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr.trim(), pattern);
    }
    const stdin = await als(['train', '-', '--engine', 'spark', '-m', join(work, 'never')]);
    assert.equal(stdin.status, 2, stdin.stderr);
    assert.match(oneLine(stdin), /Spark reads its input from a file system, not from standard input/);
    assert.throws(() => readdirSync(join(work, 'never')), /ENOENT/);
  });
});

describe('a real standalone cluster: a master and two workers on 127.0.0.1', { skip, timeout: 10 * 60_000 }, () => {
  const started: ChildProcess[] = [];
  const stopAll = () => {
    for (const child of started) {
      try {
        if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  };
  process.once('exit', stopAll);
  after(stopAll);

  it('trains with executors on both workers, and everything started is stopped', async () => {
    const sparkHome = spawnSync('python3', ['-c', 'import pyspark,os;print(os.path.dirname(pyspark.__file__))'], {
      encoding: 'utf8',
    }).stdout.trim();
    const sparkClass = process.env.SPARK_HOME
      ? join(process.env.SPARK_HOME, 'bin', 'spark-class')
      : join(sparkHome, 'bin', 'spark-class');
    const dir = join(work, 'cluster');
    mkdirSync(join(dir, 'events'), { recursive: true });
    const [port, ui, ...workerUis] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const env = { ...process.env, SPARK_DAEMON_MEMORY: '256m', SPARK_LOG_DIR: dir, SPARK_WORKER_DIR: dir };
    const daemon = (args: string[], name: string) => {
      const child = spawn(sparkClass, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let log = '';
      child.stdout!.on('data', (d: Buffer) => (log += d));
      child.stderr!.on('data', (d: Buffer) => (log += d));
      started.push(child);
      return { child, log: () => `${name}: ${log.slice(-2000)}` };
    };
    const master = daemon(
      [
        'org.apache.spark.deploy.master.Master',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--webui-port',
        String(ui),
      ],
      'master',
    );
    const workers = workerUis.map((webUi, n) =>
      daemon(
        [
          'org.apache.spark.deploy.worker.Worker',
          '--host',
          '127.0.0.1',
          '--cores',
          '1',
          '--memory',
          '512m',
          '--webui-port',
          String(webUi),
          '--work-dir',
          join(dir, `w${n}`),
          `spark://127.0.0.1:${port}`,
        ],
        `worker ${n}`,
      ),
    );
    // both workers registered (the master's JSON)
    const deadline = Date.now() + 120_000;
    for (;;) {
      const state = await fetch(`http://127.0.0.1:${ui}/json/`)
        .then((r) => r.json() as Promise<{ workers: { state: string }[] }>)
        .catch(() => null);
      if (state && state.workers.filter((w) => w.state === 'ALIVE').length === 2) break;
      assert.ok(
        Date.now() < deadline,
        `the cluster did not start: ${master.log()} ${workers.map((w) => w.log()).join(' ')}`,
      );
      await new Promise((r) => setTimeout(r, 500));
    }
    const clusterModel = join(work, 'cluster-model');
    // the first 3,000 rows: the job's many small Spark jobs still spread over both workers
    const input = join(dir, 'plays.tsv');
    writeFileSync(input, readFileSync(SAMPLE, 'utf8').split('\n').slice(0, 3000).join('\n') + '\n');
    const run = await als([
      'train',
      input,
      '--engine',
      'spark',
      '--master',
      `spark://127.0.0.1:${port}`,
      '--factors',
      '8',
      '--iterations',
      '2',
      '-m',
      clusterModel,
      '--spark-timeout',
      '400',
      ...QUIET_SPARK,
      '--spark-conf',
      'spark.executor.memory=512m',
      '--spark-conf',
      'spark.executor.cores=1',
      '--spark-conf',
      'spark.cores.max=2',
      '--spark-conf',
      'spark.eventLog.enabled=true',
      '--spark-conf',
      `spark.eventLog.dir=file://${join(dir, 'events')}`,
      // one plain JSON-lines file (Spark 4 rolls and compresses the event log by default)
      '--spark-conf',
      'spark.eventLog.compress=false',
      '--spark-conf',
      'spark.eventLog.rolling.enabled=false',
    ]);
    assert.equal(run.status, 0, run.stderr);
    const manifest = JSON.parse(readFileSync(join(clusterModel, 'model.json'), 'utf8'));
    assert.equal(manifest.training.engine.master, `spark://127.0.0.1:${port}`);
    // the event log: which worker each executor ran on (its log URL names the worker's web UI
    // port), and the tasks each executor finished
    const logs = readdirSync(join(dir, 'events')).filter((name) => name.startsWith('app-'));
    assert.equal(logs.length, 1, `one event log: ${logs.join(', ')}`);
    const events = readFileSync(join(dir, 'events', logs[0]), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const workerOf = new Map<string, number>();
    for (const e of events.filter((e) => e.Event === 'SparkListenerExecutorAdded')) {
      const url: string = e['Executor Info']['Log Urls'].stdout;
      workerOf.set(e['Executor ID'], Number(/:(\d+)\//.exec(url)![1]));
    }
    const tasksPerWorker = new Map<number, number>();
    for (const e of events.filter(
      (e) => e.Event === 'SparkListenerTaskEnd' && e['Task End Reason'].Reason === 'Success',
    )) {
      const worker = workerOf.get(e['Task Info']['Executor ID'])!;
      tasksPerWorker.set(worker, (tasksPerWorker.get(worker) ?? 0) + 1);
    }
    assert.deepEqual(
      [...tasksPerWorker.keys()].sort(),
      [...workerUis].sort(),
      `tasks per worker UI port: ${JSON.stringify([...tasksPerWorker])}`,
    );
    for (const [worker, tasks] of tasksPerWorker) assert.ok(tasks >= 10, `worker ${worker} ran ${tasks} tasks`);
    console.log(`# tasks per worker (by web UI port): ${JSON.stringify(Object.fromEntries(tasksPerWorker))}`);
    const state = await fetch(`http://127.0.0.1:${ui}/json/`).then(
      (r) => r.json() as Promise<{ completedapps: { name: string }[] }>,
    );
    assert.ok(state.completedapps.some((a) => a.name === 'als train'));
    stopAll();
    await Promise.all(
      started.map((child) =>
        child.exitCode !== null || child.signalCode !== null ? null : new Promise((r) => child.once('exit', r)),
      ),
    );
    assert.ok(
      started.every((child) => child.exitCode !== null || child.signalCode !== null),
      'every daemon stopped',
    );
  });
});
