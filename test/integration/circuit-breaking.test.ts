// Istio's circuit-breaking task (examples/istio/circuit-breaking/: maxConnections 1,
// http1MaxPendingRequests 1, maxRequestsPerConnection 1) against a slow backend, driven by
// concurrent curl: a share of the requests is refused with 503 and x-envoy-overloaded: true,
// every request is answered (counted), the backend never sees more requests at once than the
// workers' shares allow, and /metrics and the access log count exactly the refused ones.
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
    // one connection per worker (the floor of one each: README, Circuit breakers)
    t.true(backend.maxInFlight <= workers, `backend saw ${backend.maxInFlight} at once`);

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

async function waitFor(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
}
