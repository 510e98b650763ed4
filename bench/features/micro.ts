// The work each of stickyd's default features adds to one request, timed in-process on the code the
// workers run, over the benchmark's own config (the seed's cookie policy, 3 endpoints): request
// ids, cookie minting, the session cache, metrics and the access log. `npm run bench` runs this
// in a child at the end of the same run (--json) and prints the table beside the HTTP figures,
// whose differences are within their spread for the smaller features; request ids and metrics
// have no switch to measure them over HTTP.
// Usage: node --import tsx bench/features/micro.ts [--json]
import { EventEmitter } from 'node:events';
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RuntimeSnapshot } from '../../src/worker/routing/runtime-snapshot.js';
import { DEMO_HOST, writeStickydConfig } from '../stickyd-config.js';

// The build the workers run (dist/, from tsc), not src/ through tsx: tsx keeps function names with
// a defineProperty call on every closure it creates, which made a RequestObservation cost 3x.
const dist = async <T>(module: string): Promise<T> => (await import(new URL(`../../dist/${module}.js`, import.meta.url).href)) as T;
const { buildTables } = await dist<typeof import('../../src/balancing/build-tables.js')>('balancing/build-tables');
const { initHasher } = await dist<typeof import('../../src/balancing/hash.js')>('balancing/hash');
const { loadConfig } = await dist<typeof import('../../src/config/index.js')>('config/index');
const { loadKernel } = await dist<typeof import('../../src/kernel/index.js')>('kernel/index');
const { AccessLog } = await dist<typeof import('../../src/worker/telemetry/access-log.js')>('worker/telemetry/access-log');
const { buildClientHeaders } = await dist<typeof import('../../src/worker/downstream/forward-headers.js')>('worker/downstream/forward-headers');
const { RequestObservation } = await dist<typeof import('../../src/worker/downstream/observe.js')>('worker/downstream/observe');
const { selectRoute } = await dist<typeof import('../../src/worker/routing/route.js')>('worker/routing/route');
const { buildRuntimeSnapshot } = await dist<typeof import('../../src/worker/routing/runtime-snapshot.js')>('worker/routing/runtime-snapshot');
const { selectEndpoint } = await dist<typeof import('../../src/worker/routing/select-endpoint.js')>('worker/routing/select-endpoint');
const { readRequestId } = await dist<typeof import('../../src/worker/downstream/request-id.js')>('worker/downstream/request-id');
const { mintSessionKey, readSessionKey } = await dist<typeof import('../../src/worker/routing/sticky.js')>('worker/routing/sticky');

const ROUNDS = 5;
const N = 50_000;
/** requests completing per event-loop turn, as a busy worker sees them (the access log flushes between) */
const BATCH = 64;
const COOKIES = 1_000;

interface Cost { feature: string; what: string; ns: number; minNs: number; maxNs: number }

const json = process.argv.includes('--json');
const dir = await mkdtemp(join(tmpdir(), 'stickyd-features-'));
const fd = openSync(join(dir, 'access.log'), 'w');

async function runtime(sessionCacheSize: number): Promise<RuntimeSnapshot> {
  await writeStickydConfig(join(dir, 'config'), [18081, 18082, 18083].map((port) => ({ address: '127.0.0.1', port })));
  const { snapshot } = await loadConfig(join(dir, 'config'), { sessionCacheSize });
  const hasher = await initHasher();
  return buildRuntimeSnapshot(buildTables(snapshot, hasher), { kernel: await loadKernel(), hasher });
}

/**
 * Median, min and max CPU ns (user + system, this process) per request over ROUNDS rounds of N,
 * after a warm-up round. CPU time, not wall time: on a shared machine a process that makes a
 * system call loses its core to the next runnable one, and wall time would charge that wait.
 */
