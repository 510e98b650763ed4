// GET /metrics on the real daemon (2 workers, the seed's five backends): known traffic must show
// up with exact counts per label, survive a reload and a rolling restart, and pass promtool.
import test, { type ExecutionContext } from 'ava';
import type { Daemon } from '../helpers/daemon.js';
import { startSeedStack } from '../helpers/stack.js';
import { BROKEN_YAML, stickyWithWeights, writeAtomic } from '../helpers/configs.js';
import { getJson, sleep, alive, childPids } from '../helpers/http.js';
import { parseSamples, promtoolCheck, sample, scrape, sumWhere, type Samples } from '../helpers/prom.js';

const HOST = 'demo.example.com';
const CATCH_ALL = 'demo-vs/http[1]';
const DEV_ROUTE = 'demo-vs/http[0]';
const V1 = 'demo-service/v1';

interface Ping { instance: string; version: string }
interface Status { generation: number; ready: boolean; workers: { pid: number }[] }

async function setup(t: ExecutionContext) {
  // the session cache is off by default (plain hash mode); on here, so its counters are checked too
  const { daemon, backends, cfg } = await startSeedStack(t, { args: ['--session-cache', '100000'] });
  const endpointOf = (instance: string): string => `127.0.0.1:${backends.find((b) => b.instance === instance)!.port}`;
  return { daemon, backends, cfg, endpointOf };
}

async function ping(daemon: Daemon, headers: Record<string, string> = {}): Promise<{ status: number; body: Ping; setCookie: string | null }> {
  const r = await getJson<Ping>(`http://127.0.0.1:${daemon.port}/ping`, { host: HOST, ...headers });
  const sc = r.headers['set-cookie']?.[0] ?? null;
  return { status: r.status, body: r.body, setCookie: sc };
}

async function metrics(daemon: Daemon): Promise<{ text: string; s: Samples }> {
  const r = await scrape(daemon.adminPort);
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return { text: r.text, s: parseSamples(r.text) };
}

async function status(daemon: Daemon): Promise<Status> {
  return (await getJson<Status>(`http://127.0.0.1:${daemon.adminPort}/status`)).body;
}

async function waitFor(pred: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (await pred()) return true; await sleep(50); }
  return false;
}

const req2xx = (route: string, subset: string, endpoint: string) => ({ route, subset, endpoint, code: '2xx' });

function checkWithPromtool(t: ExecutionContext, text: string): void {
  const r = promtoolCheck(text);
  if (r === null) {
    if (process.env.CI) t.fail('promtool is missing in CI (Debian package: prometheus)');
    else t.log('promtool not installed (Debian package: prometheus): format not checked by a real parser');
    return;
  }
  t.true(r.ok, r.output);
  t.is(r.output, '', 'no promtool lint findings');
}

