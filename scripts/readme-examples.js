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
// than timings.
import { spawnSync } from 'node:child_process';
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
// files the examples read that no example writes
writeFileSync(
  join(work, 'new-plays.tsv'),
  ['user2\t\tPet Shop Boys\t310', 'user2\t\tErasure\t45', 'newcomer\t\tRadiohead\t420', 'newcomer\t\tPortishead\t120', 'newcomer\t\tMassive Attack\t95', 'newcomer\t\tBurial\t60', 'newcomer\t\tMy New Band\t12', ''].join('\n'),
);

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
  // an example: its old output runs to the next "$ " line or the end of the block
  const old = [];
  while (n + 1 < lines.length && !lines[n + 1].startsWith('$ ') && !lines[n + 1].startsWith('```')) old.push(lines[++n]);
  const command = line.slice(2);
  const result = spawnSync('bash', ['-c', `${command} 2>&1`], {
    cwd: work,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${binDir}:${process.env.PATH}`, NO_COLOR: '1', FORCE_COLOR: undefined },
  });
  const fresh = result.stdout.replace(/\n$/, '').split('\n');
  if (result.status !== 0 && !old.some((l) => l.startsWith('als: '))) {
    process.stderr.write(`README line ${n + 1}: \`${command}\` exited ${result.status}:\n${result.stdout}\n`);
  }
  const withoutTimes = (text) => text.replace(/\d+(\.\d+)? (s|ms)\b/g, 'T').replace(/\d\d:\d\d:\d\d/g, 'T');
  if (withoutTimes(fresh.join('\n')) !== withoutTimes(old.join('\n'))) {
    changed++;
    process.stderr.write(`changed: $ ${command}\n`);
  }
  out.push(line, ...fresh);
}
if (check) {
  process.stderr.write(`${changed} example(s) differ\n`);
  process.exit(changed > 0 ? 1 : 0);
}
writeFileSync(readmePath, out.join('\n'));
process.stderr.write(`${changed} example(s) updated (scratch directory ${work})\n`);
