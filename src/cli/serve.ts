import { InvalidArgumentError, type Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { DestinationStream } from 'pino';
import { AlsError, describeErrno } from '../errors.js';
import type { ModelHolder } from '../serve/modelHolder.js';
import { DEFAULT_POLL_MS } from '../serve/watch.js';
import { shown } from './output.js';
import { addCommonOptions, wholeNumber, type CommonOptions } from './parse.js';

/** The environment variable that holds the API key when --api-key-file is not given. */
export const API_KEY_VARIABLE = 'ALS_API_KEY';
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;
/** an API key file holds one short line; anything larger is not one */
const MAX_KEY_FILE_BYTES = 4096;

interface ServeCliOptions extends CommonOptions {
  host: string;
  port: number;
  apiKeyFile?: string;
  cors?: string[];
  threads?: number;
  pollMs: number;
}

function port(value: string): number {
  const number = wholeNumber(value);
  if (number > 65535) throw new InvalidArgumentError('expected a port from 0 to 65535.');
  return number;
}

function threads(value: string): number {
  const number = wholeNumber(value);
  if (number < 1 || number > 1024) throw new InvalidArgumentError('expected a whole number from 1 to 1024.');
  return number;
}

function origins(value: string): string[] {
  const list = value
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  if (list.length === 0)
    throw new InvalidArgumentError('expected origins separated by commas, such as https://example.com, or *.');
  for (const origin of list) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin))
      throw new InvalidArgumentError(`"${origin}" is not an origin (scheme://host[:port], no path) or *.`);
  }
  return list;
}

export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .summary('answer similar items and recommendations over HTTP (JSON API, web page, metrics)')
    .description(
      'Load the model once and answer HTTP requests: similar items, recommendations for a user, for a ' +
        'list of items or for many users at once, item search, the model description, a web page at /, ' +
        '/health/live, /health/ready and /metrics (Prometheus). When train or update replaces the model ' +
        '(or on SIGHUP), the new model is loaded beside the old one and takes over without a failed ' +
        'request; a model that fails to load is logged and the old one keeps serving. SIGTERM or Ctrl-C ' +
        'stops accepting, finishes the requests in flight and exits 0. One JSON log line per request ' +
        'goes to standard output; the address goes to standard error.',
    )
    .option('--host <address>', 'address to listen on; 0.0.0.0 (or ::) opens the server to the network', DEFAULT_HOST)
    .option('--port <n>', 'port to listen on (0: any free port)', port, DEFAULT_PORT)
    .option(
      '--api-key-file <file>',
      `require the key in FILE (its first line) on the API and /metrics (not on /health/*, the page or /openapi.json), as "Authorization: Bearer KEY" or "x-api-key: KEY"; without it, the key in $${API_KEY_VARIABLE} if set, else no key`,
    )
    .option(
      '--cors <origins>',
      'let web pages from these origins call the API (comma-separated, such as https://example.com, or *); default: off',
      origins,
    )
    .option('--threads <n>', 'threads for scoring (default: every CPU)', threads)
    .option(
      '--poll-ms <n>',
      `milliseconds between looks at the model directory for a new version, besides file-system events (0: events only)`,
      wholeNumber,
      DEFAULT_POLL_MS,
    )
    .addHelpText(
      'after',
      `
Options --model, --quiet (no request lines, no address line) and --debug as for every command.

Examples:
  als serve                                  the model in ./als-model on http://127.0.0.1:${DEFAULT_PORT}
  als serve --model my-model --port 9000
  ${API_KEY_VARIABLE}=secret als serve               require "Authorization: Bearer secret"
  als serve --api-key-file /etc/als/key --host 0.0.0.0
  als serve --cors https://shop.example.com
  curl 'http://127.0.0.1:${DEFAULT_PORT}/api/similar/radiohead?n=5'
  kill -HUP $(pgrep -f "als serve")          load the model again now`,
    );
  addCommonOptions(command).action(runServe);
}

/**
 * The API key: the first line of `file` when given (a missing, unreadable or empty file is an
 * error, never a silently open server), else the environment variable, else none.
 *
 * @throws {AlsError} 'usage'
 */
export function readApiKey(file: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (file === undefined) {
    const key = env[API_KEY_VARIABLE]?.trim();
    if (env[API_KEY_VARIABLE] !== undefined && key === '')
      throw new AlsError('usage', `${API_KEY_VARIABLE} is set but empty; unset it for no key`);
    return key;
  }
  let text: string;
  try {
    const data = readFileSync(file);
    if (data.length > MAX_KEY_FILE_BYTES)
      throw new AlsError(
        'usage',
        `--api-key-file ${shown(file)} has ${data.length} bytes; an API key file holds one line`,
      );
    text = data.toString('utf8');
  } catch (error) {
    if (error instanceof AlsError) throw error;
    throw new AlsError('usage', `cannot read --api-key-file ${shown(file)}: ${describeErrno(error)}`);
  }
  const key = text.split(/\r?\n/, 1)[0].trim();
  if (key === '') throw new AlsError('usage', `--api-key-file ${shown(file)} holds no key on its first line`);
  return key;
}

