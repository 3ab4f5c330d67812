import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_ENGINE, ENGINES, type EngineName } from '../engines/engine.js';
import { SparkNotFound } from '../engines/spark/locate.js';
import { DEFAULT_MASTER, type SparkOptions } from '../engines/spark/sparkEngine.js';
import { AlsError } from '../errors.js';
import { wholeNumber } from './parse.js';
import type { TrainCliOptions } from './trainOptions.js';

/** The engine options of `train` and `evaluate`. */
export interface EngineCliOptions {
  engine: EngineName;
  master?: string;
  sparkSubmit?: string;
  sparkConf?: Record<string, string>;
  sparkTimeout?: number;
}

/** Commander's collector of repeated --spark-conf KEY=VALUE. */
function sparkConf(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const equals = value.indexOf('=');
  if (equals <= 0) throw new InvalidArgumentError('expected KEY=VALUE, e.g. spark.executor.memory=4g.');
  return { ...previous, [value.slice(0, equals).trim()]: value.slice(equals + 1) };
}

/** Adds --engine, --master, --spark-submit, --spark-conf and --spark-timeout to `command`. */
export function addEngineOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--engine <engine>',
        "who trains: builtin = this process (WebAssembly kernels), spark = a Spark job with Spark MLlib's ALS (docs/spark.md)",
      )
        .choices(ENGINES)
        .default(DEFAULT_ENGINE),
    )
    .option(
      '--master <url>',
      `with --engine spark: where Spark runs: local[N], local[*], spark://HOST:PORT, yarn, k8s://URL (default: ${DEFAULT_MASTER})`,
    )
    .option(
      '--spark-submit <path>',
      'with --engine spark: the spark-submit to run (default: $SPARK_HOME/bin/spark-submit, else the one on PATH)',
    )
    .option(
      '--spark-conf <key=value>',
      'with --engine spark: a Spark setting, e.g. spark.executor.memory=4g (repeatable)',
      sparkConf,
    )
    .option(
      '--spark-timeout <seconds>',
      'with --engine spark: stop the job and fail after this many seconds (default: no limit)',
      wholeNumber,
    );
}

/** The options of the built-in solver that Spark's ALS has no use for. */
const BUILTIN_ONLY = { solver: '--solver', cgSteps: '--cg-steps', threads: '--threads' } as const;

/**
 * The Spark options of the command line; refuses Spark options without --engine spark and
 * built-in-only options with it (one line naming the option).
 */
export function sparkOptionsFrom(cli: EngineCliOptions & TrainCliOptions & { loss?: boolean }): SparkOptions | null {
  const sparkFlags = {
    master: '--master',
    sparkSubmit: '--spark-submit',
    sparkConf: '--spark-conf',
    sparkTimeout: '--spark-timeout',
  } as const;
  if (cli.engine !== 'spark') {
    for (const [key, flag] of Object.entries(sparkFlags)) {
      if (cli[key as keyof typeof sparkFlags] !== undefined)
        throw new AlsError('usage', `${flag} is an option of --engine spark`);
    }
    return null;
  }
  for (const [key, flag] of Object.entries(BUILTIN_ONLY)) {
    if (cli[key as keyof typeof BUILTIN_ONLY] !== undefined) {
      throw new AlsError(
        'usage',
        `${flag} is an option of the built-in engine: Spark's ALS solves every row exactly with its own solver, on its executors' cores`,
      );
    }
  }
  if (cli.loss)
    throw new AlsError(
      'usage',
      '--loss is an option of the built-in engine: Spark does not report the loss of its iterations',
    );
  return {
    master: cli.master,
    sparkSubmit: cli.sparkSubmit,
    conf: cli.sparkConf,
    timeoutMs: cli.sparkTimeout === undefined ? undefined : cli.sparkTimeout * 1000,
  };
}

/** A SparkNotFound with the hint of the command line; other errors as they are. */
export function withSparkHint(error: unknown): unknown {
  if (error instanceof SparkNotFound) {
    return new AlsError('usage', `${error.message}; install Spark (pip install pyspark) or give --spark-submit PATH`);
  }
  return error;
}
