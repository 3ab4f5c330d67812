import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync, readlinkSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { AlsModel } from '../../src/model/model.js';
import { saveModel } from '../../src/model/save.js';
import { versionGeneration } from '../../src/model/store.js';
import { ALS_BIN, tempDir } from '../helpers.js';
import { sampleModel } from './fixtures.js';

let model: Promise<AlsModel> | null = null;

/** The sample model, loaded once per test process (saved again and again to make new versions). */
export function sharedSampleModel(): Promise<AlsModel> {
  model ??= sampleModel().then((m) => {
    // read every part now: a save reads them all, and the fixture's directory may go away
    void [m.userFactors, m.itemFactors, m.userIds, m.itemNames, m.itemUserCounts, m.userItems];
    return m;
  });
  return model;
}

/** A new model directory of its own holding the sample model (version v1). */
export async function freshModelDir(): Promise<string> {
  const dir = join(tempDir('als-reload-'), 'model');
  await saveModel(await sharedSampleModel(), dir);
  return dir;
}

/** Writes the sample model again into `dir` as a new version; its name. */
export async function writeNewVersion(dir: string): Promise<string> {
  await saveModel(await sharedSampleModel(), dir);
  return readlinkSync(join(dir, '.als', 'current'));
}

/**
 * Makes a new version of `dir` whose item_factors.f32 fails its checksum and switches
 * .als/current to it as a writer does (a link made beside it, renamed over). Its name.
 */
export function writeCorruptVersion(dir: string): string {
  const store = join(dir, '.als');
  const live = readlinkSync(join(store, 'current'));
  const name = `v${(versionGeneration(live) ?? 0) + 1}-${randomBytes(6).toString('hex')}`;
  cpSync(join(store, live), join(store, name), { recursive: true });
  const factors = join(store, name, 'item_factors.f32');
  const bytes = readFileSync(factors);
  bytes[0] ^= 0xff;
  writeFileSync(factors, bytes);
  const temp = join(store, `.current-${randomBytes(6).toString('hex')}`);
  symlinkSync(name, temp);
  renameSync(temp, join(store, 'current'));
  return name;
}

/** Resolves when `check()` is true (looked at every 10 ms), or rejects after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 5000, what = 'the condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** What a stream of requests saw. */
export interface StreamResult {
  statuses: Map<number, number>;
  /** versions in the answers, in the order first seen */
  versions: string[];
  failures: string[];
  requests: number;
}

/**
 * Sends GET `path` to `base` over `concurrency` keep-alive loops until stop() is called; every
 * answer's status and `version` recorded, every error (a reset, a timeout) a failure.
 */
export function requestStream(base: string, path: string, concurrency = 4): { stop(): Promise<StreamResult> } {
  const result: StreamResult = { statuses: new Map(), versions: [], failures: [], requests: 0 };
  let running = true;
  const loop = async () => {
    while (running) {
      result.requests++;
      try {
        const response = await fetch(base + path);
        const body = (await response.json()) as { version?: string };
        result.statuses.set(response.status, (result.statuses.get(response.status) ?? 0) + 1);
        if (response.status !== 200) result.failures.push(`${response.status} ${JSON.stringify(body)}`);
        if (body.version !== undefined && !result.versions.includes(body.version)) result.versions.push(body.version);
      } catch (error) {
        result.failures.push(String((error as Error).cause ?? error));
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return result;
    },
  };
}

/** A running `als serve` process: its JSON log lines so far, its stderr, and its address once listening. */
export interface ServeProcess {
  child: ChildProcessWithoutNullStreams;
  lines: Array<Record<string, unknown>>;
  stderr: () => string;
  /** http://127.0.0.1:PORT, once listening */
  url: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `als serve ARGS` (node options first, such as --import) and parses its stdout lines. */
export function startServe(
  args: string[],
  options: { nodeOptions?: string[]; env?: NodeJS.ProcessEnv } = {},
): ServeProcess {
  const child = spawn(process.execPath, [...(options.nodeOptions ?? []), ALS_BIN, 'serve', ...args], {
    env: { ...process.env, ALS_API_KEY: undefined, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  let listening: (url: string) => void;
  const url = new Promise<string>((resolve) => (listening = resolve));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const entry = JSON.parse(line) as Record<string, unknown>;
    lines.push(entry);
    if (entry.event === 'listening') listening(entry.url as string);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, lines, stderr: () => stderr, url, exited };
}

/** Prometheus text → `name{labels}` → value (comments left out). */
export function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match === null) throw new Error(`not a Prometheus sample line: ${line}`);
    values.set(match[1], Number(match[2]));
  }
  return values;
}
