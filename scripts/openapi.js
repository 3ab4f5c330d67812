#!/usr/bin/env node
// Writes docs/openapi.json: the OpenAPI document of `als serve` as the app generates it from its
// route schemas (run `npx tsc -p .` first). test/serve/openapi.test.ts checks the file is up to date.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from '../dist/src/serve/openapi.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'docs', 'openapi.json');
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, `${JSON.stringify(await openApiDocument(), null, 2)}\n`);
console.log(`wrote ${target}`);
