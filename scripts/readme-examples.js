#!/usr/bin/env node
// Runs every example in README.md and puts what it prints under it, so that the README shows
// real output of the current code. An example is a line "$ command" inside a ``` block; its
// output is every line up to the next "$ " line or the end of the block. The commands run one
// after another, in README order, in a scratch directory where `data/` is the repository's and
// `als` is this checkout's CLI; stderr is shown with stdout, as on a terminal.
//
//   npm run build && node scripts/readme-examples.js [--check]
//
// --check changes nothing and exits 1 when an example's output differs from the README in more
// than timings and model versions (their names hold a random part).
//
// The `curl` examples of "Serving" ask `als serve`, started here in the scratch directory on
// port 8080 before the first of them (on a model of the sample trained with the defaults, as the
// section starts it), and stopped at the end.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const readmePath = join(root, 'README.md');
const check = process.argv.includes('--check');
const work = mkdtempSync(join(tmpdir(), 'als-readme-'));
symlinkSync(join(root, 'data'), join(work, 'data'));
// `als` in the examples is this checkout's CLI
const binDir = join(work, '.bin');
spawnSync('mkdir', [binDir]);
writeFileSync(join(binDir, 'als'), `#!/bin/sh\nexec "${process.execPath}" "${join(root, 'bin', 'als.js')}" "$@"\n`, { mode: 0o755 });
// curl as on a terminal: no progress meter (it shows one when its output is not a terminal)
writeFileSync(join(work, '.curlrc'), '--silent\n--show-error\n');
// files the examples read that no example writes
writeFileSync(
  join(work, 'new-plays.tsv'),
  ['user2\t\tPet Shop Boys\t310', 'user2\t\tErasure\t45', 'newcomer\t\tRadiohead\t420', 'newcomer\t\tPortishead\t120', 'newcomer\t\tMassive Attack\t95', 'newcomer\t\tBurial\t60', 'newcomer\t\tMy New Band\t12', ''].join('\n'),
);

/** `als serve` in the scratch directory, ready to answer (on port 8080, as the examples ask). */
let server = null;
function startServer() {
  // as "Serving" starts it: a model trained on the sample with the defaults (its own directory:
  // the examples before have updated ./als-model)
  spawnSync(process.execPath, [join(root, 'bin', 'als.js'), 'train', 'data/lastfm-2k.tsv', '--model', 'served-model', '-q'], { cwd: work, stdio: 'ignore' });
  server = spawn(process.execPath, [join(root, 'bin', 'als.js'), 'serve', '--model', 'served-model', '--port', '8080', '-q'], { cwd: work, stdio: 'ignore' });
  for (let tries = 0; tries < 300; tries++) {
    if (spawnSync('curl', ['-sf', 'http://127.0.0.1:8080/health/ready']).status === 0) return;
    spawnSync('sleep', ['0.1']);
  }
  throw new Error('als serve did not become ready on port 8080 within 30 s');
}

const lines = readFileSync(readmePath, 'utf8').split('\n');
const out = [];
let inBlock = false;
let changed = 0;
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
  while (commandLines.at(-1).endsWith('\\') && n + 1 < lines.length) commandLines.push(lines[++n]);
  const old = [];
  while (n + 1 < lines.length && !lines[n + 1].startsWith('$ ') && !lines[n + 1].startsWith('```')) old.push(lines[++n]);
  const command = commandLines.join('\n').slice(2);
  if (server === null && command.startsWith('curl ')) startServer();
  const result = spawnSync('bash', ['-c', `${command} 2>&1`], {
    cwd: work,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${binDir}:${process.env.PATH}`, NO_COLOR: '1', FORCE_COLOR: undefined, CURL_HOME: work },
  });
  const fresh = result.stdout.replace(/\n$/, '').split('\n');
  if (result.status !== 0 && !old.some((l) => l.startsWith('als: '))) {
    process.stderr.write(`README line ${n + 1}: \`${command}\` exited ${result.status}:\n${result.stdout}\n`);
  }
  const withoutTimes = (text) =>
    text
      .replace(/\d+(\.\d+)? (s|ms)\b/g, 'T')
      .replace(/\d\d:\d\d:\d\d/g, 'T')
      .replace(/\bv\d+-[0-9a-f]{12}\b/g, 'V')
      .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'T')
      .replace(/\d{4}-\d\d-\d\d T\b/g, 'T')
      .replace(/\/tmp\/[\w.-]+\//g, '/tmp/X/')
      .replace(/(als_model_loaded_timestamp_seconds\{[^}]*\}) [\d.]+/g, '$1 T')
      .replace(/"(read|train|save)":[\d.e-]+/g, '"$1":T');
  if (withoutTimes(fresh.join('\n')) !== withoutTimes(old.join('\n'))) {
    changed++;
    process.stderr.write(`changed: $ ${command}\n`);
  }
  out.push(...commandLines, ...fresh);
}
server?.kill();
if (check) {
  process.stderr.write(`${changed} example(s) differ\n`);
  process.exit(changed > 0 ? 1 : 0);
}
writeFileSync(readmePath, out.join('\n'));
process.stderr.write(`${changed} example(s) updated (scratch directory ${work})\n`);
