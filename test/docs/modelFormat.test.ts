import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadModel, readInteractions, recommendItems, saveModel, train } from '../../src/index.js';
import { SAMPLE, tempDir } from '../helpers.js';
import { readDoc } from './markdown.js';

/** The python snippet of docs/model-format.md and the output shown under it (the next fenced block). */
function snippet(): { code: string; shown: string } {
  const page = readDoc('docs/model-format.md');
  const match = /```python\n([\s\S]*?)```[\s\S]*?```\n([\s\S]*?)```/.exec(page);
  assert.ok(match !== null, 'docs/model-format.md has no ```python block followed by its output');
  return { code: match[1], shown: match[2] };
}

function pythonMissing(): string | null {
  const probe = spawnSync('python3', ['-c', 'import numpy, pandas'], { encoding: 'utf8' });
  if (probe.error !== undefined) return 'python3 is not installed';
  if (probe.status !== 0) return `python3 cannot import numpy and pandas (${probe.stderr.trim().split('\n').at(-1)})`;
  return null;
}

describe('the numpy/pandas snippet of docs/model-format.md', () => {
  it('prints what the page shows, and what als itself computes, on a model of the sample', async (t) => {
    const missing = pythonMissing();
    // CI installs them (.ci/run): there the snippet must run
    if (missing !== null && process.env.CI === 'true')
      throw new Error(`CI=true and the snippet of docs/model-format.md cannot run: ${missing}`);
    if (missing !== null) {
      t.skip(
        `${missing}: the snippet of docs/model-format.md is not run (apt-get install python3-numpy python3-pandas)`,
      );
      return;
    }
    const { code, shown } = snippet();
    const dir = tempDir('als-model-format-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const data = await readInteractions(SAMPLE);
    await saveModel(await train(data), join(dir, 'als-model'));

    const run = spawnSync('python3', ['-'], { cwd: dir, input: code, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, shown);

    // the numbers are als's own: entries and plays of the matrix, user2's recommendations
    const model = loadModel(join(dir, 'als-model'));
    const [counts, , ...top] = run.stdout.trimEnd().split('\n');
    let plays = 0;
    for (const value of model.userItems.data) plays += value;
    assert.equal(counts, `${model.userItems.data.length} entries, ${plays} plays`);
    const { recommendations } = recommendItems(model, 'user2', { count: 3 });
    assert.deepEqual(
      top.map((line) => line.split('\t')[0]),
      recommendations.map((r) => r.name),
    );
    top.forEach((line, n) =>
      assert.ok(
        Math.abs(Number(line.split('\t')[1]) - recommendations[n].raw) < 5e-5,
        `${line} against raw ${recommendations[n].raw}`,
      ),
    );
  });
});
