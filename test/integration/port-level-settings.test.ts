// DestinationRule portLevelSettings through the real daemon: one service with two ports, the rule
// hashing by header at the top level and ROUND_ROBIN on port 9090. Port 8080 keeps a user on one
// endpoint; port 9090 spreads the same user over all three, and takes neither the top level's
// connectionPool nor its outlierDetection (Istio: a port-level policy inherits nothing).
import test from 'ava';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend, type Backend } from '../../src/demo/backend.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { curl } from '../helpers/curl.js';

let backends: Backend[] = [];
let daemon: Daemon;
let dir: string;

function config(ports: readonly number[]): string {
  const endpoints = ports.map((p) => `  - { address: 127.0.0.1, ports: { web: ${p}, admin: ${p} } }`).join('\n');
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: svc }
spec:
  hosts: [web.example, admin.example]
  gateways: [gw]
  http:
  - match: [{ authority: { exact: admin.example } }]
    route: [{ destination: { host: svc.internal, port: { number: 9090 } } }]
  - route: [{ destination: { host: svc.internal, port: { number: 8080 } } }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: svc }
spec:
  hosts: [svc.internal]
  ports:
  - { number: 8080, name: web, protocol: HTTP }
  - { number: 9090, name: admin, protocol: HTTP }
  resolution: STATIC
  endpoints:
${endpoints}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: svc }
spec:
  host: svc.internal
  trafficPolicy:
    loadBalancer: { consistentHash: { httpHeaderName: x-user } }
    connectionPool: { tcp: { maxConnections: 5 } }
    outlierDetection: { consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 30s }
    portLevelSettings:
    - port: { number: 9090 }
      loadBalancer: { simple: ROUND_ROBIN }
`;
}

test.before(async () => {
  backends = await Promise.all(['a', 'b', 'c'].map((instance) => startBackend({ host: '127.0.0.1', port: 0, version: 'v1', metadata: 'm', instance })));
  dir = await mkdtemp(join(tmpdir(), 'stickyd-pls-'));
  await writeFile(join(dir, 'istio.yaml'), config(backends.map((b) => b.port)));
  daemon = await startDaemon(dir, { workers: 2 });
});

test.after.always(async () => {
  await daemon?.stop();
  await Promise.all(backends.map((b) => b.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** the instances that answered `n` requests for user alice, over one keep-alive connection (one worker) */
async function instances(host: string, n: number): Promise<string[]> {
  const url = `http://127.0.0.1:${daemon.port}/ping`;
  const args = Array.from({ length: n }, (_, i) => [...(i > 0 ? ['--next'] : []), '-sS', '-H', `Host: ${host}`, '-H', 'x-user: alice', '-w', '\n', url]).flat();
  const r = await curl(args);
  if (r.code !== 0) throw new Error(`curl exit ${r.code}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { instance: string }).instance);
}

test('port 8080 follows the top-level hash: one user, one endpoint', async (t) => {
  const seen = await instances('web.example', 12);
  t.is(seen.length, 12);
  t.is(new Set(seen).size, 1, seen.join(','));
});

test('port 9090 follows its port-level ROUND_ROBIN: the same user rotates over every endpoint', async (t) => {
  const seen = await instances('admin.example', 12);
  t.is(seen.length, 12);
  t.deepEqual([...new Set(seen)].sort(), ['a', 'b', 'c']);
  // strict rotation on one connection: each instance every third request
  for (let i = 3; i < seen.length; i++) t.is(seen[i], seen[i - 3]);
});

test('/config_dump: port 9090 inherits neither the top-level connectionPool nor its outlierDetection', async (t) => {
  const r = await curl([`http://127.0.0.1:${daemon.adminPort}/config_dump`]);
  const dump = JSON.parse(r.stdout) as { subsets: { port: number; policy: { kind: string }; connectionPool: unknown; outlier: unknown }[] };
  const at = (port: number) => dump.subsets.find((s) => s.port === port)!;
  t.is(at(8080).policy.kind, 'hash');
  t.like(at(8080).connectionPool, { maxConnections: 5 });
  t.not(at(8080).outlier ?? null, null);
  t.is(at(9090).policy.kind, 'roundRobin');
  t.is(at(9090).connectionPool ?? null, null);
  t.is(at(9090).outlier ?? null, null);
});
