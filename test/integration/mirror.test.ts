// VirtualService mirror / mirrors through the real daemon, driven by real curl: the copy a
// recording mirror backend receives (path after rewrite, headers after edits, Host with
// "-shadow", body), and that a mirror target that never answers or is not there neither delays
// nor fails the client, with every copy counted in /metrics (ok, error, shed, body_too_large).
import test from 'ava';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curl } from '../helpers/curl.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { GATEWAY_YAML, serviceEntryYaml, virtualServiceYaml } from '../helpers/istio-yaml.js';
import { parseSamples, sample, scrape } from '../helpers/prom.js';
import { startRecordingBackend, type RecordingBackend } from '../helpers/recording-backend.js';

let primary: RecordingBackend;
let shadow: RecordingBackend;
/** accepts requests and never answers them: a mirror target that hangs */
let hung: http.Server;
const held: http.ServerResponse[] = [];
const hungSockets = new Set<Socket>();
let deadPort: number;
let daemon: Daemon;
let dir: string;

const HTTP = `  - name: copied
    match: [{uri: {prefix: /api/}}]
    rewrite: {uri: /v2/}
    headers: {request: {set: {x-route: r}}}
    route: [{destination: {host: primary}}]
    mirror: {host: shadow}
  - name: hangs
    match: [{uri: {prefix: /hang}}]
    route: [{destination: {host: primary}}]
    mirrors: [{destination: {host: hung}}]
  - name: dead
    match: [{uri: {prefix: /dead}}]
    route: [{destination: {host: primary}}]
    mirrors: [{destination: {host: dead}, percentage: {value: 100}}]
`;

test.before(async () => {
  primary = await startRecordingBackend();
  shadow = await startRecordingBackend();
  hung = http.createServer((req, res) => { req.resume(); held.push(res); });
  hung.on('connection', (s) => { hungSockets.add(s); s.on('close', () => hungSockets.delete(s)); });
  await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
  // a port nothing listens on: bind, note, close
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  deadPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  dir = await mkdtemp(join(tmpdir(), 'stickyd-mirror-'));
  await writeFile(join(dir, 'config.yaml'), [
    GATEWAY_YAML, virtualServiceYaml(['demo.example.com'], HTTP),
    serviceEntryYaml('primary', [primary.port]), serviceEntryYaml('shadow', [shadow.port]),
    serviceEntryYaml('hung', [(hung.address() as AddressInfo).port]), serviceEntryYaml('dead', [deadPort]),
  ].join('---\n'));
  daemon = await startDaemon(dir, { workers: 1 });
});

