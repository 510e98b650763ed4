// Persistent-session pins: what a request pays to read its pin with the verified-pin cache
// (PinCache.read, a hit: one LRU lookup and the expiry check) beside verifying it every time
// (readPin: an HMAC-SHA256 of the pin, a constant-time compare, a token lookup), and what issuing
// a new pin costs. Pins are fresh string copies per op, as they arrive cut from a Cookie header.
import { PinCache } from '../../src/session/pin-cache.js';
import { buildPinTable, issuePin, readPin } from '../../src/session/pin-table.js';
import type { PersistentSession } from '../../src/snapshot/types.js';
import { mintSessionKey } from '../../src/worker/routing/sticky.js';
import { makeEndpoints } from '../../test/golden/fixtures.js';
import { nsPerOp, row } from './measure.js';

const SESSIONS = 100_000;
const OPS = 200_000;

export function benchPinCache(): void {
  const session: PersistentSession = { kind: 'cookie', name: 'session', path: '/', lifetimeSec: 3600, maxAge: true, scope: 'cookie:session\0bench' };
  const endpoints = makeEndpoints(3);
  const table = buildPinTable(session, endpoints, [Buffer.alloc(32, 5).toString('base64url')]);
  const now = Math.floor(Date.now() / 1000);
  const pins = Array.from({ length: SESSIONS }, (_, i) => issuePin(table, mintSessionKey(), i % endpoints.length, now).value);
  const copies = (n: number): string[] => Array.from({ length: n }, (_, i) => Buffer.from(pins[(i * 7919) % SESSIONS]!, 'latin1').toString('latin1'));
  const cache = new PinCache(SESSIONS);
  for (const p of pins) cache.read(0, table, p, now);
  const visits = copies(OPS);
  process.stdout.write(`\n## pin cache: ${SESSIONS.toLocaleString('en')} live sessions, ns per request's pin (persistent sessions)\n`);
  const hit = nsPerOp(OPS, (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += cache.read(0, table, visits[i % OPS]!, now).index;
    return s;
  });
  const verify = nsPerOp(OPS, (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += readPin(table, visits[i % OPS]!, now).index;
    return s;
  });
  const issue = nsPerOp(OPS, (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += issuePin(table, pins[i % SESSIONS]!.slice(0, 32), i % 3, now).expiresAt;
    return s;
  });
  process.stdout.write(row(['', 'ns/op'], [36, 10]) + '\n');
  process.stdout.write(row(['PinCache.read, hit (cache on)', hit.toFixed(0)], [36, 10]) + '\n');
  process.stdout.write(row(['readPin: MAC verified (cache off)', verify.toFixed(0)], [36, 10]) + '\n');
  process.stdout.write(row(['issuePin: a new or refreshed pin', issue.toFixed(0)], [36, 10]) + '\n');
  process.stdout.write(`a hit costs ${((hit / verify) * 100).toFixed(0)} % of a verification (${(verify / hit).toFixed(1)}x cheaper)\n`);
}
