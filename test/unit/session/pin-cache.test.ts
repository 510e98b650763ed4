import test from 'ava';
import { randomBytes } from 'node:crypto';
import { PinCache } from '../../../src/session/pin-cache.js';
import { buildPinTable, issuePin } from '../../../src/session/pin-table.js';
import type { Endpoint, PersistentSession } from '../../../src/snapshot/types.js';

const SESSION: PersistentSession = { kind: 'cookie', name: 'session', path: '/', lifetimeSec: 60, maxAge: true, scope: 'cookie session\0svc' };
const NOW = 1_800_000_000;
const SID = 'f'.repeat(32);
const eps: Endpoint[] = [1, 2].map((i) => ({ id: `10.0.0.${i}:80`, address: `10.0.0.${i}`, port: 80, weight: 1, labels: {} }));
const table = buildPinTable(SESSION, eps, [randomBytes(32).toString('base64url')]);

test('a verified pin is answered from the cache; the answer equals a verification', (t) => {
  const cache = new PinCache(10);
  const pin = issuePin(table, SID, 1, NOW).value;
  const first = cache.read(0, table, pin, NOW);
  const second = cache.read(0, table, pin, NOW + 1);
  t.deepEqual(second, first);
  t.is(first.index, 1);
  t.deepEqual(cache.counters, { hits: 1, misses: 1 });
});

test('the proxy expiry holds on a cache hit', (t) => {
  const cache = new PinCache(10);
  const pin = issuePin(table, SID, 0, NOW).value;
  t.is(cache.read(0, table, pin, NOW).outcome, 'valid');
  t.is(cache.read(0, table, pin, NOW + 60).outcome, 'expired');
});

test('forged values are never stored: each costs a verification, and none hits', (t) => {
  const cache = new PinCache(10);
  const pin = issuePin(table, SID, 0, NOW).value;
  const forged = `${pin.slice(0, -1)}${pin.endsWith('A') ? 'B' : 'A'}`;
  for (let i = 0; i < 3; i++) t.is(cache.read(0, table, forged, NOW).outcome, 'bad-mac');
  t.deepEqual(cache.counters, { hits: 0, misses: 3 });
});

test('size 0 verifies every time', (t) => {
  const cache = new PinCache(0);
  const pin = issuePin(table, SID, 0, NOW).value;
  t.is(cache.read(0, table, pin, NOW).index, 0);
  t.is(cache.read(0, table, pin, NOW).index, 0);
});
