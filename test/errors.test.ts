import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { foldInUserRow } from '../src/als/foldIn.js';
import { train } from '../src/als/train.js';
import { CLI_WORDING, cliMessage } from '../src/cli/errorHints.js';
import { readInteractions } from '../src/data/read.js';
import { AlsError } from '../src/errors.js';
import { loadModel } from '../src/model/load.js';
import { lockModel } from '../src/model/lock.js';
import { Explainer } from '../src/query/explain.js';
import { recommendForList } from '../src/query/listened.js';
import { findItem } from '../src/query/lookup.js';
import { plantedGroups, ROOT, tempDir } from './helpers.js';

/**
 * Issue 15: the core (everything outside src/cli and src/serve) words its errors for the caller
 * of the library: the API field and the bad value, never a CLI flag. Each front end adds its own
 * hint: the CLI maps AlsError.field to its flag (src/cli/errorHints.ts), so that the CLI still
 * prints what it printed before.
 */

/** String literals of the core that are not messages: command lines als hands to other programs. */
const NOT_MESSAGES: Record<string, RegExp> = {
  // spark-submit's options and those of spark/als_train.py, which the Spark engine runs
  'src/engines/spark/sparkEngine.ts': /^--[a-z][a-z0-9-]*$/,
  // a V8 flag, set to compile the relaxed-SIMD build on Node 20
  'src/kernels/wasm.ts': /^--experimental-wasm-relaxed-simd$/,
};

/** Every .ts file of the core: src/ without src/cli, src/serve and the AssemblyScript. */
function coreFiles(dir = join(ROOT, 'src')): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const rel = relative(ROOT, path);
    if (entry.isDirectory()) {
      if (!['src/cli', 'src/serve', 'src/kernels/assembly'].includes(rel)) files.push(...coreFiles(path));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

/** The text of every string literal and template part of `file` (comments are not literals). */
function literals(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node)) found.push(node.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

async function thrown(call: () => unknown): Promise<AlsError> {
  try {
    await call();
  } catch (error) {
    assert.ok(error instanceof AlsError, `${String(error)} is not an AlsError`);
    return error;
  }
  assert.fail('no error');
}

describe('error messages: the core names API fields, the CLI its flags (issue 15)', () => {
  it('no string of the core names a CLI flag (--something), but the command lines it runs', () => {
    const files = coreFiles();
    assert.ok(files.length > 50, `only ${files.length} core files found`);
    const flags: string[] = [];
    for (const file of files) {
      const rel = relative(ROOT, file);
      for (const text of literals(file)) {
        if (/(^|[^-\w])--[a-z]/.test(text) && !NOT_MESSAGES[rel]?.test(text))
          flags.push(`${rel}: ${JSON.stringify(text)}`);
      }
    }
    assert.deepEqual(flags, []);
  });

  it('a bad row under strict: the core names strict, the CLI --strict', async () => {
    const dir = tempDir('als-errors-');
    const file = join(dir, 'plays.tsv');
    writeFileSync(file, 'u1\t\tgood\t1\nu1\t\tbad\t1.5.2\n');
    const error = await thrown(() => readInteractions(file, { strict: true }));
    assert.equal(error.code, 'input');
    assert.equal(error.field, 'strict');
    assert.match(error.message, /^plays\.tsv, line 2: .* \(strict: true stops at the first bad row\)$/);
    assert.match(cliMessage(error), /^plays\.tsv, line 2: .* \(--strict stops at the first bad row\)$/);
  });

  it('no model in a directory: the core names dir, the CLI the command that trains one', async () => {
    const dir = join(tempDir('als-errors-'), 'none');
    for (const call of [() => loadModel(dir), () => lockModel(dir)]) {
      const error = await thrown(call);
      assert.equal(error.code, 'model');
      assert.equal(error.field, 'dir');
      assert.equal(error.message, `no model in ${dir} (saveModel writes one)`);
      assert.equal(cliMessage(error), `no model in ${dir} (train one with: als train FILE --model ${dir})`);
    }
  });

  it("explaining a singular user's scores: the core names regularization, the CLI --lambda", async () => {
    const model = await train(plantedGroups(24, 3), { factors: 4, iterations: 2, threads: 1 });
    const error = await thrown(() => new Explainer(model, { ...foldInUserRow(model, 0), cholesky: null }));
    assert.equal(error.code, 'usage');
    assert.equal(error.field, 'regularization');
    assert.match(error.message, /; train with regularization above 0$/);
    assert.match(cliMessage(error), /; train with --lambda above 0$/);
  });

  it('an unknown item: the core says item, the CLI "artist or item" (Last.fm words in CLI text only)', async () => {
    const error = await thrown(() => findItem(['Radiohead', 'Muse'], 'radiohed'));
    assert.equal(error.code, 'not-found');
    assert.equal(error.field, 'name');
    assert.equal(error.message, 'no item named "radiohed" in the model; did you mean "Radiohead"?');
    assert.equal(cliMessage(error), 'no artist or item named "radiohed" in the model; did you mean "Radiohead"?');
    const model = await train(plantedGroups(24, 3), { factors: 4, iterations: 2, threads: 1 });
    const none = await thrown(() => recommendForList(model, [{ name: 'x' }, { name: 'y' }]));
    assert.equal(none.field, 'list');
    assert.doesNotMatch(none.message, /artist/);
    assert.match(cliMessage(none), /^none of the listed items is in the model \(no artist or item named "x"/);
  });

  it('an argument out of range names its field in the message and in AlsError.field', async () => {
    const model = await train(plantedGroups(24, 3), { factors: 4, iterations: 2, threads: 1 });
    const error = await thrown(() => foldInUserRow(model, 24));
    assert.equal(error.code, 'usage');
    assert.equal(error.field, 'userRow');
    assert.equal(error.message, 'userRow must be a row from 0 to 23, not 24');
  });

  it("the CLI's table rewrites only the messages it knows, and leaves an error without a field as it is", () => {
    for (const field of Object.keys(CLI_WORDING)) {
      const other = new AlsError('usage', `${field} must be a thing, not 3`, { field });
      assert.equal(cliMessage(other), other.message, field);
    }
    assert.equal(cliMessage(new AlsError('usage', 'x must be 1, not 2')), 'x must be 1, not 2');
    assert.equal(cliMessage(new AlsError('usage', 'odd', { field: 'constructor' })), 'odd');
  });
});
