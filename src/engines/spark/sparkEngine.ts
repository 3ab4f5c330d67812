import { spawn } from 'node:child_process';
import { createWriteStream, promises as fs } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveTrainOptions, type TrainOptions } from '../../als/options.js';
import { MAX_CONFIDENCE } from '../../als/weighting.js';
import { readSmallFile } from '../../data/regularFile.js';
import { MAX_COUNT } from '../../data/rows.js';
import { STDIN_PATH } from '../../data/source.js';
import { columnCounts, type CsrMatrix } from '../../data/sparse.js';
import { AlsError } from '../../errors.js';
import type { AlsModel, TrainedBy } from '../../model/model.js';
import { badFactorWords, checkOptions, firstBadFactor, num, valueForMessage } from '../../validate.js';
import type { EngineCallbacks, EngineInput, EngineReadStats, EngineResult, TrainingEngine } from '../engine.js';
import { findJava, findSparkSubmit } from './locate.js';
import { sparkRegularization } from './settings.js';

/** The PySpark job, shipped with the package in its top-level spark/ folder. */
export const SPARK_JOB = fileURLToPath(new URL('../../../../spark/als_train.py', import.meta.url));

/** The master when none is given: Spark in this process's machine, on every core. */
export const DEFAULT_MASTER = 'local[*]';

/** How long a spark:// master is given to accept a connection before the job is refused. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The prefix of the job's progress lines on its standard output (spark/als_train.py). */
const PROGRESS = 'ALS-SPARK ';

export interface SparkOptions {
  /** where Spark runs: local[N], local[*], spark://host:port, yarn, k8s://… @default 'local[*]' */
  master?: string;
  /** the spark-submit to run @default $SPARK_HOME/bin/spark-submit, else the one on PATH */
  sparkSubmit?: string;
  /** Spark settings passed as --conf key=value (e.g. spark.executor.memory) */
  conf?: Record<string, string>;
  /** the job is stopped and refused after this long (0: no limit) @default 0 */
  timeoutMs?: number;
  /** how long a spark:// master may take to accept a connection @default 10 000 */
  connectTimeoutMs?: number;
  /** the environment of spark-submit @default process.env */
  env?: NodeJS.ProcessEnv;
  /** keep the job's directory (its output and spark.log) after a success, for inspection */
  keepDirectory?: boolean;
}

const MASTER = /^(local(\[(\*|[1-9]\d{0,4})(,[1-9]\d{0,3})?\])?|spark:\/\/[A-Za-z0-9.\-:,[\]]+|yarn|k8s:\/\/\S+)$/;
const CONF_KEY = /^spark\.[A-Za-z0-9._-]+$/;

/** Checks the Spark options of the public edge; returns the master. */
function checkSparkOptions(options: SparkOptions): string {
  checkOptions('sparkOptions', options);
  const master = options.master ?? DEFAULT_MASTER;
  if (typeof master !== 'string' || master.length > 1000 || !MASTER.test(master)) {
    throw new AlsError(
      'usage',
      `master must be local, local[N], local[*], spark://HOST:PORT, yarn or k8s://URL, not ${valueForMessage(master)}`,
    );
  }
  for (const [key, value] of Object.entries(options.conf ?? {})) {
    if (!CONF_KEY.test(key)) throw new AlsError('usage', `Spark setting ${valueForMessage(key)} is not a spark.* name`);
    if (typeof value !== 'string' || value.length > 10_000 || /[\0\n\r]/.test(value)) {
      throw new AlsError('usage', `Spark setting ${key} must be one line of text, not ${valueForMessage(value)}`);
    }
  }
  for (const key of ['timeoutMs', 'connectTimeoutMs'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isInteger(value) && value >= 0 && value <= 2 ** 31 - 1)) {
      throw new AlsError('usage', `${key} must be a whole number of milliseconds, not ${valueForMessage(value)}`);
    }
  }
  return master;
}

/**
 * Whether a spark:// master answers: a TCP connection to one of its host:port pairs within
 * `timeoutMs`. A master that does not answer would otherwise keep spark-submit retrying for a
 * minute before it gives up.
 *
 * @throws {AlsError} 'usage' naming the master and why
 */
