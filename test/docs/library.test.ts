import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, tempDir } from '../helpers.js';
import { readDoc } from './markdown.js';

/** The ```js example of docs/library.md and the output shown under it (the next fenced block). */
function example(): { code: string; shown: string } {
  const page = readDoc('docs/library.md');
  const match = /```js\n([\s\S]*?)```[\s\S]*?```\n([\s\S]*?)```/.exec(page);
  assert.ok(match !== null, 'docs/library.md has no ```js block followed by its output');
  return { code: match[1], shown: match[2] };
}

describe('the JavaScript example of docs/library.md', () => {
  it("runs as another project would run it (import … from 'als') and prints what the page shows", () => {
    const { code, shown } = example();
    const work = tempDir('als-library-doc-');
    // a project of its own, where 'als' is this package, as `npm install /path/to/als` gives it
    mkdirSync(join(work, 'node_modules'));
    symlinkSync(ROOT, join(work, 'node_modules', 'als'));
    symlinkSync(join(ROOT, 'data'), join(work, 'data'));
    // the new-plays.tsv the page describes: user2 played Muse; a new user Portishead and Massive Attack
    writeFileSync(
      join(work, 'new-plays.tsv'),
      'user2\t\tMuse\t40\nnewcomer\t\tPortishead\t120\nnewcomer\t\tMassive Attack\t95\n',
    );
    writeFileSync(join(work, 'example.mjs'), code);
    const run = spawnSync(process.execPath, ['example.mjs'], { cwd: work, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    // console.error writes the last line: stdout and then stderr, as the page shows them
    assert.equal(`${run.stdout}${run.stderr}`, shown);
  });
});
