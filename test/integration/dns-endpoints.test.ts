// ServiceEntry resolution DNS / DNS_ROUND_ROBIN through the real daemon: an endpoint named
// `localhost` (the system's resolver), and names served by a DNS server this test controls
// (--dns-server), whose answer changes while requests flow: only the sessions of the changed
// addresses move, a failing server keeps the last good answer, and resolving never happens per
// request. The pool's backends listen on one port of several loopback addresses (127.0.0.0/8),
// as the instances behind one DNS name do.
import test from 'ava';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend, type Backend } from '../../src/demo/backend.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { curl } from '../helpers/curl.js';

const POOL = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
const KEYS = Array.from({ length: 300 }, (_, i) => `user-${i}`);

let local: Backend;
let pool: Backend[] = [];
let dns: TestDnsServer;
let daemon: Daemon;
let dir: string;

/** one backend per address, all on one port: retried on a fresh port when another process holds it on some address */
async function startPool(): Promise<Backend[]> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const first = await startBackend({ host: POOL[0]!, port: 0, version: 'v1', metadata: 'm', instance: POOL[0]! });
    const rest = await Promise.allSettled(POOL.slice(1).map((host) => startBackend({ host, port: first.port, version: 'v1', metadata: 'm', instance: host })));
    const ok = rest.filter((r): r is PromiseFulfilledResult<Backend> => r.status === 'fulfilled').map((r) => r.value);
    if (ok.length === rest.length) return [first, ...ok];
    await Promise.all([first, ...ok].map((b) => b.close()));
  }
  throw new Error('no port free on every pool address');
}

/** A ServiceEntry `host` resolved by `resolution` from the --dns-server, and its DestinationRule's loadBalancer. */
function dnsService(name: string, host: string, port: number, resolution: 'DNS' | 'DNS_ROUND_ROBIN', loadBalancer: string): string {
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name} }
spec:
  hosts: [${host}]
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  resolution: ${resolution}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${name} }
spec:
  host: ${host}
  trafficPolicy: { loadBalancer: ${loadBalancer} }
`;
}

function config(localPort: number, poolPort: number): string {
  const vs = (name: string, host: string) => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name} }
spec:
  hosts: [${name}.example]
  gateways: [gw]
  http: [{ route: [{ destination: { host: ${host} } }] }]
`;
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }]
${vs('local', 'local.internal')}${vs('pool', 'pool.test')}${vs('rr', 'rr.test')}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: local }
spec:
  hosts: [local.internal]
  ports: [{ number: 8080, name: http, protocol: HTTP, targetPort: ${localPort} }]
  resolution: DNS
  endpoints: [{ address: localhost }]
${dnsService('pool', 'pool.test', poolPort, 'DNS', '{ consistentHash: { httpHeaderName: x-user } }')}${dnsService('rr', 'rr.test', poolPort, 'DNS_ROUND_ROBIN', '{ simple: ROUND_ROBIN }')}`;
}

test.before(async () => {
  local = await startBackend({ host: '127.0.0.1', port: 0, version: 'v1', metadata: 'm', instance: 'local' });
  pool = await startPool();
  dns = await startDnsServer({ 'pool.test': POOL.slice(0, 4), 'rr.test': ['127.0.0.3', '127.0.0.1', '127.0.0.2'] }, 1);
  dir = await mkdtemp(join(tmpdir(), 'stickyd-dns-'));
  await writeFile(join(dir, 'istio.yaml'), config(local.port, pool[0]!.port));
  daemon = await startDaemon(dir, { workers: 2, args: ['--dns-server', `127.0.0.1:${dns.port}`] });
});

test.after.always(async () => {
  await daemon?.stop();
  await dns?.close();
  await Promise.all([local, ...pool].filter(Boolean).map((b) => b.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function admin(path: string): Promise<string> {
  const r = await curl([`http://127.0.0.1:${daemon.adminPort}${path}`]);
  if (r.code !== 0) throw new Error(`admin ${path}: curl exit ${r.code} ${r.stderr}`);
  return r.stdout;
}

interface DnsRow { name: string; addresses: string[]; via: string; ttlSec: number; lastError: string | null; failures: number; changes: number }
async function status(): Promise<{ generation: number; dns: DnsRow[] }> {
  return JSON.parse(await admin('/status')) as { generation: number; dns: DnsRow[] };
}

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** curl arguments for one GET /ping to `host` a header list (none: []), one curl run over one connection, an answer a line */
function pingArgs(host: string, headers: readonly (readonly string[])[]): string[] {
  const url = `http://127.0.0.1:${daemon.port}/ping`;
  return headers.flatMap((h, i) => [...(i > 0 ? ['--next'] : []), '-sS', '-H', `Host: ${host}`, ...h.flatMap((x) => ['-H', x]), '-w', '\n', url]);
}

/** key -> instance (the backend's address), every key in one curl run over one connection */
async function placeKeys(): Promise<Map<string, string>> {
  const args = pingArgs('pool.example', KEYS.map((k) => [`x-user: ${k}`]));
  const r = await curl(args, 30_000);
  if (r.code !== 0) throw new Error(`curl exit ${r.code}: ${r.stderr}`);
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== KEYS.length) throw new Error(`${lines.length} answers for ${KEYS.length} keys: ${r.stdout.slice(0, 500)}`);
  return new Map(lines.map((l, i) => [KEYS[i]!, (JSON.parse(l) as { instance: string }).instance]));
}

