// The access log on the real daemon: one JSON line per request on stdout, with the fields the
// issue lists, a hash of the session key and never the key itself; off and sampled modes; the
// daemon's own log lines stay apart.
import test, { type ExecutionContext } from 'ava';
import { runCli, type Daemon } from '../helpers/daemon.js';
import { startSeedStack } from '../helpers/stack.js';
import { getJson, sleep } from '../helpers/http.js';
import { parseSamples, sample, scrape, sumWhere } from '../helpers/prom.js';
import { initHasher } from '../../src/balancing/hash.js';

interface Line {
  msg: string; time: string; requestId: string; client: string; method: string; host: string; path: string;
  status: number; bytes: number; durationMs: number; route: string | null; subset: string | null; upstream: string | null;
  session: string; sessionKeyHash: string | null; pid: number;
}

async function setup(t: ExecutionContext, args: string[] = []) {
  const { daemon, backends } = await startSeedStack(t, { args });
  return { daemon, backends };
}

const ping = (d: Daemon, headers: Record<string, string> = {}, path = '/ping') =>
  getJson<{ instance: string }>(`http://127.0.0.1:${d.port}${path}`, { host: 'demo.example.com', ...headers });

/** Access lines arrive on the daemon's stdout shortly after the responses (one write per loop turn). */
async function linesFor(d: Daemon, n: number): Promise<Line[]> {
  for (let i = 0; i < 100 && d.accessLines.length < n; i++) await sleep(20);
  return d.accessLines.map((l) => JSON.parse(l) as Line);
}

test.serial('one JSON line per request with every field; the session key appears only as its hash', async (t) => {
  const { daemon, backends } = await setup(t);
  const hasher = await initHasher();
  const minted = await ping(daemon, { 'x-request-id': 'req-minted' }, '/ping?token=secret-query');
  const cookie = /^session=([0-9a-f]{32})/.exec(minted.headers['set-cookie']![0]!)![1]!;
  const reused = await ping(daemon, { cookie: `session=${cookie}`, 'x-request-id': 'req-reused' });
  const unknown = await ping(daemon, { host: 'unknown.example.com', 'x-request-id': 'req-404' });
  t.is(unknown.status, 404);
  const lines = await linesFor(daemon, 3);
  t.is(lines.length, 3);
  const byId = new Map(lines.map((l) => [l.requestId, l]));
  const endpointOf = (instance: string): string => `127.0.0.1:${backends.find((b) => b.instance === instance)!.port}`;
  const hash = hasher.hash32(cookie).toString(16).padStart(8, '0');

  t.like(byId.get('req-minted'), {
    msg: 'access', client: '127.0.0.1', method: 'GET', host: 'demo.example.com', path: '/ping', status: 200,
    route: 'demo-vs/http[1]', subset: 'demo-service/v1', upstream: endpointOf(minted.body.instance), session: 'minted', sessionKeyHash: hash,
  });
  t.like(byId.get('req-reused'), { status: 200, session: 'reused', sessionKeyHash: hash, upstream: endpointOf(reused.body.instance) });
  t.like(byId.get('req-404'), { status: 404, host: 'unknown.example.com', route: null, subset: null, upstream: null, session: 'none', sessionKeyHash: null });
  for (const l of lines) {
    t.true(l.durationMs >= 0 && l.durationMs < 10_000);
    t.true(Math.abs(Date.parse(l.time) - Date.now()) < 60_000);
    t.true(typeof l.pid === 'number');
  }
  const okBody = JSON.stringify(minted.body).length + 1; // the backend's JSON line
  t.is(byId.get('req-minted')!.bytes, okBody);
  t.is(byId.get('req-404')!.bytes, 'no route for host unknown.example.com\n'.length);
  const raw = daemon.accessLines.join('\n');
  t.false(raw.includes(cookie), 'the raw cookie value is never logged');
  t.false(raw.includes('secret-query'), 'the query string is not logged');
  // the daemon's own lines are still parsed apart (the helper found 'ready')
  t.true(daemon.lines.some((l) => l.msg === 'ready'));
  t.false(daemon.lines.some((l) => l.msg === 'access'));
});

test.serial('--access-log off writes no lines; the metric says so', async (t) => {
  const { daemon } = await setup(t, ['--access-log', 'off']);
  for (let i = 0; i < 10; i++) t.is((await ping(daemon)).status, 200);
  await sleep(200);
  t.is(daemon.accessLines.length, 0);
  const s = parseSamples((await scrape(daemon.adminPort)).text);
  t.is(sample(s, 'stickyd_access_log_lines_total'), 0);
  t.is(sumWhere(s, 'stickyd_requests_total'), 10, 'metrics do not depend on the log');
});

test.serial('--access-log-sample 0.1 logs about a tenth of the requests', async (t) => {
  const { daemon } = await setup(t, ['--access-log-sample', '0.1']);
  for (let i = 0; i < 300; i++) await ping(daemon);
  await sleep(200);
  const n = daemon.accessLines.length;
  // binomial(300, 0.1): mean 30, sd ~5.2; bounds at about 4.5 sd
  t.true(n >= 7 && n <= 54, `${n} lines for 300 requests`);
  const s = parseSamples((await scrape(daemon.adminPort)).text);
  t.is(sample(s, 'stickyd_access_log_lines_total'), n);
});

test('bad --access-log values are usage errors', async (t) => {
  for (const args of [['--access-log', 'maybe'], ['--access-log-sample', '0'], ['--access-log-sample', '1.5'], ['--access-log-sample', 'x']]) {
    const r = await runCli(['run', '-c', '/nonexistent', ...args]);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, /--access-log/);
  }
});
