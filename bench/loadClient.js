// The load generator of the serving bench (bench/serve.js), in a process of its own: autocannon
// with nothing else in its heap, so that its own pauses (a collection of a heap holding the
// model's 650K names took 20+ ms) do not count as the server's latency. It asks the requests it
// is sent, in order, cycling.
//
// Messages in: { run: { url, connections, duration, method, headers?, paths?, bodies?, offset? } } → { result, cpu }
// (offset: the first request asked);
// 'close' ends it.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const autocannon = require('autocannon');

/** autocannon's summary, the fields the bench reads. */
function summary(result) {
  const { requests, latency, non2xx, errors, timeouts } = result;
  return {
    requests: { average: requests.average, total: requests.total },
    latency: { p50: latency.p50, p90: latency.p90, p99: latency.p99, max: latency.max },
    non2xx,
    errors,
    timeouts,
  };
}

function load({ url, connections, duration, method, headers, paths, bodies, offset = 0 }) {
  let next = offset;
  const request = {
    method,
    ...(headers === undefined ? {} : { headers }),
    setupRequest: (r) => {
      const n = next++;
      return {
        ...r,
        ...(paths === undefined ? {} : { path: paths[n % paths.length] }),
        ...(bodies === undefined ? {} : { body: bodies[n % bodies.length] }),
      };
    },
  };
  return new Promise((resolve, reject) =>
    autocannon({ url, connections, duration, requests: [request] }, (error, result) =>
      error ? reject(error) : resolve(summary(result)),
    ),
  );
}

process.on('message', (message) => {
  if (message === 'close') process.exit(0);
  if (message.run === undefined) return;
  const before = process.cpuUsage();
  load(message.run).then(
    (result) => process.send({ result, cpu: process.cpuUsage(before) }),
    (error) => process.send({ error: error.message }),
  );
});
process.send('ready');