test.serial('an endpoint named localhost is resolved by the system (getaddrinfo) and serves', async (t) => {
  const r = await curl(['-H', 'Host: local.example', `http://127.0.0.1:${daemon.port}/ping`]);
  t.is(r.code, 0, r.stderr);
  t.is((JSON.parse(r.stdout) as { instance: string }).instance, 'local');
  const row = (await status()).dns.find((d) => d.name === 'localhost');
  t.like(row, { addresses: ['127.0.0.1'], via: 'lookup', ttlSec: 60, lastError: null });
});

test.serial('/status, /metrics and /config_dump show what each name resolved to', async (t) => {
  const s = await status();
  t.deepEqual(s.dns.map((d) => d.name), ['localhost', 'pool.test', 'rr.test']);
  t.like(s.dns[1], { addresses: POOL.slice(0, 4), via: 'dns', ttlSec: 1, lastError: null });
  const metrics = await admin('/metrics');
  t.regex(metrics, /^stickyd_dns_addresses\{name="pool\.test"\} 4$/m);
  t.regex(metrics, /^stickyd_dns_resolutions_total\{name="pool\.test",result="ok"\} [1-9]\d*$/m);
  const dump = JSON.parse(await admin('/config_dump')) as { subsets: { name: string; endpoints: { id: string }[]; dns: { sources: { name: string; mode: string }[] } | null }[] };
  const subset = (name: string) => dump.subsets.find((x) => x.name === name)!;
  t.deepEqual(subset('pool.test').endpoints.map((e) => e.id), POOL.slice(0, 4).map((a) => `${a}:${pool[0]!.port}`));
  t.deepEqual(subset('pool.test').dns?.sources.map((x) => `${x.name} ${x.mode}`), ['pool.test DNS']);
  // DNS_ROUND_ROBIN: one endpoint, the first address of the answer the server gave
  t.deepEqual(subset('rr.test').endpoints.map((e) => e.id), [`127.0.0.1:${pool[0]!.port}`]);
});

test.serial('DNS_ROUND_ROBIN: every request reaches the one endpoint', async (t) => {
  const r = await curl(pingArgs('rr.example', Array.from({ length: 20 }, () => [])));
  const seen = new Set(r.stdout.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { instance: string }).instance));
  t.deepEqual([...seen], ['127.0.0.1']);
});

test.serial('a changed answer moves only the sessions of the addresses that left or came; resolution is never per request', async (t) => {
  const queriesBefore = dns.queries.get('pool.test') ?? 0;
  const t0 = Date.now();
  const before = await placeKeys();
  const elapsedSec = (Date.now() - t0) / 1000;
  // 300 requests asked the DNS server about as often as the TTL says, not once each
  t.true((dns.queries.get('pool.test') ?? 0) - queriesBefore <= Math.ceil(elapsedSec) + 2, `queries ${(dns.queries.get('pool.test') ?? 0) - queriesBefore} in ${elapsedSec} s`);
  t.deepEqual([...new Set(before.values())].sort(), POOL.slice(0, 4), 'every address of the answer serves');
  const gen = (await status()).generation;
  dns.records.set('pool.test', ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.5']);
  const s = await until('the new answer applied', status, (v) => v.generation > gen && v.dns.find((d) => d.name === 'pool.test')!.addresses.includes('127.0.0.5'));
  t.like(s.dns.find((d) => d.name === 'pool.test'), { changes: 1 });
  t.is(s.generation, gen + 1, 'one new generation for one change');
  const after = await placeKeys();
  const moved = KEYS.filter((k) => before.get(k) !== after.get(k));
  for (const k of moved) t.true(before.get(k) === '127.0.0.4' || after.get(k) === '127.0.0.5', `${k}: ${before.get(k)} -> ${after.get(k)}`);
  const onGone = KEYS.filter((k) => before.get(k) === '127.0.0.4');
  t.true(onGone.length > 0);
  t.true(onGone.every((k) => after.get(k) !== '127.0.0.4'), 'every session on the removed address moved');
  t.true(after.size === KEYS.length && [...after.values()].includes('127.0.0.5'), 'the new address takes sessions');
  const stayed = KEYS.length - moved.length;
  t.log(`moved ${moved.length}/${KEYS.length} (on the removed address: ${onGone.length}, to the added: ${KEYS.filter((k) => after.get(k) === '127.0.0.5').length}); stayed ${stayed}`);
  t.true(stayed >= KEYS.length / 2, 'most sessions stay where they were');
});

test.serial('a failing DNS server keeps the last good answer serving, is retried, and a recovery that answers the same changes nothing', async (t) => {
  const good = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.5'];
  const before = await placeKeys();
  const gen = (await status()).generation;
  dns.records.delete('pool.test'); // NXDOMAIN from now on
  const failing = await until('a failed resolution', status, (v) => (v.dns.find((d) => d.name === 'pool.test')?.failures ?? 0) >= 2);
  t.like(failing.dns.find((d) => d.name === 'pool.test'), { addresses: good, lastError: 'ENOTFOUND' });
  t.regex(await admin('/metrics'), /^stickyd_dns_resolutions_total\{name="pool\.test",result="failed"\} [1-9]\d*$/m);
  t.deepEqual(await placeKeys(), before, 'the sessions are where they were while the server fails');
  dns.records.set('pool.test', [...good].reverse());
  await until('recovered', status, (v) => v.dns.find((d) => d.name === 'pool.test')?.lastError === null);
  const s = await status();
  t.is(s.generation, gen, 'the same set again builds nothing');
  t.like(s.dns.find((d) => d.name === 'pool.test'), { addresses: good, changes: 1 });
});
