// The admin listener's JSON endpoints on the real daemon: /status (workers, subsets, endpoints,
// health, shares, request counts; reloads), /config_dump, /ready, /live, and what it refuses.
import test from 'ava';
import http from 'node:http';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { startBackends, configDir } from '../helpers/backends.js';
import { stickyWithWeights, writeAtomic } from '../helpers/configs.js';
import { getJson, sleep } from '../helpers/http.js';
import type { Backend } from '../../src/demo/backend.js';

interface EndpointStatus { id: string; address: string; port: number; weight: number; healthy: boolean; share: number; requests: number }
interface SubsetStatus { name: string; host: string; subset: string | null; policy: string; shareBasis: string; endpoints: EndpointStatus[] }
interface WorkerStatus { pid: number; epoch: number; uptimeSec: number; requests: number | null; answered: boolean; listening: boolean }
interface Status {
  generation: number; configPath: string; configHash: string; ready: boolean; uptimeSec: number;
  workers: WorkerStatus[]; subsets: SubsetStatus[]; totals: { requests: number };
  reloads: { ok: number; failed: number }; lastReload: { ok: boolean; epoch: number } | null;
}

let backends: Backend[];
let daemon: Daemon;
let cfg: { dir: string; cleanup(): Promise<void> };
const admin = (path: string): string => `http://127.0.0.1:${daemon.adminPort}${path}`;

test.before(async () => {
  backends = await startBackends();
  cfg = await configDir('demo', backends);
  daemon = await startDaemon(cfg.dir, { workers: 2 });
});

test.after.always(async () => {
  await daemon?.stop();
  await Promise.all((backends ?? []).map((b) => b.close()));
  await cfg?.cleanup();
});

async function traffic(n: number): Promise<Map<string, number>> {
  const served = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await getJson<{ instance: string }>(`http://127.0.0.1:${daemon.port}/ping`, { host: 'demo.example.com' });
    const b = backends.find((x) => x.instance === r.body.instance)!;
    served.set(`127.0.0.1:${b.port}`, (served.get(`127.0.0.1:${b.port}`) ?? 0) + 1);
  }
  return served;
}

function request(method: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: daemon.adminPort, method, path, agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.end();
  });
}

test.serial('/status: generation, config, workers with requests, and every subset with endpoints, health, share and requests', async (t) => {
  const served = await traffic(24);
  const { status, body: s, headers } = await getJson<Status>(admin('/status'));
  t.is(status, 200);
  t.regex(String(headers['content-type']), /^application\/json/);
  t.is(s.generation, 1);
  t.is(s.configPath, cfg.dir);
  t.regex(s.configHash, /^[0-9a-f]{64}$/);
  t.true(s.ready);
  t.is(s.workers.length, 2);
  for (const w of s.workers) {
    t.true(w.answered);
    t.is(w.epoch, 1);
    t.is(typeof w.uptimeSec, 'number');
  }
  t.is(s.workers.reduce((a, w) => a + (w.requests ?? 0), 0), 24, 'worker request counts add up');
  t.is(s.totals.requests, 24);
  t.deepEqual(s.subsets.map((x) => x.name).sort(), ['demo-service/v1', 'demo-service/v2', 'demo-service/v3']);
  const v1 = s.subsets.find((x) => x.name === 'demo-service/v1')!;
  t.is(v1.policy, 'consistentHash(cookie session, ring)');
  t.is(v1.shareBasis, 'ring');
  t.is(v1.endpoints.length, 3);
  t.true(Math.abs(v1.endpoints.reduce((a, e) => a + e.share, 0) - 1) < 1e-9);
  for (const e of v1.endpoints) {
    t.true(e.healthy);
    t.is(e.requests, served.get(e.id) ?? 0, e.id);
  }
  const v3 = s.subsets.find((x) => x.name === 'demo-service/v3')!;
  t.is(v3.shareBasis, 'weight');
  t.deepEqual(v3.endpoints.map((e) => e.share), [1]);
});

test.serial('/config_dump: routes with their subsets, policies, and tables as summaries', async (t) => {
  const { status, body } = await getJson<{
    generation: number;
    listeners: { virtualHosts: { name: string; routes: { name: string; destinations: { subsetName: string; weight: number }[] }[] }[] }[];
    subsets: { name: string; policy: { kind: string; key?: { kind: string; name: string; ttlSec: number } }; table: unknown; endpoints: unknown[] }[];
    settings: Record<string, unknown>;
  }>(admin('/config_dump'));
  t.is(status, 200);
  t.is(body.generation, 1);
  const routes = body.listeners[0]!.virtualHosts[0]!.routes;
  t.deepEqual(routes.map((r) => r.name), ['demo-vs/http[0]', 'demo-vs/http[1]']);
  t.deepEqual(routes[1]!.destinations.map((d) => [d.subsetName, d.weight]), [['demo-service/v1', 100], ['demo-service/v2', 0]]);
  const v1 = body.subsets.find((x) => x.name === 'demo-service/v1')!;
  t.like(v1.policy, { kind: 'hash', key: { kind: 'cookie', name: 'session', ttlSec: 60 } });
  t.deepEqual(v1.table, { kind: 'ring', points: 3 * 160 }, 'nginx ketama: 160 points per unit of weight');
  t.is(body.subsets.find((x) => x.name === 'demo-service/v2')!.table, null);
  t.is(typeof body.settings.sessionCacheSize, 'number');
});

test.serial('/ready and /live answer 200; unknown paths 404; other methods 405', async (t) => {
  t.is((await getJson(admin('/ready'))).status, 200);
  t.is((await getJson(admin('/live'))).status, 200);
  t.is((await getJson(admin('/nope'))).status, 404);
  t.is(await request('POST', '/status'), 405);
  const page = await getJson<string>(admin('/'));
  t.is(page.status, 200);
  t.regex(String(page.headers['content-type']), /^text\/html/);
  t.regex(page.body, /<title>stickyd<\/title>/);
});

test.serial('a reload shows up in /status: generation, reload counters, last reload, workers on the new epoch', async (t) => {
  await writeAtomic(cfg.dir, 'ingress-sticky.yaml', await stickyWithWeights(90, 10));
  daemon.proc.kill('SIGHUP');
  let s: Status | null = null;
  for (let i = 0; i < 300 && s?.generation !== 2; i++) {
    await sleep(50);
    s = (await getJson<Status>(admin('/status'))).body;
  }
  t.is(s?.generation, 2);
  t.like(s?.reloads, { ok: 1, failed: 0 });
  t.like(s?.lastReload, { ok: true, epoch: 2 });
  t.true(s!.workers.every((w) => w.epoch === 2));
  t.is(s?.totals.requests, 24, 'counts carried over the reload');
  const dump = (await getJson<{ generation: number; listeners: { virtualHosts: { routes: { destinations: { weight: number }[] }[] }[] }[] }>(admin('/config_dump'))).body;
  t.is(dump.generation, 2);
  t.deepEqual(dump.listeners[0]!.virtualHosts[0]!.routes[1]!.destinations.map((d) => d.weight), [90, 10]);
});
