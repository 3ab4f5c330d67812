// An earlier revision of als, built beside this one, so that a speed-up is measured against it in
// the same run (`npm run bench -- --baseline REV`): bench/data/baseline-REV holds `git archive REV`
// built with this checkout's node_modules, made once and reused.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

/** bin/als.js of revision `rev`, built in dataDir; throws when git cannot find the revision. */
export function baselineBuild(root, dataDir, rev, log) {
  const commit = execFileSync('git', ['rev-parse', '--verify', `${rev}^{commit}`], {
    cwd: root,
    encoding: 'utf8',
  }).trim();
  const dir = join(dataDir, `baseline-${commit.slice(0, 12)}`);
  const bin = join(dir, 'bin', 'als.js');
  if (existsSync(join(dir, 'dist', 'src', 'cli', 'main.js'))) return { bin, commit };
  log(`baseline: building ${commit.slice(0, 12)} in ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C "$1"`, 'sh', dir], { cwd: root });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  const built = spawnSync('npm', ['run', 'build'], { cwd: dir, encoding: 'utf8' });
  if (built.status !== 0)
    throw new Error(`baseline ${commit.slice(0, 12)} did not build: ${built.stderr.slice(-2000)}`);
  return { bin, commit };
}
