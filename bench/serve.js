#!/usr/bin/env node
// The serving section of npm run bench: the query rate in process (no HTTP), single queries
// against batched ones, then the HTTP server in its own process under load from autocannon in a
// third (bench/loadClient.js; all share the machine's cores, so the in-process rate is reported
// beside it), and the server's memory against the model's size on disk.
//
// usage: node bench/serve.js --model DIR [--seconds S] [--threads N] [--block N] [--no-compact]
//        [--connections 1,8,64] [--skip-local]
//        (npm run bench -- --serve runs this section alone on bench/data/model-full)
// A route that is not there yet (404 "Route … not found") is skipped, and the output says so.
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (path) => join(root, 'dist', 'src', path);
const self = fileURLToPath(import.meta.url);
// the bench asks for the same names each run
const { seededRandom } = await import(dist('als/random.js'));

// --- the server process ----------------------------------------------------------------------
async function child({ model: dir, threads, block, compact }) {
  const { buildApp } = await import(dist('serve/server.js'));
  const { ModelHolder } = await import(dist('serve/modelHolder.js'));
  const started = performance.now();
  // as als serve holds it (the loaded model dropped once prepared), reloadable on request
  const holder = await ModelHolder.fromDirectory(dir, { threads, block, compact, watch: false });
  const loadSeconds = (performance.now() - started) / 1000;
  const app = await buildApp({ holder });
  await app.listen({ host: '127.0.0.1', port: 0 });
  // a replaced model's buffers are freed by a sweep after the collection, later on a busy machine:
  // collect a second apart until the array buffers stop shrinking (at most 8 times)
  const settle = async () => {
    let before = Infinity;
    for (let n = 0; n < 8; n++) {
      globalThis.gc?.();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const now = process.memoryUsage().arrayBuffers;
      if (now > before - 2 ** 20) break;
      before = now;
    }
    globalThis.gc?.();
  };
  const memory = () => {
    const usage = process.memoryUsage();
    const lease = holder.acquire();
    // the kernels' memory: a view of length 0 sees the whole of it
    const kernelBytes = lease.served.queries.kernels.float32(0).buffer.byteLength;
    lease.release();
    return {
      rss: usage.rss,
      peakRss: process.resourceUsage().maxRSS * 1024,
      heapUsed: usage.heapUsed,
      heapTotal: usage.heapTotal,
      arrayBuffers: usage.arrayBuffers,
      kernelBytes,
    };
  };
  process.on('message', (message) => {
    if (message === 'memory') void settle().then(() => process.send({ memory: memory() }));
    // CPU time of every thread of the server (the scoring worker included), in µs
    if (message === 'cpu') process.send({ cpu: process.cpuUsage() });
    // a reload of the same directory beside the live model, as SIGHUP does
    if (message === 'reload')
      void holder
        .reload({ force: true, reason: 'signal' })
        .then((outcome) =>
          process.send({ reload: { status: outcome.status, ms: outcome.ms, error: outcome.error?.message } }),
        );
    if (message === 'close') void app.close().then(() => process.exit(0));
  });
  // no collection forced before the load runs: after one, V8 collects the old generation every
  // second or two until its limit grows back (mark-compact pauses of 10-27 ms, measured), which
  // a server never made to collect does not; the memory is measured settled after the runs
  process.send({ port: app.server.address().port, loadSeconds, memory: memory() });
}

// --- in process --------------------------------------------------------------------------------
/**
 * Queries per second through ModelQueries: `inFlight` at a time (1: each alone, as a single
 * request; 64: gathered into blocks), for `seconds`.
 */
