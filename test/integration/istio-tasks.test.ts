// Istio's helloworld sample and its traffic-shifting, request-timeouts and CORS configurations
// (examples/istio/, see its README) through the real daemon, driven by curl, each against
// recording backends standing in for the VMs, behaving as Istio's documentation says.
import test from 'ava';
import { copyFile, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { curl } from '../helpers/curl.js';
import { runCli, startDaemon, type Daemon } from '../helpers/daemon.js';
import { startRecordingBackend, type RecordingBackend } from '../helpers/recording-backend.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/istio/', import.meta.url));

interface Task {
  readonly dir: string;
  readonly daemon: Daemon;
  /** the recording backend standing in for each example VM address */
  readonly at: ReadonlyMap<string, RecordingBackend>;
  reload(): Promise<void>;
}

/**
 * Copies examples/istio/<folder> to a temporary directory, points every example VM address of its
 * endpoints.yaml at a recording backend of its own, and starts the daemon on it.
 */
async function startTask(t: { teardown(fn: () => Promise<void>): void }, folder: string): Promise<Task> {
  const dir = await mkdtemp(join(tmpdir(), `stickyd-${folder}-`));
  await cp(join(EXAMPLES, folder), dir, { recursive: true });
  const at = new Map<string, RecordingBackend>();
  const text = await readFile(join(dir, 'endpoints.yaml'), 'utf8');
  for (const ip of new Set(text.match(/10\.0\.0\.\d+/g) ?? [])) at.set(ip, await startRecordingBackend());
  const port = (ip: string): number => at.get(ip)!.port;
  const pointed = text
    .replace(/\{address: (10\.0\.0\.\d+),/g, (_m, ip: string) => `{address: 127.0.0.1, ports: {http: ${port(ip)}},`)
    .replace(/^ {2}address: (10\.0\.0\.\d+)$/gm, (_m, ip: string) => `  address: 127.0.0.1\n  ports: {http: ${port(ip)}}`);
  await writeFile(join(dir, 'endpoints.yaml'), pointed);
  const daemon = await startDaemon(dir, { workers: 1 });
  t.teardown(async () => {
    await daemon.stop();
    for (const b of at.values()) await b.close();
    await rm(dir, { recursive: true, force: true });
  });
  return {
    dir, daemon, at,
    async reload() {
      const r = await runCli(['reload', '-c', dir, '--pid', String(daemon.proc.pid), '--admin', `127.0.0.1:${daemon.adminPort}`]);
      if (r.code !== 0) throw new Error(`stickyd reload: ${r.stderr}`);
    },
  };
}

/** curl through the task's daemon: status, time in seconds, response headers (lower-cased names) */
interface Answer { status: number; seconds: number; headers: Record<string, string> }

async function request(task: Task, host: string, path: string, extra: string[] = []): Promise<Answer> {
  const r = await curl(['-o', '/dev/null', '-D', '-', '-w', '\n%{http_code} %{time_total}', '-H', `Host: ${host}`, ...extra, `http://127.0.0.1:${task.daemon.port}${path}`]);
  if (r.code !== 0) throw new Error(`curl: ${r.stderr}`);
  const lines = r.stdout.trimEnd().split(/\r?\n/);
  const [status, seconds] = lines.pop()!.split(' ');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(status), seconds: Number(seconds), headers };
}

const count = (b: RecordingBackend | undefined): number => b?.requests.length ?? 0;

test('helloworld: /hello on any host reaches both versions of the service; other paths get 404', async (t) => {
  const task = await startTask(t, 'helloworld');
  const v1 = task.at.get('10.0.0.31')!;
  const v2 = task.at.get('10.0.0.32')!;
  for (let i = 0; i < 40; i++) t.is((await request(task, i % 2 === 0 ? 'helloworld.example' : '10.1.2.3', '/hello')).status, 200);
  t.is(count(v1) + count(v2), 40);
  // no DestinationRule: the service's endpoints are balanced, not pinned (P(either < 5 of 40) < 1e-6)
  t.true(count(v1) >= 5 && count(v2) >= 5, `v1 ${count(v1)}, v2 ${count(v2)}`);
  t.is((await request(task, 'helloworld.example', '/health')).status, 404, 'the route matches /hello exactly');
  t.is((await request(task, 'helloworld.example', '/hello/x')).status, 404);
  t.is(count(v1) + count(v2), 40, 'unmatched paths reached no backend');
});

