#!/usr/bin/env node
// Runs every example in README.md and docs/*.md and puts what it prints under it, so that the
// documentation shows real output of the current code. An example is a line "$ command" inside
// a ``` block; its output is every line up to the next "$ " line or the end of the block. Each
// file's examples run one after another, in file order, in a scratch directory of their own
// where `data/` is the repository's, `./als-model` is a copy of one model of the sample trained
// with the defaults (trained once for all files), `new-plays.tsv` is the file the update
// examples read, and `als` is this checkout's CLI; stderr is shown with stdout, as on a terminal.
//
//   npm run build && node scripts/readme-examples.js [--check] [--times] [FILE.md …]
//
// Without FILE arguments it runs README.md and every docs/*.md. --check changes nothing and
// exits 1 when an example's output differs from the documentation in more than timings, model
// versions (their names hold a random part), scratch paths and the machine's thread count, or
// when an example fails that does not show an `als:` error; it prints each difference.
// --times prints how long each example took.
//
// The `curl` examples ask `als serve`, started in the file's scratch directory before the first
// of them, on a copy of the same model (`served-model`), and stopped at the end of the file. It
// listens on a free port; the examples say 8080, and the port is swapped both ways.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const check = args.includes('--check');
const named = args.filter((a) => !a.startsWith('--'));
const files =
  named.length > 0
    ? named.map((f) => join(process.cwd(), f))
    : [
        join(root, 'README.md'),
        ...readdirSync(join(root, 'docs'))
          .filter((f) => f.endsWith('.md'))
          .sort()
          .map((f) => join(root, 'docs', f)),
      ];
const als = join(root, 'bin', 'als.js');
const scratch = mkdtempSync(join(tmpdir(), 'als-docs-'));

// the model every file starts from: the sample with the defaults
const base = join(scratch, 'base');
spawnSync('mkdir', [base]);
symlinkSync(join(root, 'data'), join(base, 'data'));
const trained = spawnSync(process.execPath, [als, 'train', 'data/lastfm-2k.tsv', '-q'], {
  cwd: base,
  encoding: 'utf8',
});
if (trained.status !== 0) throw new Error(`training the base model failed:\n${trained.stderr}`);

/** A scratch directory for one file: data/, ./als-model, new-plays.tsv, `als` and curl's settings. */
function workDirectory(name) {
  const work = join(scratch, name.replace(/[^\w.-]/g, '_'));
  spawnSync('mkdir', [work]);
  symlinkSync(join(root, 'data'), join(work, 'data'));
  spawnSync('cp', ['-a', join(base, 'als-model'), join(work, 'als-model')]);
  const binDir = join(work, '.bin');
  spawnSync('mkdir', [binDir]);
  writeFileSync(join(binDir, 'als'), `#!/bin/sh\nexec "${process.execPath}" "${als}" "$@"\n`, { mode: 0o755 });
  // curl as on a terminal: no progress meter (it shows one when its output is not a terminal)
  writeFileSync(join(work, '.curlrc'), '--silent\n--show-error\n');
  writeFileSync(
    join(work, 'new-plays.tsv'),
    [
      'user2\t\tPet Shop Boys\t310',
      'user2\t\tErasure\t45',
      'newcomer\t\tRadiohead\t420',
      'newcomer\t\tPortishead\t120',
      'newcomer\t\tMassive Attack\t95',
      'newcomer\t\tBurial\t60',
      'newcomer\t\tMy New Band\t12',
      '',
    ].join('\n'),
  );
  return { work, binDir };
}

// a server is stopped at the end of its file, or when this script ends early
const servers = new Set();
process.on('exit', () => {
  for (const server of servers) server.kill();
});

/** `als serve` on a copy of the base model in `work`, ready to answer; resolves to its port. */
async function startServer(work) {
  spawnSync('cp', ['-a', join(base, 'als-model'), join(work, 'served-model')]);
  const server = spawn(process.execPath, [als, 'serve', '--model', 'served-model', '--port', '0'], {
    cwd: work,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  servers.add(server);
  const port = await new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`als serve did not start within 60 s:\n${text}`)), 60_000);
    server.stderr.setEncoding('utf8');
    server.stderr.on('data', (chunk) => {
      text += chunk;
      const match = /http:\/\/127\.0\.0\.1:(\d+)/.exec(text);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    server.on('exit', (code) => reject(new Error(`als serve exited with ${code}:\n${text}`)));
  });
  server.stderr.resume();
  return { server, port };
}

