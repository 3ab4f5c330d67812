import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers.js';

describe('the examples of README.md and docs/*.md', () => {
  it('run, and print what the documentation shows (scripts/readme-examples.js --check)', (t) => {
    // the serving examples ask the server with curl; CI installs it (.ci/run)
    if (spawnSync('curl', ['--version']).error !== undefined) {
      if (process.env.CI === 'true')
        throw new Error('CI=true and curl is not installed: the examples of docs/serving.md cannot run');
      t.skip('curl is not installed: the examples are not run (apt-get install curl)');
      return;
    }
    const run = spawnSync(process.execPath, [join(ROOT, 'scripts', 'readme-examples.js'), '--check'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(
      run.status,
      0,
      `${run.stderr}\n(node scripts/readme-examples.js, without --check, writes the current output into the files)`,
    );
    assert.match(run.stderr, /^0 example\(s\) differ, 0 failed$/m);
  });
});
