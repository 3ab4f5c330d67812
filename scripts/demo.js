#!/usr/bin/env node
// The demo: train on the sample in data/ (into ./als-model), then ask for similar artists and
// recommendations, through the real CLI so that what you see is what `als` prints.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const als = join(root, 'bin', 'als.js');

function run(...args) {
  console.log(`\n$ als ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
  const result = spawnSync(process.execPath, [als, ...args], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

run('train', join('data', 'lastfm-2k.tsv'));
run('similar', 'jay-z');
run('similar', 'radiohead', '-n', '5');
run('recommend', '--user', 'user2');

// the same model over HTTP, with a page to explore it
console.log(`
Serve the model (JSON API and a web page):
  node bin/als.js serve              # (or: npm run als -- serve; Ctrl-C stops it)
  then open http://127.0.0.1:8080/   (API: curl 'http://127.0.0.1:8080/api/similar/radiohead?n=5')`);