/** Output with what changes from run to run (and machine to machine) replaced by placeholders. */
function withoutTimes(text) {
  return (
    text
      .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'T')
      .replace(/\d+(\.\d+)? (s|ms)\b/g, 'T')
      .replace(/\d\d:\d\d:\d\d/g, 'T')
      .replace(/\bv\d+-[0-9a-f]{12}\b/g, 'V')
      .replace(/\d{4}-\d\d-\d\d T\b/g, 'T')
      .replace(/\/tmp\/[\w.-]+\/([\w.-]+\/)*/g, '/tmp/X/')
      .replace(/(als_model_loaded_timestamp_seconds\{[^}]*\}) [\d.]+/g, '$1 T')
      .replace(/"(read|train|save|update)":[\d.e-]+/g, '"$1":T')
      .replace(/"threads":\d+/g, '"threads":N')
      // a trial line of `als tune`: its last number is the seconds it took
      .replace(/^( +\d+ +(linear|log|bm25) .*?) +\d+\.\d\d( +best)?$/gm, '$1 T$3')
      // timings.json holds the times: its size, the model's total and its rounding move with them
      .replace(/("name":"timings\.json","bytes":)\d+/g, '$1N')
      .replace(/"totalBytes":\d+/g, '"totalBytes":N')
      .replace(/^( +timings\.json +)\d+ B$/gm, '$1N B')
      .replace(/^( +total +)[\d.]+ (K|M)?B$/gm, '$1N B')
  );
}

const times = args.includes('--times');
let changed = 0;
let failed = 0;
for (const path of files) {
  const name = relative(root, path);
  const { work, binDir } = workDirectory(name);
  const lines = readFileSync(path, 'utf8').split('\n');
  const out = [];
  let inBlock = false;
  let served = null;
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (line.startsWith('```')) {
      inBlock = !inBlock;
      out.push(line);
      continue;
    }
    if (!inBlock || !line.startsWith('$ ')) {
      out.push(line);
      continue;
    }
    // an example: a command, continued on the next lines while one ends with a backslash; its old
    // output runs to the next "$ " line or the end of the block
    const commandLines = [line];
    const at = n + 1;
    while (commandLines.at(-1).endsWith('\\') && n + 1 < lines.length) commandLines.push(lines[++n]);
    const old = [];
    while (n + 1 < lines.length && !lines[n + 1].startsWith('$ ') && !lines[n + 1].startsWith('```'))
      old.push(lines[++n]);
    let command = commandLines.join('\n').slice(2);
    if (served === null && command.startsWith('curl ')) served = await startServer(work);
    if (served !== null) command = command.replaceAll('127.0.0.1:8080', `127.0.0.1:${served.port}`);
    const started = performance.now();
    const result = spawnSync('bash', ['-c', `${command} 2>&1`], {
      cwd: work,
      encoding: 'utf8',
      env: {
        ...process.env,
        PATH: `${binDir}:${process.env.PATH}`,
        NO_COLOR: '1',
        FORCE_COLOR: undefined,
        CURL_HOME: work,
      },
    });
    if (times)
      process.stderr.write(
        `${((performance.now() - started) / 1000).toFixed(1)} s  ${name}:${at}: ${commandLines[0].slice(2)}\n`,
      );
    let text = result.stdout.replace(/\n$/, '');
    if (served !== null) text = text.replaceAll(`127.0.0.1:${served.port}`, '127.0.0.1:8080');
    const fresh = text.split('\n');
    if (result.status !== 0 && !old.some((l) => l.startsWith('als: '))) {
      failed++;
      process.stderr.write(
        `${name}:${at}: \`${commandLines.join('\n').slice(2)}\` exited ${result.status}:\n${result.stdout}\n`,
      );
    }
    const before = withoutTimes(old.join('\n')).split('\n');
    const after = withoutTimes(fresh.join('\n')).split('\n');
    if (before.join('\n') !== after.join('\n')) {
      changed++;
      const k = before.findIndex((l, i) => l !== after[i]);
      const first = k === -1 ? before.length : k;
      process.stderr.write(
        `changed: ${name}:${at}: $ ${commandLines.join('\n').slice(2)}\n  line ${first + 1} was: ${before[first] ?? '(nothing)'}\n  line ${first + 1} now: ${after[first] ?? '(nothing)'}\n`,
      );
    }
    out.push(...commandLines, ...fresh);
  }
  if (served !== null) {
    served.server.kill();
    servers.delete(served.server);
  }
  if (!check) writeFileSync(path, out.join('\n'));
}
if (check) {
  const bad = changed > 0 || failed > 0;
  // a passing check leaves nothing behind; a failing one keeps the scratch directory to look at
  if (!bad) {
    for (const server of servers) server.kill();
    rmSync(scratch, { recursive: true, force: true });
  }
  process.stderr.write(
    `${changed} example(s) differ, ${failed} failed${bad ? ` (scratch directory ${scratch})` : ''}\n`,
  );
  process.exit(bad ? 1 : 0);
}
process.stderr.write(`${changed} example(s) updated, ${failed} failed (scratch directory ${scratch})\n`);
