// Istio's circuit-breaking task (examples/istio/circuit-breaking/: maxConnections 1,
// http1MaxPendingRequests 1, maxRequestsPerConnection 1) against a slow backend, driven by
// concurrent curl: a share of the requests is refused with 503 and x-envoy-overloaded: true,
// every request is answered (counted), the backend never sees more requests at once than the
// limit, whatever the worker count, and /metrics and the access log count exactly the refused ones.
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDaemon } from '../helpers/daemon.js';
import { parseSamples, sample, scrape } from '../helpers/prom.js';
import { getJson } from '../helpers/http.js';
import { cookieStickyYaml } from '../helpers/istio-yaml.js';
import { reloadAndWait } from '../helpers/pin-stack.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/istio/circuit-breaking', import.meta.url));
const REQUESTS = 30;
const PARALLEL = 6;
const BACKEND_DELAY_MS = 150;

interface SlowBackend { readonly port: number; received: number; inFlight: number; maxInFlight: number; close(): Promise<void> }

async function startSlowBackend(): Promise<SlowBackend> {
  const state = { received: 0, inFlight: 0, maxInFlight: 0 };
  const server = http.createServer((req, res) => {
    state.received++;
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    req.resume();
    setTimeout(() => {
      state.inFlight--;
      res.end('{"ok":true}\n');
    }, BACKEND_DELAY_MS);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(state, { port, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) });
}

/** The example with its endpoint pointed at the backend. */
async function exampleDir(t: ExecutionContext, backendPort: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'stickyd-circuit-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await cp(EXAMPLE, dir, { recursive: true });
  const endpoints = await readFile(join(dir, 'endpoints.yaml'), 'utf8');
  await writeFile(join(dir, 'endpoints.yaml'), endpoints.replace('{http: 8080}', `{http: ${backendPort}}`));
  return dir;
}

/** REQUESTS requests, PARALLEL at once, each on its own connection: one line "status overloaded" per answer. */
function curlParallel(port: number): Promise<string[]> {
  const url = `http://127.0.0.1:${port}/get`;
  const args = ['-sS', '--parallel', '--parallel-immediate', '--parallel-max', String(PARALLEL), '--max-time', '20', '-H', 'Connection: close',
    '-w', '%{http_code} %header{x-envoy-overloaded}\\n'];
  for (let i = 0; i < REQUESTS; i++) args.push('-o', '/dev/null', url);
  return new Promise((resolve, reject) => {
    execFile('curl', args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`curl failed: ${err.message}\n${stderr}`));
      else resolve(stdout.split('\n').filter((l) => l !== ''));
    });
  });
}

for (const workers of [1, 2]) {
  test.serial(`maxConnections 1, http1MaxPendingRequests 1 with ${workers} worker(s): a share of 503 x-envoy-overloaded, every request answered`, async (t) => {
    const backend = await startSlowBackend();
    t.teardown(() => backend.close());
    const daemon = await startDaemon(await exampleDir(t, backend.port), { workers });
    t.teardown(() => daemon.stop());
    const lines = await curlParallel(daemon.port);
    const ok = lines.filter((l) => l.startsWith('200 ')).length;
    const overloaded = lines.filter((l) => l === '503 true').length;
    t.log(`${workers} worker(s): ${lines.length} answers, ${ok} x 200, ${overloaded} x 503 overloaded; backend saw ${backend.received}, at most ${backend.maxInFlight} at once`);
    t.is(lines.length, REQUESTS, 'every request was answered');
    t.is(ok + overloaded, REQUESTS, `only 200s and overloaded 503s: ${lines.join(', ')}`);
    t.true(overloaded > 0, 'some requests overflowed');
    t.true(ok > 0, 'some requests were served');
    t.is(backend.received, ok, 'every request the backend saw was answered 200, and no refused one reached it');
    // the limit holds for the daemon, whatever the worker count (tokens lent by the primary)
    t.is(backend.maxInFlight, 1, `backend saw ${backend.maxInFlight} at once`);

    const samples = parseSamples((await scrape(daemon.adminPort)).text);
    t.is(sample(samples, 'stickyd_upstream_overflow_total', { subset: 'httpbin', limit: 'http1MaxPendingRequests' }), overloaded);
    t.is(sample(samples, 'stickyd_upstream_overflow_total', { subset: 'httpbin', limit: 'http2MaxRequests' }), 0);
    t.is(sample(samples, 'stickyd_upstream_limit', { subset: 'httpbin', limit: 'maxConnections' }), 1);
    t.is(sample(samples, 'stickyd_upstream_limit', { subset: 'httpbin', limit: 'http1MaxPendingRequests' }), 1);
    // the access log: one line per request, the refused ones naming the limit
    await waitFor(() => daemon.accessLines.length >= REQUESTS);
    const access = daemon.accessLines.map((l) => JSON.parse(l) as { status: number; overflow?: string });
    t.is(access.length, REQUESTS);
    t.is(access.filter((a) => a.status === 503 && a.overflow === 'http1MaxPendingRequests').length, overloaded);
    t.is(access.filter((a) => a.overflow !== undefined).length, overloaded);
  });
}

