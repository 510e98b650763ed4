// Istio's merge of rule, subset and port-level policies (pilot's MergeSubsetTrafficPolicy), case by case.
import test from 'ava';
import { mergeTrafficPolicy, type PolicyLevel } from '../../../../src/config/compile/traffic-policy.js';
import type { ConnectionPoolPolicy, LbPolicy, OutlierPolicy } from '../../../../src/snapshot/types.js';

const RR: LbPolicy = { kind: 'roundRobin' };
const RANDOM: LbPolicy = { kind: 'random' };
const HASH: LbPolicy = { kind: 'hash', key: { kind: 'header', name: 'x-user' }, table: 'ring', minimumRingSize: null, maglevTableSize: null };
const POOL = (n: number) => ({ maxConnections: n }) as unknown as ConnectionPoolPolicy;
const OUTLIER = { consecutive5xx: 3 } as unknown as OutlierPolicy;

const level = (over: Partial<PolicyLevel> = {}): PolicyLevel => ({ policy: null, outlier: null, connectionPool: null, tls: null, ports: [], ...over });

test('no port-level entry: the subset overrides the rule field by field', (t) => {
  const rule = level({ policy: HASH, connectionPool: POOL(7), outlier: OUTLIER });
  t.deepEqual(mergeTrafficPolicy(rule, null, 80), { lb: HASH, pool: POOL(7), outlier: OUTLIER, tls: null });
  t.deepEqual(mergeTrafficPolicy(rule, level({ policy: RR }), 80), { lb: RR, pool: POOL(7), outlier: OUTLIER, tls: null });
  t.deepEqual(mergeTrafficPolicy(rule, level(), 80), { lb: HASH, pool: POOL(7), outlier: OUTLIER, tls: null }, 'a subset without trafficPolicy changes nothing');
  t.deepEqual(mergeTrafficPolicy(null, null, 80), { lb: null, pool: null, outlier: null, tls: null });
});

test('the rule\'s port-level entry replaces its top level for that port only, omitted fields falling to the default', (t) => {
  const rule = level({ policy: HASH, connectionPool: POOL(7), outlier: OUTLIER, ports: [{ port: 9090, lb: RR, outlier: null, pool: null, tls: null }] });
  t.deepEqual(mergeTrafficPolicy(rule, null, 9090), { lb: RR, pool: null, outlier: null, tls: null });
  t.deepEqual(mergeTrafficPolicy(rule, null, 8080), { lb: HASH, pool: POOL(7), outlier: OUTLIER, tls: null });
  // a subset field still overrides the rule's port-level result; an unset one keeps it
  t.deepEqual(mergeTrafficPolicy(rule, level({ connectionPool: POOL(2) }), 9090), { lb: RR, pool: POOL(2), outlier: null, tls: null });
});

test('the subset\'s port-level entry overrides all three, set or not; its other ports keep the field-by-field merge', (t) => {
  const rule = level({ policy: HASH, connectionPool: POOL(7), outlier: OUTLIER });
  const subset = level({ policy: RANDOM, ports: [{ port: 9090, lb: null, outlier: null, pool: POOL(1), tls: null }] });
  t.deepEqual(mergeTrafficPolicy(rule, subset, 9090), { lb: null, pool: POOL(1), outlier: null, tls: null });
  t.deepEqual(mergeTrafficPolicy(rule, subset, 8080), { lb: RANDOM, pool: POOL(7), outlier: OUTLIER, tls: null });
});
