// Istio's own sample configurations (examples/istio/, see its README) through the real daemon,
// driven by curl; recording backends show exactly which service and version got each request.
import test from 'ava';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { curl } from '../helpers/curl.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { startRecordingBackend, type RecordingBackend } from '../helpers/recording-backend.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/istio/bookinfo', import.meta.url));
const MIRRORING = fileURLToPath(new URL('../../examples/istio/httpbin-mirroring', import.meta.url));
const NAMES = ['productpage', 'reviews-v1', 'reviews-v2', 'reviews-v3', 'ratings-v1'] as const;
const backends = new Map<string, RecordingBackend>();
let daemon: Daemon;
let dir: string;
/** the mirroring task: httpbin v1 and v2 */
const httpbin = new Map<string, RecordingBackend>();
let mirroring: Daemon;
let mirroringDir: string;

/** endpoints.yaml with the test's backends in place of the example addresses */
function endpointsYaml(): string {
  const se = (host: string, eps: [string, string][]): string => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${host}}
spec:
  hosts: [${host}]
  ports: [{number: 9080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
${eps.map(([name, version]) => `  - {address: 127.0.0.1, ports: {http: ${backends.get(name)!.port}}, labels: {app: ${host}, version: ${version}}}`).join('\n')}
`;
  return [se('productpage', [['productpage', 'v1']]), se('reviews', [['reviews-v1', 'v1'], ['reviews-v2', 'v2'], ['reviews-v3', 'v3']]), se('ratings', [['ratings-v1', 'v1']])].join('---\n');
}

test.before(async () => {
  for (const n of NAMES) backends.set(n, await startRecordingBackend());
  dir = await mkdtemp(join(tmpdir(), 'stickyd-bookinfo-'));
  await cp(EXAMPLES, dir, { recursive: true });
  await writeFile(join(dir, 'endpoints.yaml'), endpointsYaml());
  daemon = await startDaemon(dir, { workers: 1 });
  for (const v of ['v1', 'v2']) httpbin.set(v, await startRecordingBackend());
  mirroringDir = await mkdtemp(join(tmpdir(), 'stickyd-mirroring-'));
  await cp(MIRRORING, mirroringDir, { recursive: true });
  // the WorkloadEntries' VM addresses become the test's backends (ports by the service port name)
  const endpoints = (await readFile(join(MIRRORING, 'endpoints.yaml'), 'utf8'))
    .replace('address: 10.0.0.21', `address: 127.0.0.1\n  ports: {http: ${httpbin.get('v1')!.port}}`)
    .replace('address: 10.0.0.22', `address: 127.0.0.1\n  ports: {http: ${httpbin.get('v2')!.port}}`);
  await writeFile(join(mirroringDir, 'endpoints.yaml'), endpoints);
  mirroring = await startDaemon(mirroringDir, { workers: 1 });
});

test.after.always(async () => {
  await daemon?.stop();
  await mirroring?.stop();
  for (const b of [...backends.values(), ...httpbin.values()]) await b.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  if (mirroringDir !== undefined) await rm(mirroringDir, { recursive: true, force: true });
});

async function status(host: string, path: string, extra: string[] = []): Promise<string> {
  const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', `Host: ${host}`, ...extra, `http://127.0.0.1:${daemon.port}${path}`]);
  return r.stdout;
}

const seen = (name: string): string[] => backends.get(name)!.requests.map((r) => r.url);
const resetAll = (): void => backends.forEach((b) => b.reset());

test.serial('bookinfo-gateway.yaml: the productpage paths reach productpage, others get 404', async (t) => {
  resetAll();
  const paths = ['/productpage', '/static/css/a.css', '/login', '/logout', '/api/v1/products/1', '/productpage/x', '/admin'];
  const codes = [];
  for (const p of paths) codes.push(await status('bookinfo.example', p));
  t.deepEqual(codes, ['200', '200', '200', '200', '200', '404', '404']);
  t.deepEqual(seen('productpage'), ['/productpage', '/static/css/a.css', '/login', '/logout', '/api/v1/products/1']);
});

test.serial('request routing (virtual-service-reviews-test-v2): jason sees reviews v2, everyone else v1, nobody v3', async (t) => {
  resetAll();
  for (let i = 0; i < 3; i++) {
    t.is(await status('reviews.bookinfo.example', '/reviews/0', ['-H', 'end-user: jason']), '200');
    t.is(await status('reviews.bookinfo.example', '/reviews/0'), '200');
    t.is(await status('reviews.bookinfo.example', '/reviews/0', ['-H', 'end-user: jasonx']), '200');
  }
  t.is(seen('reviews-v2').length, 3);
  t.is(seen('reviews-v1').length, 6);
  t.is(seen('reviews-v3').length, 0);
  t.true(backends.get('reviews-v2')!.requests.every((r) => r.headers['end-user'] === 'jason'));
});

test.serial('fault injection (virtual-service-ratings-test-abort): jason\'s ratings calls get 500 from stickyd, others reach ratings', async (t) => {
  resetAll();
  t.is(await status('ratings.bookinfo.example', '/ratings/0', ['-H', 'end-user: jason']), '500');
  t.is(await status('ratings.bookinfo.example', '/ratings/0'), '200');
  t.deepEqual(seen('ratings-v1'), ['/ratings/0']);
  t.false(backends.get('ratings-v1')!.requests.some((r) => r.headers['end-user'] === 'jason'));
});

test.serial('mirroring task (httpbin): every request answered by v1 and copied to v2, whose Host is httpbin-shadow:8000', async (t) => {
  const r = await curl(['-sS', '-H', 'Host: httpbin:8000', `http://127.0.0.1:${mirroring.port}/headers`]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), { url: '/headers', method: 'GET' });
  const v1 = httpbin.get('v1')!.requests;
  const v2 = httpbin.get('v2')!.requests;
  for (let i = 0; i < 200 && v2.length === 0; i++) await new Promise((x) => setTimeout(x, 25));
  t.deepEqual(v1.map((q) => [q.url, q.headers.host]), [['/headers', 'httpbin:8000']]);
  t.deepEqual(v2.map((q) => [q.url, q.headers.host]), [['/headers', 'httpbin-shadow:8000']]);
});