function get(agent: http.Agent, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers: { host: 'demo.example.com' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

test.serial('maxConnections 2 with 2 workers: one worker with the load uses the whole limit, and the backend never sees more than 2', async (t) => {
  const backend = await startSlowBackend();
  t.teardown(() => backend.close());
  const dir = await mkdtemp(join(tmpdir(), 'stickyd-circuit-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'config.yaml'), cookieStickyYaml('app', [backend.port], { policy: '    connectionPool:\n      tcp: {maxConnections: 2}\n' }));
  const daemon = await startDaemon(dir, { workers: 2 });
  t.teardown(() => daemon.stop());
  // Six keep-alive client connections, spread over the workers by the primary (SCHED_RR); the
  // access log line of each one's first request says which worker holds it.
  const agents = Array.from({ length: 6 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  t.teardown(() => { for (const a of agents) a.destroy(); });
  for (const [i, a] of agents.entries()) t.is(await get(a, daemon.port, `/probe/${i}`), 200);
  await waitFor(() => daemon.accessLines.length >= agents.length);
  const pidOf = new Map(daemon.accessLines.map((l) => JSON.parse(l) as { path: string; pid: number }).map((l) => [l.path, l.pid]));
  const byPid = new Map<number, http.Agent[]>();
  for (const [i, a] of agents.entries()) {
    const pid = pidOf.get(`/probe/${i}`)!;
    byPid.set(pid, [...(byPid.get(pid) ?? []), a]);
  }
  const same = [...byPid.values()].find((list) => list.length >= 2);
  t.truthy(same, `two connections on one worker: ${[...byPid].map(([pid, l]) => `${pid}: ${l.length}`).join(', ')}`);
  backend.maxInFlight = 0;
  t.deepEqual(await Promise.all(same!.slice(0, 2).map((a) => get(a, daemon.port, '/both'))), [200, 200]);
  t.is(backend.maxInFlight, 2, 'both ran at once on one worker: the limit is not cut into per-worker shares');
  // All six at once: two at a time reach the backend, the rest wait (no pending limit set), all are answered.
  backend.maxInFlight = 0;
  const before = backend.received;
  t.deepEqual(await Promise.all(agents.map((a) => get(a, daemon.port, '/all'))), new Array(6).fill(200));
  t.is(backend.received - before, 6);
  t.is(backend.maxInFlight, 2, `never more than maxConnections at once: ${backend.maxInFlight}`);
  const { body } = await getJson<{ leases: { key: string; limit: number; free: number; held: Record<string, number>; waiting: number }[] }>(`http://127.0.0.1:${daemon.adminPort}/status`);
  const lease = body.leases.find((l) => l.key.includes('maxConnections'));
  t.truthy(lease, JSON.stringify(body.leases));
  t.is(lease!.limit, 2);
  t.is(lease!.waiting, 0);
  t.is(lease!.free + Object.values(lease!.held).reduce((a, b) => a + b, 0), 2, 'every token accounted for: free or held by a worker');

  // A reload to maxConnections 3: the new limit holds, and the old one's tokens all go home.
  await writeFile(join(dir, 'config.yaml'), cookieStickyYaml('app', [backend.port], { policy: '    connectionPool:\n      tcp: {maxConnections: 3}\n' }));
  await reloadAndWait(daemon.proc.pid!, daemon.adminPort);
  backend.maxInFlight = 0;
  t.deepEqual(await Promise.all(agents.map((a) => get(a, daemon.port, '/reloaded'))), new Array(6).fill(200));
  t.is(backend.maxInFlight, 3, `the new limit: ${backend.maxInFlight} at once`);
  let keys: string[] = [];
  for (let i = 0; i < 40; i++) {
    const after = (await getJson<{ leases: { key: string }[] }>(`http://127.0.0.1:${daemon.adminPort}/status`)).body.leases;
    keys = after.map((l) => l.key.split('\n').slice(2).join(' '));
    if (keys.length === 1) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  t.deepEqual(keys, ['maxConnections 3'], 'the old limit holds no token any more');
});

async function waitFor(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
}