export async function probeMaster(master: string, timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): Promise<void> {
  if (!master.startsWith('spark://')) return;
  const problems: string[] = [];
  for (const hostPort of master.slice('spark://'.length).split(',')) {
    const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(hostPort);
    if (!match) throw new AlsError('usage', `master ${master}: ${valueForMessage(hostPort)} is not HOST:PORT`);
    const host = match[1].replace(/^\[|\]$/g, '');
    const port = Number(match[2]);
    const problem = await new Promise<string | null>((done) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        done(`no answer within ${num(timeoutMs / 1000)} s`);
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.destroy();
        done(null);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        done(error.code === 'ECONNREFUSED' ? 'connection refused' : (error.code ?? error.message));
      });
    });
    if (problem === null) return;
    problems.push(`${hostPort}: ${problem}`);
  }
  throw new AlsError('usage', `the Spark master ${master} does not answer (${problems.join('; ')})`);
}

/** What the job wrote to result.json (checked before use). */
interface JobResult {
  stats: EngineReadStats & { lines: number; users: number; items: number; interactions: number };
  sparkVersion: string;
  master: string;
  applicationId: string;
  settings: Record<string, unknown>;
  seconds: { read: number; train: number };
}

/** The arguments of the job for these options. */
function jobArguments(input: EngineInput, options: TrainOptions, out: string): string[] {
  const regularization = sparkRegularization(options);
  const args = [
    '--input',
    input.file,
    '--format',
    input.format,
    '--out',
    out,
    '--factors',
    String(options.factors),
    '--iterations',
    String(options.iterations),
    '--reg',
    String(regularization.lambda),
    '--regularization',
    regularization.mode,
    '--alpha',
    String(options.alpha),
    '--weighting',
    options.weighting,
    '--bm25-k1',
    String(options.bm25K1),
    '--bm25-b',
    String(options.bm25B),
    '--seed',
    String(options.seed),
    '--max-confidence',
    String(MAX_CONFIDENCE),
  ];
  if (input.strict) args.push('--strict');
  return args;
}

/** A local input path as Spark should see it: absolute (its working directory may differ); URLs as given. */
function sparkPath(file: string): string {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(file)) return file;
  return isAbsolute(file) ? file : resolve(file);
}

/** How a job ended. */
interface JobEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** the spawn itself failed */
  error?: NodeJS.ErrnoException;
}

/**
 * Runs spark-submit with the job, its output to `log` (and the progress lines to `onStage`),
 * in its own process group so that a time limit or an interrupt stops Spark's JVM and Python
 * processes together.
 */
async function runJob(
  sparkSubmit: string,
  args: string[],
  log: string,
  options: SparkOptions,
  onStage: (stage: string) => void,
): Promise<JobEnd> {
  const logStream = createWriteStream(log, { flags: 'wx', mode: 0o600 });
  await new Promise<void>((done, fail) => logStream.once('open', () => done()).once('error', fail));
  const child = spawn(sparkSubmit, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: options.env ?? process.env,
  });
  const stopGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  // an interrupt of als stops Spark too (its own process group does not get the terminal's signal)
  const onSignal = (signal: NodeJS.Signals) => {
    stopGroup('SIGTERM');
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.kill(process.pid, signal);
  };
  const onExit = () => stopGroup('SIGKILL');
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', onExit);
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    logStream.write(chunk);
    pending += chunk.toString('utf8');
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.startsWith(PROGRESS)) {
        try {
          const stage = (JSON.parse(line.slice(PROGRESS.length)) as { stage?: unknown }).stage;
          if (typeof stage === 'string') onStage(stage);
        } catch {
          // a progress line cut by other output: the log has it
        }
      }
    }
  });
  child.stderr.on('data', (chunk: Buffer) => logStream.write(chunk));
  let timedOut = false;
  const timer =
    options.timeoutMs && options.timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          stopGroup('SIGTERM');
          setTimeout(() => stopGroup('SIGKILL'), 5000).unref();
        }, options.timeoutMs)
      : null;
  try {
    return await new Promise<JobEnd>((done) => {
      child.once('error', (error: NodeJS.ErrnoException) => done({ code: null, signal: null, timedOut, error }));
      child.once('close', (code, signal) => done({ code, signal, timedOut }));
    });
  } finally {
    if (timer) clearTimeout(timer);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('exit', onExit);
    // whatever the job left running (a Python worker) goes with it
    stopGroup('SIGKILL');
    await new Promise<void>((done) => logStream.end(done));
  }
}