test.serial('known traffic: exact counts per route, subset, endpoint and status class; promtool accepts the scrape', async (t) => {
  const { daemon, backends, endpointOf } = await setup(t);
  const served = new Map<string, number>();
  const count = (instance: string): void => { served.set(endpointOf(instance), (served.get(endpointOf(instance)) ?? 0) + 1); };
  let cookie = '';
  for (let i = 0; i < 20; i++) {
    const r = await ping(daemon);
    t.is(r.status, 200);
    t.truthy(r.setCookie);
    if (i === 0) cookie = /^session=([0-9a-f]+)/.exec(r.setCookie!)![1]!;
    count(r.body.instance);
  }
  for (let i = 0; i < 30; i++) {
    const r = await ping(daemon, { cookie: `session=${cookie}` });
    t.is(r.status, 200);
    t.is(r.setCookie, null);
    count(r.body.instance);
  }
  for (let i = 0; i < 5; i++) t.is((await ping(daemon, { host: 'unknown.example.com' })).status, 404);
  for (let i = 0; i < 4; i++) t.is((await ping(daemon, { stage: 'dev' })).body.version, 'v3');

  const { text, s } = await metrics(daemon);
  for (const b of backends.filter((x) => x.instance.startsWith('demo-v1-'))) {
    const id = `127.0.0.1:${b.port}`;
    t.is(sample(s, 'stickyd_requests_total', req2xx(CATCH_ALL, V1, id)), served.get(id) ?? 0, `${b.instance} (${id})`);
  }
  t.is(sumWhere(s, 'stickyd_requests_total', { route: CATCH_ALL }), 50);
  const v3 = backends.find((b) => b.instance === 'demo-v3-a')!;
  t.is(sample(s, 'stickyd_requests_total', req2xx(DEV_ROUTE, 'demo-service/v3', `127.0.0.1:${v3.port}`)), 4);
  t.is(sample(s, 'stickyd_requests_total', { route: '', subset: '', endpoint: '', code: '4xx' }), 5);
  t.is(sumWhere(s, 'stickyd_requests_total'), 59);
  t.is(sample(s, 'stickyd_responses_total', { code: '2xx' }), 54);
  t.is(sample(s, 'stickyd_responses_total', { code: '4xx' }), 5);
  t.is(sample(s, 'stickyd_session_cookies_minted_total', { subset: V1 }), 20);
  const hits = sample(s, 'stickyd_session_cache_hits_total')!;
  const misses = sample(s, 'stickyd_session_cache_misses_total')!;
  t.is(hits + misses, 50, 'every v1 request resolved its key once');
  // 20 minted keys miss once each; the reused one misses at most once per worker
  t.true(misses >= 20 && misses <= 22, `misses ${misses}`);
  t.is(sample(s, 'stickyd_session_cache_entries'), misses);
  t.is(sample(s, 'stickyd_session_cache_evictions_total'), 0);
  t.is(sample(s, 'stickyd_request_duration_seconds_count', { subset: V1 }), 50);
  t.is(sample(s, 'stickyd_request_duration_seconds_bucket', { subset: V1, le: '+Inf' }), 50);
  t.is(sample(s, 'stickyd_request_duration_seconds_count', { subset: '' }), 5);
  t.is(sample(s, 'stickyd_requests_in_flight'), 0);
  t.is(sample(s, 'stickyd_access_log_lines_total'), 59);
  t.is(sample(s, 'stickyd_connections_total'), 59, 'one connection per request (agent: false)');
  t.is(sample(s, 'stickyd_config_generation'), 1);
  t.is(sample(s, 'stickyd_workers'), 2);
  t.is(sample(s, 'stickyd_ready'), 1);
  t.is(sample(s, 'stickyd_worker_restarts_total'), 0);
  t.is(sample(s, 'stickyd_upstream_connect_failures_total', { subset: V1, endpoint: endpointOf('demo-v1-a') }), 0);
  // three v1 endpoints own the whole ring between them
  const shares = backends.filter((b) => b.instance.startsWith('demo-v1-')).map((b) => sample(s, 'stickyd_endpoint_hash_share_ratio', { subset: V1, endpoint: `127.0.0.1:${b.port}`, table: 'ring' })!);
  t.true(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-9, `shares ${shares}`);
  t.true(shares.every((x) => x > 0.15 && x < 0.5), `shares ${shares}`);
  t.is(sample(s, 'stickyd_endpoint_healthy', { subset: V1, endpoint: endpointOf('demo-v1-a') }), 1);
  checkWithPromtool(t, text);
});

test.serial('a reload shows in generation and reload counters; counters carry over the snapshot swap exactly', async (t) => {
  const { daemon, cfg, endpointOf } = await setup(t);
  for (let i = 0; i < 12; i++) t.is((await ping(daemon)).status, 200);
  const before = (await metrics(daemon)).s;
  const requestsBefore = [...before].filter(([k]) => k.startsWith('stickyd_requests_total{'));
  t.is(sumWhere(before, 'stickyd_requests_total'), 12);

  await writeAtomic(cfg.dir, 'ingress-sticky.yaml', await stickyWithWeights(50, 50));
  daemon.proc.kill('SIGHUP');
  t.true(await waitFor(async () => (await status(daemon)).generation === 2, 15_000), 'generation 2 applied');
  let { s, text } = await metrics(daemon);
  t.is(sample(s, 'stickyd_config_generation'), 2);
  t.is(sample(s, 'stickyd_config_reloads_total', { result: 'ok' }), 1);
  t.is(sample(s, 'stickyd_config_reloads_total', { result: 'failed' }), 0);
  for (const [key, value] of requestsBefore) t.is(s.get(key), value, `${key} survives the reload`);

  // new traffic lands on the new snapshot's meters and adds to the same series
  const served = new Map<string, number>();
  for (let i = 0; i < 10; i++) {
    const r = await ping(daemon);
    const id = endpointOf(r.body.instance);
    served.set(id, (served.get(id) ?? 0) + 1);
  }
  s = (await metrics(daemon)).s;
  t.is(sumWhere(s, 'stickyd_requests_total'), 22);
  for (const [id, n] of served) {
    const subset = id === endpointOf('demo-v2-a') ? 'demo-service/v2' : V1;
    const old = before.get(`stickyd_requests_total{route="${CATCH_ALL}",subset="${subset}",endpoint="${id}",code="2xx"}`) ?? 0;
    t.is(sample(s, 'stickyd_requests_total', req2xx(CATCH_ALL, subset, id)), old + n, id);
  }

  await writeAtomic(cfg.dir, 'ingress-sticky.yaml', BROKEN_YAML);
  daemon.proc.kill('SIGHUP');
  t.true(await waitFor(async () => sample((await metrics(daemon)).s, 'stickyd_config_reloads_total', { result: 'failed' }) === 1, 15_000));
  ({ s, text } = await metrics(daemon));
  t.is(sample(s, 'stickyd_config_last_reload_successful'), 0);
  t.is(sample(s, 'stickyd_config_generation'), 2, 'the previous generation keeps serving');
  checkWithPromtool(t, text);
});

