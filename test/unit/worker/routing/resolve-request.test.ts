import test from 'ava';
import { DEFAULT_SETTINGS } from '../../../../src/config/settings.js';
import type { Kernel } from '../../../../src/kernel/index.js';
import type { Listener, Route, Snapshot, Subset } from '../../../../src/snapshot/types.js';
import { HealthState } from '../../../../src/worker/routing/health-state.js';
import { resolveRequest, type Resolution } from '../../../../src/worker/routing/resolve-request.js';
import { buildRuntimeSnapshot } from '../../../../src/worker/routing/runtime-snapshot.js';

// One endpoint per subset, so the fake kernel's answer (slot 0) is the only endpoint there is.
const fakeKernel: Kernel = { load: () => ({ select: () => 0 }) };
const fakeHasher = { hash32: (): number => 0, destinationHash32: (): number => 0 };

const sticky: Subset = {
  id: 0,
  name: 'svc/v1',
  host: 'svc',
  subsetName: 'v1',
  port: 8080,
  endpoints: [{ id: '10.0.0.1:8080', address: '10.0.0.1', port: 8080, weight: 1, labels: {} }],
  policy: { kind: 'hash', key: { kind: 'cookie', name: 'session', path: '/', ttlSec: 60 }, table: 'ring', minimumRingSize: null, maglevTableSize: null },
  table: { kind: 'ring', hashes: Uint32Array.of(0), endpoints: Uint32Array.of(0) },
};

const forward: Route = { name: 'vs/http[0]', matches: [{ uri: { kind: 'prefix', value: '/api' }, method: null, authority: null, headers: [], queryParams: [] }], destinations: [{ subset: 0, weight: 100 }], totalWeight: 100, timeoutMs: null, retries: null };
const direct: Route = { name: 'vs/http[1]', matches: [], destinations: [], totalWeight: 0, timeoutMs: null, retries: null, directResponse: { status: 204, body: null } };

const listener: Listener = {
  port: 80,
  protocol: 'HTTP',
  servers: [],
  gatewayHosts: ['*'],
  virtualHosts: [{ name: 'vs', hosts: ['demo.example.com'], routes: [forward, direct] }],
};

const snapshot: Snapshot = { epoch: 1, configHash: 'x', configPath: '/etc/stickyd', listeners: [listener], subsets: [sticky], settings: { ...DEFAULT_SETTINGS, sessionCacheSize: 100, maxKeyLength: 64 } };
const rt = buildRuntimeSnapshot(snapshot, { kernel: fakeKernel, hasher: fakeHasher });

function request(url: string, headers: Record<string, string> = {}, method = 'GET') {
  const rawHeaders = Object.entries(headers).flat();
  return { method, url, headers, rawHeaders, httpVersionMajor: 1, httpVersionMinor: 1, socket: {} };
}

function resolve(req: ReturnType<typeof request>, health = new HealthState()): Resolution {
  return resolveRequest(rt, 80, req, health);
}

test('the guard refuses an ambiguous request (two Host lines) before anything is routed, and says it is hostile', (t) => {
  const req = { ...request('/api', { host: 'demo.example.com' }), rawHeaders: ['Host', 'demo.example.com', 'Host', 'evil.test'] };
  const r = resolve(req);
  t.is(r.kind, 'refused');
  if (r.kind === 'refused') t.true(r.hostile);
});

test('OPTIONS * is answered by the gateway itself', (t) => {
  t.is(resolve(request('*', { host: 'demo.example.com' }, 'OPTIONS')).kind, 'server-options');
});

test('an unknown host and an unmatched path are refusals that name the host and the path, not hostile ones', (t) => {
  const noHost = resolve(request('/api', { host: 'other.test' }));
  t.like(noHost, { kind: 'refused', code: 'STICKYD_ERR_NO_HOST', hostile: false });
  if (noHost.kind === 'refused') t.regex(noHost.message, /other\.test/);
});

test('a cookie-less request to a sticky subset mints the key it is placed by, and a returning one reuses it', (t) => {
  const first = resolve(request('/api/x?y=1', { host: 'demo.example.com' }));
  if (first.kind !== 'routed') return t.fail(first.kind);
  t.is(first.target?.subset.name, 'svc/v1');
  t.is(first.index, 0);
  t.is(first.upstreamPath, '/api/x?y=1');
  t.truthy(first.key);
  t.true(first.setCookie?.startsWith(`session=${first.key}`));
  const again = resolve(request('/api/x', { host: 'demo.example.com', cookie: `session=${first.key}` }));
  if (again.kind !== 'routed') return t.fail(again.kind);
  t.is(again.key, first.key);
  t.is(again.setCookie, null);
});

test('with the only endpoint down the request is routed but has no endpoint', (t) => {
  const health = new HealthState();
  health.apply(1, ['10.0.0.1:8080']);
  const r = resolve(request('/api', { host: 'demo.example.com' }), health);
  t.like(r, { kind: 'routed', index: -1 });
});

test('a route that answers itself has no target and mints nothing', (t) => {
  const r = resolve(request('/other', { host: 'demo.example.com' }));
  t.like(r, { kind: 'routed', target: null, key: null, setCookie: null, upstreamPath: null });
});
