import test from 'ava';
import { randomBytes } from 'node:crypto';
import { buildPinTable, issuePin, pinNeedsRefresh, readPin } from '../../../src/session/pin-table.js';
import type { Endpoint, PersistentSession } from '../../../src/snapshot/types.js';

const SESSION: PersistentSession = { kind: 'cookie', name: 'session', path: '/', lifetimeSec: 3600, maxAge: true, scope: 'cookie session\0svc' };
const NOW = 1_800_000_000;
const SID = '0123456789abcdef0123456789abcdef';
const ep = (i: number): Endpoint => ({ id: `10.0.0.${i}:8080`, address: `10.0.0.${i}`, port: 8080, weight: 1, labels: {} });
const k1 = randomBytes(32).toString('base64url');
const k2 = randomBytes(32).toString('base64url');

test('a pin names the same endpoint in any table built from the same endpoints and keys, whatever their order', (t) => {
  const a = buildPinTable(SESSION, [ep(1), ep(2), ep(3)], [k1]);
  const pin = issuePin(a, SID, 1, NOW).value;
  const b = buildPinTable(SESSION, [ep(1), ep(2), ep(3)], [k1]);
  t.deepEqual(readPin(b, pin, NOW), { outcome: 'valid', index: 1, sid: SID, expiresAt: NOW + 3600, oldKey: false });
});

test('scale-up keeps every pin on its endpoint; removal makes only the removed endpoint\'s pins endpoint-gone', (t) => {
  const three = buildPinTable(SESSION, [ep(1), ep(2), ep(3)], [k1]);
  const pins = [0, 1, 2].map((i) => issuePin(three, SID, i, NOW).value);
  // endpoint 0 sorts first: adding one shifts indexes, never identities
  const four = buildPinTable(SESSION, [ep(0), ep(1), ep(2), ep(3)], [k1]);
  t.deepEqual(pins.map((p) => readPin(four, p, NOW).index), [1, 2, 3]);
  const two = buildPinTable(SESSION, [ep(1), ep(3)], [k1]);
  t.deepEqual(pins.map((p) => readPin(two, p, NOW).outcome), ['valid', 'endpoint-gone', 'valid']);
  t.is(readPin(two, pins[1]!, NOW).sid, SID, 'an authentic pin keeps its session id when re-placed');
});

test('rotation: a new key first keeps old pins valid (flagged for re-issue); new pins are signed by the new key', (t) => {
  const before = buildPinTable(SESSION, [ep(1), ep(2)], [k1]);
  const old = issuePin(before, SID, 1, NOW).value;
  const rotated = buildPinTable(SESSION, [ep(1), ep(2)], [k2, k1]);
  const r = readPin(rotated, old, NOW);
  t.is(r.outcome, 'valid');
  t.is(r.index, 1);
  t.true(r.oldKey);
  t.true(pinNeedsRefresh(rotated, r, NOW));
  const fresh = issuePin(rotated, SID, 1, NOW).value;
  t.false(readPin(rotated, fresh, NOW).oldKey);
  t.is(readPin(buildPinTable(SESSION, [ep(1), ep(2)], [k2]), old, NOW).outcome, 'unknown-key');
});

test('sliding expiry: refreshed once half the lifetime is used, not before', (t) => {
  const table = buildPinTable(SESSION, [ep(1)], [k1]);
  const { value } = issuePin(table, SID, 0, NOW);
  t.false(pinNeedsRefresh(table, readPin(table, value, NOW + 1799), NOW + 1799));
  t.true(pinNeedsRefresh(table, readPin(table, value, NOW + 1801), NOW + 1801));
  t.is(readPin(table, value, NOW + 3600).outcome, 'expired');
});

test('a forged pin never names an endpoint', (t) => {
  const table = buildPinTable(SESSION, [ep(1), ep(2)], [k1]);
  const otherKey = buildPinTable(SESSION, [ep(1), ep(2)], [randomBytes(32).toString('base64url')]);
  const forged = issuePin(otherKey, SID, 1, NOW).value;
  const r = readPin(table, forged, NOW);
  t.is(r.outcome, 'unknown-key');
  t.is(r.index, -1);
  t.is(r.sid, null);
});