test.serial('rolling restart (SIGUSR2): drained workers hand over their counts, nothing is lost', async (t) => {
  const { daemon } = await setup(t);
  for (let i = 0; i < 7; i++) await ping(daemon);
  t.is(sumWhere((await metrics(daemon)).s, 'stickyd_requests_total'), 7);
  // No scrape and no /status (which also asks the workers) from here until the old workers are
  // gone: the 25 requests below reach the primary only through the workers' finalStats.
  const pids = await childPids(daemon.proc.pid!);
  t.is(pids.length, 2);
  for (let i = 0; i < 25; i++) t.is((await ping(daemon)).status, 200);
  daemon.proc.kill('SIGUSR2');
  t.true(await waitFor(async () => {
    const now = await childPids(daemon.proc.pid!);
    const ready = (await getJson(`http://127.0.0.1:${daemon.adminPort}/ready`)).status === 200;
    return ready && now.length === 2 && now.every((p) => !pids.includes(p)) && pids.every((p) => !alive(p));
  }, 20_000), 'both workers replaced');
  const { s } = await metrics(daemon);
  t.is(sumWhere(s, 'stickyd_requests_total'), 32);
  t.is(sample(s, 'stickyd_session_cookies_minted_total', { subset: V1 }), 32);
  t.is(sample(s, 'stickyd_access_log_lines_total'), 32);
  t.is(sample(s, 'stickyd_worker_restarts_total'), 0, 'a rolling restart is not a crash');
  t.is(sample(s, 'stickyd_workers'), 2);
});

test.serial('kill -9 of a worker: worker_restarts_total counts it and the totals never go down', async (t) => {
  const { daemon } = await setup(t);
  for (let i = 0; i < 9; i++) await ping(daemon);
  const before = (await metrics(daemon)).s;
  t.is(sumWhere(before, 'stickyd_requests_total'), 9);
  const victim = (await status(daemon)).workers[0]!.pid;
  process.kill(victim, 'SIGKILL');
  t.true(await waitFor(async () => {
    const st = await status(daemon);
    return st.ready && st.workers.length === 2 && !st.workers.some((w) => w.pid === victim);
  }, 10_000), 'replaced');
  const { s, text } = await metrics(daemon);
  t.is(sample(s, 'stickyd_worker_restarts_total'), 1);
  t.is(sumWhere(s, 'stickyd_requests_total'), 9, 'the dead worker\'s last scraped counts are kept');
  for (const [key, value] of before) if (key.startsWith('stickyd_requests_total{')) t.is(s.get(key), value, key);
  for (let i = 0; i < 3; i++) await ping(daemon);
  t.is(sumWhere((await metrics(daemon)).s, 'stickyd_requests_total'), 12);
  checkWithPromtool(t, text);
});

test.serial('upstream failures and retries are counted per endpoint; the retried request counts where it was served', async (t) => {
  const { daemon, backends, endpointOf } = await setup(t);
  const victim = backends.find((b) => b.instance === 'demo-v1-a')!;
  // cookies whose sessions live on the victim
  const cookies: string[] = [];
  for (let i = 0; cookies.length < 4 && i < 200; i++) {
    const value = `user-${i}`;
    if ((await ping(daemon, { cookie: `session=${value}` })).body.instance === victim.instance) cookies.push(value);
  }
  t.is(cookies.length, 4);
  const before = (await metrics(daemon)).s;
  await victim.close();
  const served = new Map<string, number>();
  for (const value of cookies) {
    // Istio's default retry policy (connect-failure, 2 attempts) sends each to another endpoint
    const r = await ping(daemon, { cookie: `session=${value}` });
    t.is(r.status, 200);
    t.not(r.body.instance, victim.instance);
    served.set(endpointOf(r.body.instance), (served.get(endpointOf(r.body.instance)) ?? 0) + 1);
  }
  const { s, text } = await metrics(daemon);
  const at = { subset: V1, endpoint: `127.0.0.1:${victim.port}` };
  t.is(sample(s, 'stickyd_upstream_connect_failures_total', at), 4);
  t.is(sample(s, 'stickyd_upstream_retries_total', at), 4);
  t.is(sample(s, 'stickyd_requests_total', req2xx(CATCH_ALL, V1, at.endpoint)), sample(before, 'stickyd_requests_total', req2xx(CATCH_ALL, V1, at.endpoint)), 'nothing was served by the dead endpoint');
  for (const [id, n] of served) {
    const old = sample(before, 'stickyd_requests_total', req2xx(CATCH_ALL, V1, id)) ?? 0;
    t.is(sample(s, 'stickyd_requests_total', req2xx(CATCH_ALL, V1, id)), old + n, `${id} served the retries`);
  }
  checkWithPromtool(t, text);
});