test('traffic shifting: reviews v1 50 / v3 50 splits requests evenly and v2 gets none; after applying virtual-service-reviews-v3 and a reload, all go to v3', async (t) => {
  const task = await startTask(t, 'traffic-shifting');
  const [v1, v2, v3] = ['10.0.0.21', '10.0.0.22', '10.0.0.23'].map((ip) => task.at.get(ip)!);
  const N = 200;
  for (let i = 0; i < N; i++) t.is((await request(task, 'reviews.bookinfo.example', '/reviews/0')).status, 200);
  t.is(count(v2), 0);
  t.is(count(v1!) + count(v3!), N);
  // binomial(200, 0.5): sd 7.1; 6 sd either way
  t.true(Math.abs(count(v1!) - N / 2) <= 42, `v1 ${count(v1!)} of ${N}`);
  t.log(`50/50: v1 ${count(v1!)}, v3 ${count(v3!)} of ${N}`);

  await copyFile(join(task.dir, 'then', 'virtual-service-reviews.yaml'), join(task.dir, 'virtual-service-reviews.yaml'));
  await task.reload();
  for (const b of [v1!, v2!, v3!]) b.reset();
  for (let i = 0; i < 50; i++) t.is((await request(task, 'reviews.bookinfo.example', '/reviews/0')).status, 200);
  t.deepEqual([count(v1!), count(v2!), count(v3!)], [0, 0, 50]);
});

test('request timeouts: ratings calls are delayed 2 s; reviews v2, slowed by its ratings call, is cut at 0.5 s with a 504', async (t) => {
  const task = await startTask(t, 'request-timeouts');
  const ratings = task.at.get('10.0.0.31')!;
  const reviewsV2 = task.at.get('10.0.0.22')!;
  const delayed = await request(task, 'ratings.bookinfo.example', '/ratings/0');
  t.is(delayed.status, 200);
  t.true(delayed.seconds >= 2, `ratings answered after ${delayed.seconds} s`);
  t.is(count(ratings), 1, 'the delayed call reached ratings');

  // In Bookinfo, reviews v2 calls ratings and so answers after the 2 s delay; the test backend waits as long.
  reviewsV2.delayMs = 2_000;
  const cut = await request(task, 'reviews.bookinfo.example', '/reviews/0');
  t.is(cut.status, 504);
  t.true(cut.seconds >= 0.45 && cut.seconds < 1.9, `504 after ${cut.seconds} s (timeout 0.5 s, backend 2 s)`);
  t.is(count(reviewsV2), 1, 'the request reached reviews v2 (subset v2), which was too slow');
  for (const ip of ['10.0.0.21', '10.0.0.23']) t.is(count(task.at.get(ip)), 0);
});

test('CORS (the VirtualService reference example): preflights from https://example.com are answered by stickyd; other origins get no CORS headers', async (t) => {
  const task = await startTask(t, 'cors');
  const ratings = task.at.get('10.0.0.31')!;
  const host = 'ratings.prod.svc.cluster.local';
  const pre = await request(task, host, '/ratings/0', ['-X', 'OPTIONS', '-H', 'Origin: https://example.com', '-H', 'Access-Control-Request-Method: POST', '-H', 'Access-Control-Request-Headers: X-Foo-Bar']);
  t.is(pre.status, 200);
  t.is(pre.headers['access-control-allow-origin'], 'https://example.com');
  t.regex(pre.headers['access-control-allow-methods'] ?? '', /^POST, ?GET$/);
  t.regex(pre.headers['access-control-allow-headers'] ?? '', /^x-foo-bar$/i);
  t.is(pre.headers['access-control-max-age'], '86400');
  t.is(pre.headers['access-control-allow-credentials'], undefined, 'allowCredentials: false sends no Allow-Credentials');
  t.is(count(ratings), 0, 'the preflight was answered by stickyd');

  const simple = await request(task, host, '/ratings/0', ['-H', 'Origin: https://example.com']);
  t.is(simple.status, 200);
  t.is(simple.headers['access-control-allow-origin'], 'https://example.com');
  t.is(count(ratings), 1);

  const other = await request(task, host, '/ratings/0', ['-H', 'Origin: https://example.com.evil.test']);
  t.is(other.status, 200);
  t.is(other.headers['access-control-allow-origin'], undefined, 'an origin that is not exactly https://example.com is not allowed');
  const otherPre = await request(task, host, '/ratings/0', ['-X', 'OPTIONS', '-H', 'Origin: http://example.com', '-H', 'Access-Control-Request-Method: POST']);
  t.is(otherPre.headers['access-control-allow-origin'], undefined);
  t.is(count(ratings), 3, 'a preflight from another origin is forwarded (unmatchedPreflights FORWARD, the default)');
});