/** Reads a file the job wrote, refusing one of the wrong size. */
async function readOutput(dir: string, name: string, bytes: number): Promise<Buffer> {
  const data = await fs.readFile(join(dir, name));
  if (data.length !== bytes) throw jobBroken(`${name} has ${data.length} bytes, not ${bytes}`);
  return data;
}

function jobBroken(what: string): AlsError {
  return new AlsError(
    'input',
    `the Spark job's output is not what als expects (${what}); is spark/als_train.py the one of this als?`,
  );
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** result.json, checked. */
function readResult(dir: string): JobResult {
  let result: JobResult;
  try {
    result = JSON.parse(readSmallFile(join(dir, 'result.json'), 1 << 20).toString('utf8')) as JobResult;
  } catch (error) {
    throw jobBroken(`result.json: ${(error as Error).message}`);
  }
  const s = result?.stats;
  const counts = [
    'rows',
    'used',
    'skipped',
    'zeroCounts',
    'duplicates',
    'lines',
    'users',
    'items',
    'interactions',
  ] as const;
  if (
    typeof s !== 'object' ||
    s === null ||
    !counts.every((key) => isCount(s[key])) ||
    typeof s.header !== 'boolean' ||
    !Array.isArray(s.skippedExamples)
  ) {
    throw jobBroken('result.json lacks the statistics of the read');
  }
  if (s.users < 1 || s.items < 1 || s.interactions < 1 || s.interactions > s.users * s.items)
    throw jobBroken('result.json gives impossible shapes');
  if (typeof result.sparkVersion !== 'string' || typeof result.master !== 'string')
    throw jobBroken('result.json lacks the Spark version or master');
  return result;
}

/** Lines of a names file (the names hold no line feed: the input rules refuse it). */
async function readNames(dir: string, name: string, expected: number): Promise<string[]> {
  const text = await fs.readFile(join(dir, name), 'utf8');
  const names = text.split('\n');
  if (names.pop() !== '' || names.length !== expected)
    throw jobBroken(`${name} holds ${names.length} names, not ${expected}`);
  return names;
}

/** The users × items counts from the job's pairs (sorted by user, then item, each once) and counts. */
function buildMatrix(pairs: Int32Array, counts: Float32Array, users: number, items: number): CsrMatrix {
  const nnz = counts.length;
  const indptr = new Int32Array(users + 1);
  const indices = new Int32Array(nnz);
  let previousUser = 0;
  let previousItem = -1;
  for (let n = 0; n < nnz; n++) {
    const u = pairs[2 * n];
    const i = pairs[2 * n + 1];
    if (!(u >= previousUser && u < users && i >= 0 && i < items && (u > previousUser || i > previousItem))) {
      throw jobBroken(`pair ${n} (${u}, ${i}) is out of range or out of order`);
    }
    const c = counts[n];
    if (!(c > 0 && c <= MAX_COUNT)) throw jobBroken(`pair ${n} has the count ${c}`);
    indptr[u + 1]++;
    indices[n] = i;
    previousUser = u;
    previousItem = i;
  }
  for (let u = 0; u < users; u++) {
    if (indptr[u + 1] === 0) throw jobBroken(`user row ${u} has no count`);
    indptr[u + 1] += indptr[u];
  }
  return { rows: users, cols: items, indptr, indices, data: counts };
}

/**
 * Refuses factors that cannot be scored, as the built-in training does (firstBadFactor: not finite
 * or beyond ±MAX_FACTOR), and a side whose factors are all 0 (every score would be 0).
 */
function checkFactors(
  side: 'user' | 'item',
  factors: Float32Array,
  f: number,
  options: TrainOptions,
  regParam: unknown,
): void {
  const bad = firstBadFactor(factors);
  const settings = `weighting ${options.weighting}, alpha ${num(options.alpha)}, lambda ${num(options.regularization)} (Spark's regParam ${typeof regParam === 'number' ? num(Number(regParam.toPrecision(4))) : '?'})`;
  if (bad !== -1) {
    throw new AlsError(
      'input',
      `Spark's ALS returned ${side} factors that cannot be used: row ${Math.floor(bad / f)} holds ${badFactorWords(factors[bad])}, with ${settings}: ` +
        'lower alpha or lambda, or use weighting log. No model was made.',
    );
  }
  if (factors.length > 0 && factors.every((x) => x === 0)) {
    throw new AlsError(
      'input',
      `Spark's ALS returned ${side} factors that are all 0, with ${settings}: lower lambda. No model was made.`,
    );
  }
}

/** Turns the end of a failed job into one line, naming the log. */
async function jobFailure(
  end: JobEnd,
  dir: string,
  log: string,
  file: string,
  sparkSubmit: string,
  timeoutMs: number | undefined,
): Promise<AlsError> {
  const where = `the Spark log is ${log}`;
  if (end.error) return new AlsError('usage', `${sparkSubmit} cannot be run (${end.error.code ?? end.error.message})`);
  if (end.timedOut) {
    return new AlsError(
      'input',
      `the Spark job did not finish within ${num((timeoutMs ?? 0) / 1000)} s and was stopped (the cluster may have no free executors); ${where}`,
    );
  }
  try {
    const refusal = JSON.parse(readSmallFile(join(dir, 'error.json'), 1 << 16).toString('utf8')) as {
      code?: unknown;
      message?: unknown;
    };
    if (typeof refusal.message === 'string') {
      const code = refusal.code === 'usage' ? 'usage' : 'input';
      return new AlsError(code, `${refusal.message.split('\n')[0]} (${where})`);
    }
  } catch {
    // no refusal written: the job failed on its own
  }
  const how = end.signal ? `was killed by ${end.signal}` : `failed with exit code ${end.code}`;
  const cause = await lastError(log);
  return new AlsError('input', `the Spark job for ${file} ${how}${cause ? `: ${cause}` : ''}; ${where}`);
}

/** The most telling line of a Spark log: the last exception or error named in it, cut short. */
async function lastError(log: string): Promise<string | null> {
  let text: string;
  try {
    const handle = await fs.open(log, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, 1 << 20);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      text = buffer.toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return null;
  }
  const lines = text.split('\n').map((l) => l.trim());
  for (let n = lines.length - 1; n >= 0; n--) {
    const line = lines[n];
    if (/^(\S+(Exception|Error)\b|Exception in thread|ERROR\b|\S+ ERROR )/.test(line) || / ERROR /.test(line)) {
      return line.length > 300 ? `${line.slice(0, 300)}…` : line;
    }
  }
  return null;
}

/**
 * Trains with Spark MLlib's implicit ALS: runs spark/als_train.py through spark-submit (client
 * mode: the job's driver runs here, so its output directory is local whatever the master), which
 * reads `input` by als's input rules, weights the counts as als does (Spark's rating is w(r), its
 * alpha is α, so that Spark's confidence 1 + α·|rating| is als's c = 1 + α·w(r)), maps λ
 * (sparkRegularization), trains, and writes the factors, id maps and counts into a private
 * temporary directory (mkdtemp: an unpredictable name, mode 0700) that is read back, checked and
 * removed. On a failure the directory is kept with only spark.log, which the message names.
 *
 * @throws {AlsError} 'usage' for bad options, no Java, no spark-submit, a spark:// master that does
 *   not answer; 'input' for an input Spark cannot read or als's rules refuse, a job that fails or
 *   times out, or factors that cannot be used
 */
export async function trainWithSpark(
  input: EngineInput,
  options: Partial<TrainOptions>,
  sparkOptions: SparkOptions = {},
  callbacks: EngineCallbacks = {},
): Promise<EngineResult> {
  checkOptions('input', input);
  if (typeof input.file !== 'string' || input.file.length === 0)
    throw new AlsError('usage', 'input.file must be a non-empty path or URL');
  if (input.file === STDIN_PATH)
    throw new AlsError(
      'usage',
      'Spark reads its input from a file system, not from standard input: give a path or URL',
    );
  const resolved = resolveTrainOptions(checkOptions('options', options));
  if (resolved.computeLoss)
    throw new AlsError('usage', 'computeLoss: Spark does not report the loss of its iterations');
  const master = checkSparkOptions(sparkOptions);
  const env = sparkOptions.env ?? process.env;
  const sparkSubmit = findSparkSubmit(sparkOptions.sparkSubmit, env);
  findJava(env);
  const args = jobArguments(input, resolved, '');
  await probeMaster(master, sparkOptions.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);

  const started = performance.now();
  const dir = await fs.mkdtemp(join(tmpdir(), 'als-spark-'));
  const log = join(dir, 'spark.log');
  let keep = false;
  try {
    const conf = {
      'spark.ui.showConsoleProgress': 'false',
      ...sparkOptions.conf,
    };
    args[args.indexOf('--out') + 1] = dir;
    args[args.indexOf('--input') + 1] = sparkPath(input.file);
    const submit = [
      '--master',
      master,
      '--deploy-mode',
      'client',
      '--name',
      'als train',
      ...Object.entries(conf).flatMap(([key, value]) => ['--conf', `${key}=${value}`]),
      SPARK_JOB,
      ...args,
    ];
    callbacks.onStage?.('start');
    const end = await runJob(sparkSubmit, submit, log, sparkOptions, (stage) => callbacks.onStage?.(stage));
    if (end.code !== 0 || end.timedOut) {
      keep = true;
      throw await jobFailure(end, dir, log, input.file, sparkSubmit, sparkOptions.timeoutMs);
    }
    const result = readResult(dir);
    const { users, items, interactions } = result.stats;
    const f = resolved.factors;
    const userIds = await readNames(dir, 'user_ids.txt', users);
    const itemNames = await readNames(dir, 'item_names.txt', items);
    const f32 = (buffer: Buffer) =>
      new Float32Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.length));
    const userFactors = f32(await readOutput(dir, 'user_factors.f32', users * f * 4));
    const itemFactors = f32(await readOutput(dir, 'item_factors.f32', items * f * 4));
    checkFactors('user', userFactors, f, resolved, result.settings?.regParam);
    checkFactors('item', itemFactors, f, resolved, result.settings?.regParam);
    const pairBytes = await readOutput(dir, 'pairs.i32', interactions * 8);
    const pairs = new Int32Array(pairBytes.buffer.slice(pairBytes.byteOffset, pairBytes.byteOffset + pairBytes.length));
    const counts = f32(await readOutput(dir, 'counts.f32', interactions * 4));
    const userItems = buildMatrix(pairs, counts, users, items);
    const trainOptions = resolved;
    const s = result.stats;
    const stats: EngineReadStats = {
      file: input.file,
      format: input.format,
      header: s.header,
      rows: s.rows,
      used: s.used,
      skipped: s.skipped,
      skippedExamples: s.skippedExamples,
      zeroCounts: s.zeroCounts,
      duplicates: s.duplicates,
    };
    const trainedBy: TrainedBy = {
      engine: 'spark',
      master,
      sparkVersion: result.sparkVersion,
      applicationId: result.applicationId,
      settings: result.settings,
    };
    const model: AlsModel = {
      users,
      items,
      factors: f,
      userFactors,
      itemFactors,
      userIds,
      itemNames,
      userItems,
      itemUserCounts: columnCounts(userItems),
      options: trainOptions,
      input: {
        file: input.file,
        format: input.format,
        rows: s.rows,
        used: s.used,
        skipped: s.skipped,
        zeroCounts: s.zeroCounts,
        duplicates: s.duplicates,
        header: s.header,
      },
      losses: null,
      trainedBy,
    };
    const total = (performance.now() - started) / 1000;
    const read = Number.isFinite(result.seconds?.read) ? result.seconds.read : 0;
    return { model, stats, seconds: { read, train: Math.max(0, total - read), total } };
  } finally {
    if (keep) await removeAllBut(dir, 'spark.log');
    else if (!sparkOptions.keepDirectory) await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Removes the job's output from its private directory, keeping the log the message names. */
async function removeAllBut(dir: string, keep: string): Promise<void> {
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (name !== keep) await fs.rm(join(dir, name), { recursive: true, force: true });
  }
}

/** The Spark engine with fixed Spark options, as a TrainingEngine. */
export function sparkEngine(sparkOptions: SparkOptions = {}): TrainingEngine {
  return {
    name: 'spark',
    train: (input, options, callbacks) => trainWithSpark(input, options, sparkOptions, callbacks),
  };
}
