import test from 'ava';
import type { ConnectionPoolPolicy } from '../../../../src/snapshot/types.js';
import { compileOne, destinationRule, docs, errorsOf, find, GATEWAY, SERVICE, virtualService } from '../../../fixtures/config/helpers.js';

const NONE: ConnectionPoolPolicy = {
  maxConnections: null, maxPendingRequests: null, maxRequests: null, maxRetries: null, maxRequestsPerConnection: null,
  connectTimeoutMs: null, idleTimeoutMs: null, maxConnectionDurationMs: null, tcpKeepaliveMs: null,
};

/** the rule-level connectionPool `cp` (a YAML flow mapping), compiled for the v1 subset */
function compile(cp: string, v1 = '') {
  return compileOne(docs(GATEWAY, SERVICE, virtualService('v1'), destinationRule(`  trafficPolicy:\n    connectionPool: ${cp}\n`, v1)));
}

function errors(cp: string) {
  return errorsOf(docs(GATEWAY, SERVICE, virtualService('v1'), destinationRule(`  trafficPolicy:\n    connectionPool: ${cp}\n`)));
}

const PLACE = 'spec.trafficPolicy.connectionPool';

test("Istio's circuit-breaking task policy compiles to its limits", (t) => {
  const r = compile('{tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}}');
  t.deepEqual(r.snapshot.subsets[0]!.connectionPool, { ...NONE, maxConnections: 1, maxPendingRequests: 1, maxRequestsPerConnection: 1 });
  t.deepEqual(r.warnings.filter((w) => w.field.startsWith(PLACE)), []);
});

test('every implemented field, with durations in ms; 0 integer limits read as unset (as pilot does)', (t) => {
  const cp = '{tcp: {maxConnections: 100, connectTimeout: 250ms, idleTimeout: 30s, maxConnectionDuration: 1m, tcpKeepalive: {time: 10s}},' +
    ' http: {http1MaxPendingRequests: 0, http2MaxRequests: 50, maxRequestsPerConnection: 10, maxRetries: 3, h2UpgradePolicy: DO_NOT_UPGRADE, useClientProtocol: false}}';
  t.deepEqual(compile(cp).snapshot.subsets[0]!.connectionPool, {
    maxConnections: 100, maxPendingRequests: null, maxRequests: 50, maxRetries: 3, maxRequestsPerConnection: 10,
    connectTimeoutMs: 250, idleTimeoutMs: 30_000, maxConnectionDurationMs: 60_000, tcpKeepaliveMs: 10_000,
  });
});

test('http.idleTimeout wins over tcp.idleTimeout (pilot reads tcp only when http is unset); 0s disables it', (t) => {
  t.is(compile('{tcp: {idleTimeout: 5s}, http: {idleTimeout: 2s}}').snapshot.subsets[0]!.connectionPool?.idleTimeoutMs, 2000);
  t.is(compile('{tcp: {idleTimeout: 5s}}').snapshot.subsets[0]!.connectionPool?.idleTimeoutMs, 5000);
  t.is(compile('{http: {idleTimeout: 0s}}').snapshot.subsets[0]!.connectionPool?.idleTimeoutMs, 2_147_483_647);
});

test("a subset's connectionPool replaces the rule's whole (Istio's MergeTrafficPolicy), not field by field", (t) => {
  const r = compile('{tcp: {maxConnections: 5}, http: {http2MaxRequests: 7}}', '    trafficPolicy: {connectionPool: {http: {http1MaxPendingRequests: 2}}}\n');
  t.deepEqual(r.snapshot.subsets[0]!.connectionPool, { ...NONE, maxPendingRequests: 2 });
  const inherit = compile('{tcp: {maxConnections: 5}}', '    trafficPolicy: {loadBalancer: {simple: RANDOM}}\n');
  t.deepEqual(inherit.snapshot.subsets[0]!.connectionPool, { ...NONE, maxConnections: 5 });
});

test('fields that would change what the config means are errors: UPGRADE, useClientProtocol, a zero connect timeout, bad values', (t) => {
  t.regex(find(errors('{http: {h2UpgradePolicy: UPGRADE}}'), `${PLACE}.http.h2UpgradePolicy`)?.message ?? '', /HTTP\/1\.1 to backends/);
  t.regex(find(errors('{http: {h2UpgradePolicy: SOMETIMES}}'), `${PLACE}.http.h2UpgradePolicy`)?.message ?? '', /unknown h2UpgradePolicy/);
  t.regex(find(errors('{http: {useClientProtocol: true}}'), `${PLACE}.http.useClientProtocol`)?.message ?? '', /refused/);
  t.regex(find(errors('{tcp: {connectTimeout: 0s}}'), `${PLACE}.tcp.connectTimeout`)?.message ?? '', /at least 1ms/);
  t.truthy(find(errors('{tcp: {maxConnections: -1}}'), `${PLACE}.tcp.maxConnections`));
  t.truthy(find(errors('{tcp: {maxConnections: 1.5}}'), `${PLACE}.tcp.maxConnections`));
  t.truthy(find(errors('{http: {idleTimeout: soon}}'), `${PLACE}.http.idleTimeout`));
});

test('harmless fields are warnings that say why: maxConcurrentStreams, keepalive probes and interval, maxRetries: 0', (t) => {
  const r = compile('{tcp: {tcpKeepalive: {probes: 3, interval: 5s}}, http: {maxConcurrentStreams: 10, maxRetries: 0}}');
  t.regex(find(r.warnings, `${PLACE}.http.maxConcurrentStreams`)?.message ?? '', /HTTP\/2 upstream/);
  t.regex(find(r.warnings, `${PLACE}.tcp.tcpKeepalive.probes`)?.message ?? '', /kernel/);
  t.regex(find(r.warnings, `${PLACE}.tcp.tcpKeepalive.interval`)?.message ?? '', /kernel/);
  t.regex(find(r.warnings, `${PLACE}.http.maxRetries`)?.message ?? '', /unset in Istio/);
  // keepalive without a time: on, with the kernel's idle time
  t.is(r.snapshot.subsets[0]!.connectionPool?.tcpKeepaliveMs, 0);
  t.is(r.snapshot.subsets[0]!.connectionPool?.maxRetries, null);
});

test('an unknown connectionPool field is a warning naming it', (t) => {
  t.truthy(find(compile('{tcp: {maxConnection: 1}}').warnings, `${PLACE}.tcp.maxConnection`));
});