/** "127.0.0.1:8080" or "[::1]:8080" */
function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A failed listen as one line. */
function listenError(error: unknown, host: string, port: number): AlsError | unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const where = hostPort(host, port);
  if (code === 'EADDRINUSE')
    return new AlsError(
      'usage',
      `cannot listen on ${where}: the port is in use (another server?); choose another with --port`,
    );
  if (code === 'EACCES')
    return new AlsError(
      'usage',
      `cannot listen on ${where}: not allowed (ports below 1024 need privileges); choose another with --port`,
    );
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new AlsError(
      'usage',
      `cannot listen on ${where}: ${shown(host)} is not an address of this machine (see --host)`,
    );
  }
  return error;
}

async function runServe(cli: ServeCliOptions): Promise<void> {
  const apiKey = readApiKey(cli.apiKeyFile);
  // the server's modules (fastify, pino, prom-client: ~100 ms) load only for this command, not for every als start
  const [{ pino }, { ModelHolder }, { buildApp }] = await Promise.all([
    import('pino'),
    import('../serve/modelHolder.js'),
    import('../serve/server.js'),
  ]);
  const holder = await ModelHolder.fromDirectory(cli.model, { threads: cli.threads, pollMs: cli.pollMs });
  // pino writes from its own buffer, off the request's path; flushed before exit
  const destination = pino.destination({ dest: 1, sync: false });
  let app: FastifyInstance;
  try {
    app = await buildApp({
      holder,
      apiKey,
      cors: cli.cors,
      threads: cli.threads,
      logRequests: !cli.quiet,
      logger: { level: 'info', stream: destination },
    });
  } catch (error) {
    holder.close();
    throw error;
  }
  // set by untilStopped; a hook cannot be added once the app listens
  const state = { stopping: false };
  app.addHook('onSend', async (_request, reply, payload) => {
    if (state.stopping) reply.header('connection', 'close');
    return payload;
  });
  try {
    await app.listen({ host: cli.host, port: cli.port });
  } catch (error) {
    await app.close();
    await flush(destination);
    throw listenError(error, cli.host, cli.port);
  }
  const address = app.server.address() as AddressInfo;
  const url = `http://${hostPort(address.address, address.port)}`;
  const served = holder.current;
  app.log.info(
    {
      event: 'listening',
      url,
      version: served?.version,
      users: served?.model.users,
      items: served?.model.items,
      auth: apiKey !== undefined,
    },
    'listening',
  );
  if (!cli.quiet && served !== null) {
    process.stderr.write(
      `als serve: ${url} — model ${served.version} (${served.model.users} users, ${served.model.items} items)\n`,
    );
  }
  await untilStopped(app, holder, state);
  await flush(destination);
}

/** After a stop signal, requests still running this long are cut (a second signal cuts them at once). */
const SHUTDOWN_GRACE_MS = 30_000;
/** How often connections that went idle during a shutdown are closed. */
const IDLE_SWEEP_MS = 50;

/**
 * Serves until SIGTERM or SIGINT, then stops accepting, lets the requests in flight finish and
 * closes. A keep-alive connection whose request finishes during the shutdown would otherwise
 * hold the close for the keep-alive timeout (72 s): responses sent meanwhile say
 * `Connection: close`, and connections that went idle are closed every IDLE_SWEEP_MS.
 */
function untilStopped(app: FastifyInstance, holder: ModelHolder, state: { stopping: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    const hangUp = () => {
      app.log.info({ event: 'signal', signal: 'SIGHUP' }, 'SIGHUP: loading the model again');
      void holder.reload({ force: true, reason: 'SIGHUP' });
    };
    const cut = (why: string) => {
      app.log.warn({ event: 'cut' }, `${why}: closing every connection now`);
      app.server.closeAllConnections();
    };
    const stop = (signal: NodeJS.Signals) => {
      if (state.stopping) return cut(`${signal} again`);
      state.stopping = true;
      app.log.info({ event: 'signal', signal }, `${signal}: finishing the requests in flight, then exiting`);
      const sweep = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS);
      const grace = setTimeout(() => cut(`still running after ${SHUTDOWN_GRACE_MS / 1000} s`), SHUTDOWN_GRACE_MS);
      app.close().then(() => {
        clearInterval(sweep);
        clearTimeout(grace);
        process.off('SIGHUP', hangUp);
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        app.log.info({ event: 'stopped' }, 'stopped');
        resolve();
      }, reject);
    };
    process.on('SIGHUP', hangUp);
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

function flush(destination: DestinationStream & { flush(cb: (error?: Error) => void): void }): Promise<void> {
  return new Promise((resolve) => {
    try {
      destination.flush(() => resolve());
    } catch {
      resolve();
    }
  });
}
