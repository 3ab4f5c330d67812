import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { AlsError } from '../../errors.js';

/** An executable regular file at `path`, or null. */
function executable(path: string): string | null {
  try {
    if (!statSync(path).isFile()) return null;
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return null;
  }
}

/** The first executable `name` on `PATH`, or null. */
function onPath(name: string, env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const found = executable(join(dir, name));
    if (found) return found;
  }
  return null;
}

/** Why a spark-submit cannot be found, told apart so that a front end can add its own hint. */
export class SparkNotFound extends AlsError {
  constructor(message: string) {
    super('usage', message);
  }
}

/**
 * The spark-submit to run: `given` (an executable file), else `$SPARK_HOME/bin/spark-submit`, else
 * the first on PATH.
 *
 * @throws {AlsError} 'usage' (a SparkNotFound) when there is none
 */
export function findSparkSubmit(given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (given !== undefined) {
    if (typeof given !== 'string' || given.length === 0)
      throw new AlsError('usage', 'sparkSubmit must be the path of spark-submit');
    const found = executable(given);
    if (!found) throw new SparkNotFound(`${given}: no such executable file (spark-submit)`);
    return found;
  }
  if (env.SPARK_HOME) {
    const found = executable(join(env.SPARK_HOME, 'bin', 'spark-submit'));
    if (found) return found;
    throw new SparkNotFound(
      `SPARK_HOME is ${env.SPARK_HOME}, but ${join(env.SPARK_HOME, 'bin', 'spark-submit')} is not an executable file`,
    );
  }
  const found = onPath('spark-submit', env);
  if (!found)
    throw new SparkNotFound('spark-submit was not found: SPARK_HOME is not set and no spark-submit is on PATH');
  return found;
}

/**
 * The java Spark will run: `$JAVA_HOME/bin/java` when JAVA_HOME is set (spark-class takes that
 * one), else the first on PATH. Checked before spark-submit runs, whose own words for a missing
 * Java are a shell error.
 *
 * @throws {AlsError} 'usage' when there is none
 */
export function findJava(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JAVA_HOME) {
    const java = join(env.JAVA_HOME, 'bin', 'java');
    const found = executable(java);
    if (found) return found;
    throw new AlsError(
      'usage',
      `Spark needs Java (17 or later): JAVA_HOME is ${env.JAVA_HOME}, but ${java} is not an executable file`,
    );
  }
  const found = onPath('java', env);
  if (!found)
    throw new AlsError(
      'usage',
      'Spark needs Java (17 or later), and none was found: JAVA_HOME is not set and no java is on PATH',
    );
  return found;
}