test.after.always(async () => {
  await daemon?.stop();
  for (const s of hungSockets) s.destroy();
  await new Promise<void>((r) => (hung === undefined ? r() : hung.close(() => r())));
  await primary?.close();
  await shadow?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const url = (path: string): string => `http://127.0.0.1:${daemon.port}${path}`;
const host = ['-H', 'Host: demo.example.com:8000'];

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

async function mirrorCounts(): Promise<Record<string, number>> {
  const s = parseSamples((await scrape(daemon.adminPort)).text);
  const out: Record<string, number> = {};
  for (const r of ['ok', 'error', 'shed', 'no_endpoint', 'body_too_large', 'incomplete']) out[r] = sample(s, 'stickyd_mirror_requests_total', { result: r }) ?? 0;
  out.inFlight = sample(s, 'stickyd_mirror_requests_in_flight') ?? 0;
  return out;
}

test.serial('the mirror gets a copy: the rewritten path, the edited headers, Host with -shadow before the port; the client gets the primary\'s answer', async (t) => {
  primary.reset();
  shadow.reset();
  const r = await curl(['-sS', ...host, '-H', 'x-client: c', url('/api/items?q=1')]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), { url: '/v2/items?q=1', method: 'GET' });
  await until(() => shadow.requests.length === 1, 'the mirrored copy');
  const [p] = primary.requests;
  const [m] = shadow.requests;
  t.is(m!.url, '/v2/items?q=1');
  t.is(m!.method, 'GET');
  t.is(p!.headers.host, 'demo.example.com:8000');
  t.is(m!.headers.host, 'demo.example.com-shadow:8000');
  t.is(m!.headers['x-route'], 'r');
  t.is(m!.headers['x-client'], 'c');
  t.is(m!.headers['x-request-id'], p!.headers['x-request-id']);
  t.is(m!.headers['x-forwarded-for'], p!.headers['x-forwarded-for']);
});

test.serial('a body is copied whole; one over the bound reaches the primary only, and is counted', async (t) => {
  primary.reset();
  shadow.reset();
  const before = await mirrorCounts();
  const r = await curl(['-sS', ...host, '--data-binary', 'hello mirror', url('/api/post')]);
  t.is(r.code, 0, r.stderr);
  await until(() => shadow.requests.length === 1 && shadow.requests[0]!.complete, 'the copy with its body');
  t.is(shadow.requests[0]!.body, 'hello mirror');
  t.is(shadow.requests[0]!.method, 'POST');
  const big = 'x'.repeat(200 * 1024);
  const file = join(dir, 'big.txt');
  await writeFile(file, big);
  // chunked: the bound is found while the body streams, not from a Content-Length
  const c = await curl(['-sS', ...host, '-H', 'Transfer-Encoding: chunked', '--data-binary', `@${file}`, url('/api/big')]);
  t.is(c.code, 0, c.stderr);
  t.is(primary.requests.at(-1)!.body.length, big.length, 'the primary got every byte');
  await until(() => primary.requests.length === 2, 'the primary');
  const after = await mirrorCounts();
  t.is(after.body_too_large! - before.body_too_large!, 1);
  t.is(shadow.requests.length, 1, 'no copy of the large body');
});

test.serial('a mirror that never answers neither delays nor fails the client; past the in-flight cap copies are shed and counted', async (t) => {
  primary.reset();
  const before = await mirrorCounts();
  // 140 requests on one connection, each answered while its copy (and every earlier one) hangs
  const n = 140;
  const urls = Array.from({ length: n }, (_, i) => ['-o', '/dev/null', url(`/hang/${i}`)]).flat();
  const r = await curl(['-sS', '--max-time', '20', ...host, '-w', '%{http_code}\\n', ...urls], 30_000);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n'), Array<string>(n).fill('200'));
  t.is(primary.requests.length, n);
  t.true(held.length > 0 && held.every((res) => !res.headersSent), 'the mirror target answered none of them');
  const after = await mirrorCounts();
  t.is(after.inFlight, 128, 'the worker\'s cap (MIRROR_MAX_IN_FLIGHT) is full');
  t.is(after.shed! - before.shed!, n - 128);
  t.is(held.length, 128);
  // answering frees the slots
  for (const res of held.splice(0)) res.end('late');
  let done = await mirrorCounts();
  for (let i = 0; i < 100 && done.inFlight !== 0; i++) {
    await new Promise((x) => setTimeout(x, 50));
    done = await mirrorCounts();
  }
  t.is(done.inFlight, 0);
  t.is(done.ok! - before.ok!, 128);
});

test.serial('a mirror target that refuses connections does not fail the client; the copy is counted as an error', async (t) => {
  primary.reset();
  const before = await mirrorCounts();
  const r = await curl(['-sS', ...host, '-o', '/dev/null', '-w', '%{http_code}', url('/dead/x')]);
  t.is(r.stdout, '200');
  t.is(primary.requests.length, 1);
  let after = await mirrorCounts();
  for (let i = 0; i < 100 && after.error === before.error; i++) {
    await new Promise((x) => setTimeout(x, 50));
    after = await mirrorCounts();
  }
  t.is(after.error! - before.error!, 1);
});
