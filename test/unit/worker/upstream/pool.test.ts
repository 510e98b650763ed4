// pool.ts: which subsets share an endpoint's connections. A pool is keyed by the endpoint's
// origin, the subset's TLS settings and, for a subset with its own connectionPool, the subset and
// those settings, so plaintext, another trust or another pool policy never shares a connection.
// undici opens no socket until a request is dispatched, so these build pools without any.
import test from 'ava';
import { buildRequestLimitOptions, UpstreamPool } from '../../../../src/worker/upstream/pool.js';
import { DEFAULT_SETTINGS } from '../../../../src/config/settings.js';
import type { ConnectionPoolPolicy, Endpoint, Snapshot, Subset, UpstreamTls } from '../../../../src/snapshot/types.js';

const endpoint: Endpoint = { id: '127.0.0.1:8443', address: '127.0.0.1', port: 8443, weight: 1, labels: {} };

function tls(over: Partial<UpstreamTls> = {}): UpstreamTls {
  return { mode: 'SIMPLE', caPem: null, caFile: null, certificatePem: null, privateKeyPem: null, certificateFile: null, sni: 'b.internal', subjectAltNames: [], insecureSkipVerify: false, key: 'k1', ...over };
}

function pool(over: Partial<ConnectionPoolPolicy> = {}): ConnectionPoolPolicy {
  return {
    maxConnections: null, maxPendingRequests: null, maxRequests: null, maxRetries: null, maxRequestsPerConnection: null,
    connectTimeoutMs: null, idleTimeoutMs: null, maxConnectionDurationMs: null, tcpKeepaliveMs: null, ...over,
  };
}

function subset(name: string, over: Partial<Subset> = {}): Subset {
  return { id: 0, name, host: 'svc', subsetName: null, port: 8443, endpoints: [endpoint], policy: { kind: 'leastRequest' }, table: null, ...over } as Subset;
}

const snapshot = { settings: { ...DEFAULT_SETTINGS } } as unknown as Snapshot;

test('plaintext, TLS and TLS with other settings to one endpoint get three pools; equal TLS settings share one', async (t) => {
  const pools = new UpstreamPool(1_000, 1_000);
  pools.configure(snapshot);
  const plain = pools.poolFor(endpoint, subset('a'));
  const secure = pools.poolFor(endpoint, subset('b', { tls: tls() }));
  const otherTrust = pools.poolFor(endpoint, subset('c', { tls: tls({ key: 'k2' }) }));
  const sameTrust = pools.poolFor(endpoint, subset('d', { tls: tls() }));
  t.not(plain, secure);
  t.not(secure, otherTrust);
  t.is(secure, sameTrust, 'two subsets with the same TLS settings and no connectionPool share the endpoint\'s pool');
  t.is(pools.size, 3);
  pools.destroyAll();
});

test('a subset\'s own connectionPool gets pools of its own, per TLS settings too', async (t) => {
  const pools = new UpstreamPool(1_000, 1_000);
  pools.configure(snapshot);
  const shared = pools.poolFor(endpoint, subset('a', { tls: tls() }));
  const cp = pool({ maxRequestsPerConnection: 1 });
  const own = pools.poolFor(endpoint, subset('b', { tls: tls(), connectionPool: cp }), 1);
  const ownOtherTls = pools.poolFor(endpoint, subset('b', { tls: tls({ key: 'k2' }), connectionPool: cp }), 1);
  const ownPlain = pools.poolFor(endpoint, subset('b', { connectionPool: cp }), 1);
  t.is(new Set([shared, own, ownOtherTls, ownPlain]).size, 4);
  t.is(pools.poolFor(endpoint, subset('b', { tls: tls(), connectionPool: cp }), 1), own, 'asked again with the same settings: the same pool');
  t.not(pools.poolFor(endpoint, subset('b', { tls: tls(), connectionPool: pool({ maxRequestsPerConnection: 2 }) }), 1), own);
  pools.destroyAll();
});

test('retainUsed keeps what the new snapshot asked for and retires the rest', async (t) => {
  const pools = new UpstreamPool(1_000, 1_000);
  pools.configure(snapshot);
  const secure = pools.poolFor(endpoint, subset('b', { tls: tls() }));
  pools.poolFor(endpoint, subset('a'));
  pools.retainUsed();
  t.is(pools.size, 2);
  pools.configure(snapshot);
  t.is(pools.poolFor(endpoint, subset('b', { tls: tls() })), secure, 'a reload that keeps the TLS settings keeps the pool');
  pools.retainUsed();
  t.is(pools.size, 1, 'the plaintext pool nobody asked for is retired');
  pools.configure(snapshot);
  t.not(pools.poolFor(endpoint, subset('b', { tls: tls({ key: 'k3' }) })), secure, 'changed TLS settings: a new pool');
  pools.retainUsed();
  t.is(pools.size, 1);
  pools.destroyAll();
});

test('maxRequestsPerConnection as undici options: undici lets maxRequestsPerClient + 1 through, so N is given as N - 1 and 1 as no keep-alive', (t) => {
  t.deepEqual(buildRequestLimitOptions(null), {});
  t.deepEqual(buildRequestLimitOptions(1), { pipelining: 0 });
  t.deepEqual(buildRequestLimitOptions(2), { maxRequestsPerClient: 1 });
  t.deepEqual(buildRequestLimitOptions(100), { maxRequestsPerClient: 99 });
});