async function time(body: (i: number) => void): Promise<{ ns: number; minNs: number; maxNs: number }> {
  const samples: number[] = [];
  for (let r = -1; r < ROUNDS; r++) {
    const start = process.cpuUsage();
    for (let i = 0; i < N; i += BATCH) {
      for (let j = i; j < i + BATCH; j++) body(j);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const used = process.cpuUsage(start);
    if (r >= 0) samples.push(((used.user + used.system) * 1000) / N);
  }
  samples.sort((a, b) => a - b);
  return { ns: samples[samples.length >> 1]!, minNs: samples[0]!, maxNs: samples[samples.length - 1]! };
}

/** `with` minus `without`, each round paired, so drift between rounds cancels. */
async function cost(feature: string, what: string, withIt: (i: number) => void, without: (i: number) => void): Promise<Cost> {
  const diffs: number[] = [];
  await time(withIt);
  await time(without);
  for (let r = 0; r < 3; r++) {
    const a = await time(withIt);
    const b = await time(without);
    diffs.push(a.ns - b.ns);
  }
  diffs.sort((a, b) => a - b);
  const c = { feature, what, ns: diffs[diffs.length >> 1]!, minNs: diffs[0]!, maxNs: diffs[diffs.length - 1]! };
  if (!json) process.stdout.write(`${feature.padEnd(16)} ${c.ns.toFixed(0).padStart(6)} ns/request (${c.minNs.toFixed(0)}-${c.maxNs.toFixed(0)})  ${what}\n`);
  return c;
}

class Res extends EventEmitter {
  headersSent = true;
  statusCode = 200;
  _header = 'HTTP/1.1 200 OK\r\nContent-Length: 130\r\n\r\n';
}

async function main(): Promise<void> {
  const rt = await runtime(100_000);
  const rtNoCache = await runtime(0);
  const cookieReqs = Array.from({ length: COOKIES }, () => ({
    method: 'GET', url: '/ping', httpVersionMinor: 1,
    headers: { host: DEMO_HOST, cookie: `session=${mintSessionKey()}` },
    socket: { remoteAddress: '::ffff:127.0.0.1' },
  }) as unknown as IncomingMessage);
  const bareReq = { method: 'GET', url: '/ping', httpVersionMinor: 1, headers: { host: DEMO_HOST }, socket: { remoteAddress: '::ffff:127.0.0.1' } } as unknown as IncomingMessage;
  const port = [...rt.listeners.keys()][0]!;
  const route = selectRoute(rt, port, cookieReqs[0]!, '/ping');
  const routeNoCache = selectRoute(rtNoCache, port, cookieReqs[0]!, '/ping');
  if (typeof route === 'string' || typeof routeNoCache === 'string') throw new Error(`the bench config does not route ${DEMO_HOST}/ping: ${String(route)}`);
  const target = route.targets[0]!;
  const targetNoCache = routeNoCache.targets[0]!;
  const max = rt.settings.maxKeyLength;
  let sink = 0;
  const costs: Cost[] = [];

  const headers: string[] = [];
  costs.push(await cost('request id', 'a fresh UUID for a request without X-Request-Id (request-id.ts), and its line in the upstream and client header lists',
    () => { const id = readRequestId(undefined); headers.length = 0; headers.push('x-request-id', id, 'X-Request-Id', id); },
    () => { headers.length = 0; }));

  const raw = ['Content-Type', 'application/json', 'Content-Length', '130'];
  costs.push(await cost('cookie minting', 'a request without the cookie (mint 128 bits, build Set-Cookie, add it to the client headers) minus one that sends it (cut and check the cookie); Node writing the extra header line is not in it',
    () => { const k = readSessionKey(target.subset, bareReq, max); sink += buildClientHeaders(raw, 'id', k.setCookie, false).length; },
    (i) => { const k = readSessionKey(target.subset, cookieReqs[i % COOKIES]!, max); sink += buildClientHeaders(raw, 'id', k.setCookie, false).length; }));

  // key strings cut from the Cookie header on every request, as in the worker (a reused string
  // object carries V8's cached hash and would flatter the cache)
  costs.push(await cost('session cache', 'session key -> endpoint with the cache (1,000 live sessions, hits) minus hashing and the table lookup every time (`--session-cache 0`); negative: the cache saves time',
    (i) => { sink += selectEndpoint(rt, target.subset, readSessionKey(target.subset, cookieReqs[i % COOKIES]!, max).key, null); },
    (i) => { sink += selectEndpoint(rtNoCache, targetNoCache.subset, readSessionKey(targetNoCache.subset, cookieReqs[i % COOKIES]!, max).key, null); }));

  costs.push(await cost('metrics', 'RequestObservation, access log off: in-flight gauge, status x endpoint counter, duration histogram at close; minus a response with a close listener',
    (i) => { const res = new Res(); const o = new RequestObservation(rt, null, cookieReqs[i % COOKIES]!, res as unknown as ServerResponse, 'id'); o.routed(target, 1, 'k', 'reused'); res.emit('close'); },
    () => { const res = new Res(); res.on('close', () => {}); res.emit('close'); }));

  // lines go to a real file with a synchronous write in 4 KiB chunks, as they go to journald's socket
  const fileSink = { writableLength: 0, write(chunk: string): boolean { writeSync(fd, chunk, null, 'latin1'); return true; } };
  const log = new AccessLog({ enabled: true, sample: 1 }, fileSink);
  costs.push(await cost('access log', 'RequestObservation with its line (fields, the JSON line, batched writes to a file) minus the same without',
    (i) => { const res = new Res(); const o = new RequestObservation(rt, log, cookieReqs[i % COOKIES]!, res as unknown as ServerResponse, 'id'); o.routed(target, 1, 'k', 'reused'); res.emit('close'); },
    (i) => { const res = new Res(); const o = new RequestObservation(rt, null, cookieReqs[i % COOKIES]!, res as unknown as ServerResponse, 'id'); o.routed(target, 1, 'k', 'reused'); res.emit('close'); }));
  log.flush();
  if (sink === -1) process.stdout.write('');
  if (json) process.stdout.write(`FEATURES_JSON ${JSON.stringify(costs)}\n`);
}

try {
  await main();
} finally {
  closeSync(fd);
  await rm(dir, { recursive: true, force: true });
}