async function rate(ask, inFlight, seconds, cpu) {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const lane = async () => {
    while (performance.now() < until) {
      await ask();
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const used = process.cpuUsage(cpuBefore);
  cpu?.push((used.user + used.system) / 1000 / done);
  return done / ((performance.now() - started) / 1000);
}

async function inProcess(dir, { seconds, threads, block, compact, log }) {
  const { loadModel } = await import(dist('model/load.js'));
  const { prepareServing } = await import(dist('serve/queries.js'));
  const { DEFAULT_MIN_ITEM_USERS } = await import(dist('query/listeners.js'));
  // no cache: every query scored
  const { model, queries } = await prepareServing(loadModel(dir), { threads, block, compact, cacheItems: 0 });
  const pick = seededRandom(7);
  const f = model.factors;
  const { indptr, indices } = model.userItems;
  const similar = () =>
    queries.similarToRow(Math.floor(pick() * model.items), {
      count: 10,
      exclude: [],
      minItemUsers: DEFAULT_MIN_ITEM_USERS,
    });
  const recommend = () => {
    const u = Math.floor(pick() * model.users);
    return queries.recommendForVector(model.userFactors.subarray(u * f, u * f + f), {
      count: 10,
      exclude: indices.subarray(indptr[u], indptr[u + 1]),
    });
  };
  const rates = { similar: { 1: [], 64: [] }, recommend: { 1: [], 64: [] } };
  const cpu = { similar: { 1: [], 64: [] }, recommend: { 1: [], 64: [] } };
  // warm up, then alternate single and batched so that both see the same neighbours on the machine
  await rate(similar, 64, 0.3);
  await rate(recommend, 64, 0.3);
  for (let repeat = 0; repeat < 3; repeat++) {
    for (const inFlight of [1, 64]) {
      rates.similar[inFlight].push(await rate(similar, inFlight, seconds, cpu.similar[inFlight]));
      rates.recommend[inFlight].push(await rate(recommend, inFlight, seconds, cpu.recommend[inFlight]));
    }
  }
  queries.dispose();
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const result = {};
  for (const kind of ['similar', 'recommend']) {
    result[kind] = {
      single: median(rates[kind][1]),
      batched: median(rates[kind][64]),
      cpuSingle: median(cpu[kind][1]),
      cpuBatched: median(cpu[kind][64]),
    };
    log(
      `in process ${kind}: ${rates[kind][1].map((r) => r.toFixed(0)).join(', ')} /s single; ${rates[kind][64].map((r) => r.toFixed(0)).join(', ')} /s batched (64 in flight)`,
    );
  }
  return { ...result, model };
}

// --- over HTTP ------------------------------------------------------------------------------
function startServer(dir, threads, block, compact) {
  const server = fork(
    self,
    [
      '--child',
      '--model',
      dir,
      '--threads',
      String(threads),
      ...(block === undefined ? [] : ['--block', String(block)]),
      ...(compact ? [] : ['--no-compact']),
    ],
    {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const next = () =>
    new Promise((resolve, reject) => {
      const exited = (code) => reject(new Error(`the server exited (${code})`));
      server.once('exit', exited);
      server.once('message', (message) => (server.off('exit', exited), resolve(message)));
    });
  return { server, ready: next(), ask: (what) => (server.send(what), next()) };
}

/**
 * The load generator in its own process (bench/loadClient.js): `run(options)` resolves with
 * autocannon's summary and the generator's CPU time, `close()` ends it.
 */
async function startLoadClient() {
  const client = fork(join(root, 'bench', 'loadClient.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () =>
    new Promise((resolve, reject) => {
      const exited = (code) => reject(new Error(`the load generator exited (${code})`));
      client.once('exit', exited);
      client.once('message', (message) => (client.off('exit', exited), resolve(message)));
    });
  await next();
  return {
    run: async (options) => {
      client.send({ run: options });
      const answer = await next();
      if (answer.error !== undefined) throw new Error(`autocannon: ${answer.error}`);
      return answer;
    },
    close: () => client.send('close'),
  };
}

/** Whether the server has the route: fastify answers 404 "Route GET:/… not found" for one it lacks. */
async function hasRoute(url, init) {
  const response = await fetch(url, init);
  const body = await response.text();
  return !(response.status === 404 && /^Route \w+:\S+ not found/.test(JSON.parse(body).message ?? ''));
}

/**
 * Runs the serving section; `record(group, what, value, unit, target?)` as bench/run.js's,
 * `atLeast`/`atMost` its targets.
 */
export async function benchServe({
  modelDir,
  record,
  atLeast,
  atMost,
  log,
  seconds = 5,
  threads = availableParallelism(),
  quick = false,
  local = true,
  connections = [1, 8, 64],
  compact = true,
  block = undefined,
}) {
  const { loadModel, loadedVersion } = await import(dist('model/load.js'));
  const names = loadModel(modelDir);
  const diskBytes = Object.values(loadedVersion(names).sizes).reduce((a, b) => a + b, 0);
  const { itemNames, userIds, items, users } = names;

  local = local
    ? await inProcess(modelDir, { seconds: quick ? 0.5 : Math.min(2, seconds), threads, block, compact, log })
    : null;
  if (local) record('serve', `in process, similar: single queries (${threads} threads)`, local.similar.single, '/s');
  if (local) {
    record('serve', 'in process, similar: 64 in flight, batched', local.similar.batched, '/s');
    record('serve', 'in process, similar: batched vs single', local.similar.batched / local.similar.single, '×');
    record(
      'serve',
      'in process, similar: CPU per query, single / batched',
      `${local.similar.cpuSingle.toFixed(2)} / ${local.similar.cpuBatched.toFixed(2)}`,
      'ms',
    );
    record('serve', 'in process, recommend: single queries', local.recommend.single, '/s');
    record('serve', 'in process, recommend: 64 in flight, batched', local.recommend.batched, '/s');
    record('serve', 'in process, recommend: batched vs single', local.recommend.batched / local.recommend.single, '×');
    record(
      'serve',
      'in process, recommend: CPU per query, single / batched',
      `${local.recommend.cpuSingle.toFixed(2)} / ${local.recommend.cpuBatched.toFixed(2)}`,
      'ms',
    );
  }

  const { server, ready, ask } = startServer(modelDir, threads, block, compact);
  const client = await startLoadClient();
  try {
    const started = await ready;
    const base = `http://127.0.0.1:${started.port}`;
    record('serve', 'server: load and prepare the model', started.loadSeconds, 's');
    record('serve', 'server RSS once loaded (no collection forced)', started.memory.rss / 2 ** 20, 'MiB');
    record('serve', 'server peak RSS while loading', started.memory.peakRss / 2 ** 20, 'MiB');
    const pick = seededRandom(11);
    const name = (list) => encodeURIComponent(list[Math.floor(pick() * list.length)]);
    const duration = quick ? 1 : seconds;
    // the requests of a run made here, in order, and asked by the load generator (cycling): more
    // than any run asks at the rates seen (under 4,000 a second), and the last WARM_UP for the
    // second before it (other requests: answers cached then would flatter the run)
    const WARM_UP = 8000;
    const sequence = (make) => Array.from({ length: Math.ceil(duration * 8000) + WARM_UP }, make);
    const run = async (title, connections, request, target) => {
      const route = title.split(',')[0].split(' ').slice(0, 2);
      // a second of the same load first, not counted: new connections, a new block size and the
      // collections due from the last run settle (the first second after a change of load is
      // not the server's steady latency; the reload run below measures a change on purpose)
      if (!quick) {
        const offset = (request.paths.length > 1 ? request.paths : request.bodies).length - WARM_UP;
        await client.run({ url: base, connections, duration: 1, ...request, offset });
      }
      const histogramBefore = await serverLatencies(base, route[0], route[1].split('?')[0]);
      const before = (await ask('cpu')).cpu;
      const { result, cpu: own } = await client.run({ url: base, connections, duration, ...request });
      const after = (await ask('cpu')).cpu;
      const failed = result.non2xx + result.errors + result.timeouts;
      const cpu = (usage) => (usage.user + usage.system) / 1000;
      // CPU per request does not depend on what else runs on the machine, unlike requests/s
      record(
        'serve',
        `${title}, ${connections} connection${connections > 1 ? 's' : ''}: server CPU per request`,
        (cpu(after) - cpu(before)) / result.requests.total,
        'ms',
      );
      record(
        'serve',
        `${title}, ${connections} connection${connections > 1 ? 's' : ''}: autocannon CPU per request`,
        cpu(own) / result.requests.total,
        'ms',
      );
      record(
        'serve',
        `${title}, ${connections} connection${connections > 1 ? 's' : ''}: requests/s`,
        result.requests.average,
        '/s',
        target?.rate,
      );
      record(
        'serve',
        `${title}, ${connections} connection${connections > 1 ? 's' : ''}: latency p50`,
        result.latency.p50,
        'ms',
      );
      record(
        'serve',
        `${title}, ${connections} connection${connections > 1 ? 's' : ''}: latency p99`,
        result.latency.p99,
        'ms',
        target?.p99,
      );
      // the same quantile as the server measures it (from its histogram, at its bucket bounds): the
      // client's figure adds the time autocannon waits for a core, which the server shares
      const histogram = diffHistogram(await serverLatencies(base, route[0], route[1].split('?')[0]), histogramBefore);
      if (histogram !== null) {
        record(
          'serve',
          `${title}, ${connections} connection${connections > 1 ? 's' : ''}: answered within 50 ms, as the server measures`,
          100 * histogram.within(0.05),
          '%',
        );
        record(
          'serve',
          `${title}, ${connections} connection${connections > 1 ? 's' : ''}: latency p99 as the server measures (bucket bound)`,
          1000 * histogram.quantile(0.99),
          'ms',
        );
      }
      if (failed > 0) record('serve', `${title}, ${connections} connections: failed requests`, failed, '', atMost(0));
      return result.requests.average;
    };

    const similar = { method: 'GET', paths: sequence(() => `/api/similar/${name(itemNames)}?n=10`) };
    let similar64 = 0;
    for (const count of connections) {
      const target = count === 64 ? { rate: atLeast(1500), p99: atMost(50) } : undefined;
      const rate = await run('GET /api/similar/:item', count, similar, target);
      if (count === 64) similar64 = rate;
    }
    if (local)
      record(
        'serve',
        'similar over HTTP (64 connections) vs in process batched',
        similar64 / local.similar.batched,
        '×',
      );
    // as traffic comes: an item asked for in proportion to its users (the answer cache helps)
    const cumulative = new Float64Array(items);
    let sum = 0;
    for (let i = 0; i < items; i++) cumulative[i] = sum += names.itemUserCounts[i];
    const popular = () => {
      const at = pick() * sum;
      let low = 0;
      let high = items - 1;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (cumulative[middle] <= at) low = middle + 1;
        else high = middle;
      }
      return encodeURIComponent(itemNames[low]);
    };
    const byPopularity = { method: 'GET', paths: sequence(() => `/api/similar/${popular()}?n=10`) };
    await run('GET /api/similar/:item, items by popularity', 64, byPopularity);

    if (await hasRoute(`${base}/api/recommend/${name(userIds)}`)) {
      const recommend = { method: 'GET', paths: sequence(() => `/api/recommend/${name(userIds)}?n=10`) };
      const rate = await run('GET /api/recommend/:user', 64, recommend, { rate: atLeast(1000) });
      if (local)
        record(
          'serve',
          'recommend over HTTP (64 connections) vs in process batched',
          rate / local.recommend.batched,
          '×',
        );
    } else {
      log('GET /api/recommend/:user: the route is not there yet, skipped');
    }

    const anonymousBody = () => {
      const count = 3 + Math.floor(pick() * 3);
      const listed = Array.from({ length: count }, () => ({
        name: itemNames[Math.floor(pick() * items)],
        plays: 1 + Math.floor(pick() * 50),
      }));
      return JSON.stringify({ items: listed, n: 10 });
    };
    const json = { 'content-type': 'application/json' };
    if (await hasRoute(`${base}/api/recommend`, { method: 'POST', headers: json, body: anonymousBody() })) {
      const anonymous = { method: 'POST', paths: ['/api/recommend'], headers: json, bodies: sequence(anonymousBody) };
      await run('POST /api/recommend (3–5 items)', 64, anonymous, { rate: atLeast(300) });
    } else {
      log('POST /api/recommend: the route is not there yet, skipped');
    }

    // the memory of one served model under load, before a reload loads a second beside it
    {
      const { memory } = await ask('memory');
      record('serve', 'server RSS after the load runs, before the reload (after a GC)', memory.rss / 2 ** 20, 'MiB');
      record('serve', 'server RSS before the reload / model size on disk', memory.rss / diskBytes, '×', atMost(1.5));
      record('serve', '  of it: kernel memory', memory.kernelBytes / 2 ** 20, 'MiB');
    }

    // a reload under load: the model loaded again beside the live one while 64 connections ask
    {
      const running = client.run({ url: base, connections: 64, duration: Math.max(duration, 4), ...similar });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const { reload } = await ask('reload');
      const { result } = await running;
      record(
        'serve',
        `reload under load (64 connections of GET /api/similar/:item): ${reload.status}${reload.error ? ` (${reload.error})` : ''}, took`,
        reload.ms ?? NaN,
        'ms',
      );
      record('serve', 'reload under load: requests/s while it ran', result.requests.average, '/s');
      record('serve', 'reload under load: latency p99', result.latency.p99, 'ms');
      record(
        'serve',
        'reload under load: failed requests',
        result.non2xx + result.errors + result.timeouts,
        '',
        atMost(0),
      );
    }

    const { memory } = await ask('memory');
    record('serve', `model on disk (${users} users, ${items} items)`, diskBytes / 2 ** 20, 'MiB');
    record('serve', 'server RSS after the load runs and the reload (after a GC)', memory.rss / 2 ** 20, 'MiB');
    record('serve', 'server RSS after the reload / model size on disk', memory.rss / diskBytes, '×', atMost(1.5));
    record(
      'serve',
      'server peak RSS (loading: the read arrays and their kernel copies at once)',
      memory.peakRss / 2 ** 20,
      'MiB',
    );
    record(
      'serve',
      '  of RSS: kernel memory (factors, compacted candidates, score rows)',
      memory.kernelBytes / 2 ** 20,
      'MiB',
    );
    record('serve', '  of RSS: array buffers (plays matrix, listener counts)', memory.arrayBuffers / 2 ** 20, 'MiB');
    record(
      'serve',
      '  of RSS: JS heap used / committed (names, lookup indexes)',
      `${(memory.heapUsed / 2 ** 20).toFixed(0)} / ${(memory.heapTotal / 2 ** 20).toFixed(0)}`,
      'MiB',
    );
    server.send('close');
  } finally {
    client.close();
    setTimeout(() => server.kill(), 5000).unref();
  }
}

/** The cumulative latency histogram of one route from the server's /metrics: Map(bound in s → count). */
async function serverLatencies(base, method, route) {
  try {
    const text = await (await fetch(`${base}/metrics`)).text();
    const counts = new Map();
    for (const line of text.split('\n')) {
      if (!line.startsWith('als_http_request_duration_seconds_bucket{')) continue;
      if (!line.includes(`method="${method}"`) || !line.includes(`route="${route}"`)) continue;
      const le = /le="([^"]+)"/.exec(line)[1];
      counts.set(le === '+Inf' ? Infinity : Number(le), Number(line.slice(line.lastIndexOf(' ') + 1)));
    }
    return counts;
  } catch {
    return null;
  }
}

/** after − before of two serverLatencies: { within(seconds), quantile(q) } or null. */
function diffHistogram(after, before) {
  if (after === null || before === null || after.size === 0) return null;
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const count = (le) => after.get(le) - (before.get(le) ?? 0);
  const total = count(Infinity);
  if (!(total > 0)) return null;
  return {
    within: (seconds) => count(seconds) / total,
    quantile: (q) => bounds.find((le) => count(le) >= q * total),
  };
}

// --- standalone ---------------------------------------------------------------------------
if (process.argv[1] === self) {
  const { values } = parseArgs({
    options: {
      child: { type: 'boolean' },
      model: { type: 'string', default: join(root, 'bench', 'data', 'model-full') },
      seconds: { type: 'string', default: '5' },
      threads: { type: 'string', default: String(availableParallelism()) },
      block: { type: 'string' },
      quick: { type: 'boolean' },
      'skip-local': { type: 'boolean' },
      'no-compact': { type: 'boolean' },
      connections: { type: 'string', default: '1,8,64' },
    },
  });
  const threads = Number(values.threads);
  // default: the server's own (SERVING_BLOCK)
  const block = values.block === undefined ? undefined : Number(values.block);
  if (values.child) {
    await child({ model: values.model, threads, block, compact: !values['no-compact'] });
  } else {
    const log = (text) => process.stderr.write(`bench: ${text}\n`);
    const record = (group, what, value, unit, target) => {
      const shown =
        typeof value !== 'number' ? value : Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
      log(
        `${group} | ${what}: ${shown} ${unit}${target ? ` (target ${target.text}: ${target.test(value) ? 'met' : 'NOT met'})` : ''}`,
      );
    };
    const atMost = (limit) => ({ text: `≤ ${limit}`, test: (v) => v <= limit });
    const atLeast = (limit) => ({ text: `≥ ${limit}`, test: (v) => v >= limit });
    await benchServe({
      modelDir: values.model,
      record,
      atLeast,
      atMost,
      log,
      seconds: Number(values.seconds),
      threads,
      block,
      quick: values.quick,
      local: !values['skip-local'],
      connections: values.connections.split(',').map(Number),
      compact: !values['no-compact'],
    });
  }
}
