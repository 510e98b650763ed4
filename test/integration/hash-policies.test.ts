// Every consistentHash key kind through the real daemon: header, source IP, query parameter,
// cookie with ttl 0s (session cookie) and without ttl (never minted), and a refused upstream.
import test from 'ava';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { startBackends, endpointsYaml } from '../helpers/backends.js';
import { curl } from '../helpers/curl.js';
import type { Backend } from '../../src/demo/backend.js';

const SPECS = [
  { instance: 'a', version: 'v1', metadata: 'm' },
  { instance: 'b', version: 'v1', metadata: 'm' },
  { instance: 'c', version: 'v1', metadata: 'm' },
];

function policies(): string {
  const sub = (name: string, hash: string) => `  - name: ${name}
    labels: { version: v1 }
    trafficPolicy: { loadBalancer: { consistentHash: ${hash} } }
`;
  const route = (prefix: string, subset: string) => `  - match: [{ uri: { prefix: /${prefix} } }]
    route: [{ destination: { host: demo-service, subset: ${subset}, port: { number: 8080 } } }]
`;
  return `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: { name: gw }
spec:
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: vs }
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
${route('h', 'hdr')}${route('ip', 'ip')}${route('q', 'query')}${route('zero', 'zero')}${route('nottl', 'nottl')}${route('dead', 'dead')}---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: dr }
spec:
  host: demo-service
  subsets:
${sub('hdr', '{ httpHeaderName: x-user }')}${sub('ip', '{ useSourceIp: true }')}${sub('query', '{ httpQueryParameterName: user }')}${sub('zero', '{ httpCookie: { name: sid, ttl: 0s } }')}${sub('nottl', '{ httpCookie: { name: sid } }')}  - name: dead
    labels: { version: dead }
`;
}

const DEAD_ENDPOINT = `---
apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata: { name: dead }
spec: { address: 127.0.0.1, ports: { http: 9 }, labels: { app: demo, version: dead } }
`;

let backends: Backend[];
let daemon: Daemon;
let dir: string;
let base: string;

test.before(async () => {
  backends = await startBackends(SPECS);
  dir = await mkdtemp(join(tmpdir(), 'stickyd-hash-'));
  await writeFile(join(dir, 'istio.yaml'), policies());
  await writeFile(join(dir, 'endpoints.yaml'), endpointsYaml(backends, SPECS) + DEAD_ENDPOINT);
  daemon = await startDaemon(dir, { workers: 2 });
  base = `http://127.0.0.1:${daemon.port}`;
});

test.after.always(async () => {
  await daemon?.stop();
  await Promise.all((backends ?? []).map((b) => b.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function instance(path: string, headers: string[] = []): Promise<{ instance: string; raw: string }> {
  const r = await curl(['-i', ...headers.flatMap((h) => ['-H', h]), `${base}${path}`]);
  const body = r.stdout.split('\r\n\r\n')[1] ?? '';
  return { instance: (JSON.parse(body) as { instance: string }).instance, raw: r.stdout };
}

async function spread(make: (i: number) => Promise<string>, n: number): Promise<Map<string, Set<string>>> {
  const byKey = new Map<string, Set<string>>();
  for (let i = 0; i < n; i++) {
    for (let rep = 0; rep < 3; rep++) {
      const inst = await make(i);
      const set = byKey.get(String(i)) ?? new Set();
      set.add(inst);
      byKey.set(String(i), set);
    }
  }
  return byKey;
}

test('httpHeaderName: the same header value sticks, different values spread, nothing is minted', async (t) => {
  const byKey = await spread(async (i) => {
    const r = await instance('/h/ping', [`x-user: user-${i}`]);
    t.false(/set-cookie/i.test(r.raw));
    return r.instance;
  }, 12);
  t.true([...byKey.values()].every((s) => s.size === 1), 'each header value sticks');
  t.true(new Set([...byKey.values()].map((s) => [...s][0])).size >= 2, 'values spread');
});

test('httpQueryParameterName: the same parameter sticks, different values spread', async (t) => {
  const byKey = await spread(async (i) => (await instance(`/q/ping?user=u${i}&x=1`)).instance, 12);
  t.true([...byKey.values()].every((s) => s.size === 1));
  t.true(new Set([...byKey.values()].map((s) => [...s][0])).size >= 2);
});

test('useSourceIp: one client address sticks across connections', async (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 8; i++) seen.add((await instance('/ip/ping')).instance);
  t.is(seen.size, 1);
});

test('ttl 0s mints a session cookie without Max-Age; no ttl mints nothing', async (t) => {
  const zero = await instance('/zero/ping');
  t.regex(zero.raw, /\r\nSet-Cookie: sid=[0-9a-f]{32}; Path=\/; HttpOnly\r\n/i);
  t.false(/Max-Age/i.test(zero.raw));
  const cookie = /sid=([0-9a-f]{32})/.exec(zero.raw)?.[1];
  for (let i = 0; i < 4; i++) t.is((await instance('/zero/ping', [`Cookie: sid=${cookie}`])).instance, zero.instance);
  const nottl = await instance('/nottl/ping');
  t.false(/set-cookie/i.test(nottl.raw));
  const pinned = await instance('/nottl/ping', ['Cookie: sid=abc']);
  for (let i = 0; i < 4; i++) t.is((await instance('/nottl/ping', ['Cookie: sid=abc'])).instance, pinned.instance, 'an existing cookie still pins');
});

test('an endpoint that refuses connections gets a 5xx with a plain-text reason, and the worker survives', async (t) => {
  const r = await curl(['-i', `${base}/dead/ping`]);
  t.regex(r.stdout, /^HTTP\/1\.1 50[23] /);
  t.regex(r.stdout, /content-type: text\/plain/i);
  t.regex(r.stdout, /127\.0\.0\.1:9|dead/);
  t.is((await instance('/h/ping', ['x-user: still-alive'])).instance.length, 1);
});
