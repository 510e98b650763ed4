import test from 'ava';
import { initHasher, type Hasher } from '../../../../src/balancing/hash.js';
import { buildTables } from '../../../../src/balancing/build-tables.js';
import { compileSources } from '../../../../src/config/index.js';
import { loadKernel, type Kernel } from '../../../../src/kernel/index.js';
import { buildEndpointToken, buildPinKey, signPin } from '../../../../src/session/pin.js';
import type { PinOutcomeLabel } from '../../../../src/protocol.js';
import type { Snapshot } from '../../../../src/snapshot/types.js';
import { buildRuntimeSnapshot, type RuntimeSnapshot, type RuntimeSubset } from '../../../../src/worker/routing/runtime-snapshot.js';
import { resolveSession } from '../../../../src/worker/routing/resolve-session.js';
import { selectEndpoint } from '../../../../src/worker/routing/select-endpoint.js';
import { buildMovedPin } from '../../../../src/worker/routing/persistent-session.js';
import { GATEWAY_YAML, virtualServiceYaml } from '../../../helpers/istio-yaml.js';

const SECRET_A = Buffer.alloc(32, 1).toString('base64url');
const SECRET_B = Buffer.alloc(32, 2).toString('base64url');
const NOW = 1_800_000_000_000;

let hasher: Hasher;
let kernel: Kernel;
test.before(async () => {
  [hasher, kernel] = await Promise.all([initHasher(), loadKernel()]);
});

interface Opts { persistent?: string; persistentHeader?: string; drain?: number[]; factor?: number; policy?: string; endpoints?: number }

function build(o: Opts, keys: string[] = [SECRET_A]): RuntimeSnapshot {
  const n = o.endpoints ?? 4;
  const policy = o.policy ?? 'consistentHash: {httpCookie: {name: session, ttl: 600s}}';
  const text = `${GATEWAY_YAML}---
${virtualServiceYaml(['demo.example.com'], '  - route:\n    - destination: {host: app}\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: dr
${o.factor !== undefined ? `  annotations: {stickyd.io/hash-balance-factor: "${o.factor}"}\n` : ''}spec:
  host: app
  trafficPolicy:
    loadBalancer:
      ${policy}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: app
${o.persistent !== undefined ? `  labels: {istio.io/persistent-session: "${o.persistent}"}\n` : ''}${o.persistentHeader !== undefined ? `  labels: {istio.io/persistent-session-header: "${o.persistentHeader}"}\n` : ''}spec:
  hosts: [app]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
${Array.from({ length: n }, (_, i) => `  - {address: 10.0.0.${i + 1}, ports: {http: 80}${o.drain?.includes(i) ? ', labels: {stickyd.io/drain: "true"}' : ''}}`).join('\n')}
`;
  const compiled = compileSources([{ file: 'c.yaml', text }]).snapshot;
  const keyed: Snapshot = o.persistent !== undefined || o.persistentHeader !== undefined ? { ...compiled, sessionKeys: keys } : compiled;
  return buildRuntimeSnapshot(buildTables(keyed, hasher), { kernel, hasher, random: mulberry(7) });
}

function mulberry(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const req = (cookie?: string) => ({ headers: cookie === undefined ? {} : { cookie }, url: '/', socket: { remoteAddress: '127.0.0.1' } });
const pinOf = (setCookie: string | null): string => /^session=([^;]+);/.exec(setCookie ?? '')![1]!;
const sub = (rt: RuntimeSnapshot): RuntimeSubset => rt.subsets[0]!;

test('a new persistent session gets a signed pin naming its endpoint, and the pin brings it back there', (t) => {
  const rt = build({ persistent: 'session' });
  const first = resolveSession(rt, sub(rt), req(), null, NOW);
  t.is(first.use, 'minted');
  t.is(first.pin, 'absent');
  t.regex(first.setCookie!, /^session=[0-9a-f]{32}\.[\w-]{8}\.[\w-]{16}\.\d+\.[\w-]{22}; Path=\/; Max-Age=600; HttpOnly$/);
  t.false(first.setCookie!.includes('10.0.0.'), 'the pin reveals no address');
  const again = resolveSession(rt, sub(rt), req(`session=${pinOf(first.setCookie)}`), null, NOW + 1000);
  t.is(again.index, first.index);
  t.is(again.use, 'pinned');
  t.is(again.setCookie, null);
  t.is(again.key, first.key);
});

test('forged, tampered, truncated, expired and unknown-key pins are placed afresh, never by their claims', (t) => {
  const rt = build({ persistent: 'session' });
  const s = sub(rt);
  const good = pinOf(resolveSession(rt, s, req(), null, NOW).setCookie);
  const [sid, kid, , exp, mac] = good.split('.');
  const wrongKey = buildPinKey(Buffer.alloc(32, 9));
  const cases: [string, string, PinOutcomeLabel][] = [];
  for (let target = 0; target < 4; target++) {
    // a pin naming endpoint `target`'s token as the wrong key computes it, under the right key id
    const token = buildEndpointToken(wrongKey, s.pins!.table.session.scope, s.endpoints[target]!.id);
    cases.push([`forged-${target}`, signPin({ id: kid!, secret: wrongKey.secret }, s.pins!.table.session.scope, sid!, token, Number(exp)), 'bad_mac']);
    cases.push([`real-token-${target}`, `${sid}.${kid}.${s.pins!.table.signingTokens[target]}.${exp}.${mac}`, target === resolveSession(rt, s, req(`session=${good}`), null, NOW).index ? 'valid' : 'bad_mac']);
  }
  cases.push(['tampered-expiry', `${sid}.${kid}.${good.split('.')[2]}.${Number(exp) + 1}.${mac}`, 'bad_mac']);
  cases.push(['truncated', good.slice(0, -1), 'malformed']);
  cases.push(['unknown-key', signPin(wrongKey, s.pins!.table.session.scope, sid!, buildEndpointToken(wrongKey, s.pins!.table.session.scope, s.endpoints[0]!.id), Number(exp)), 'unknown_key']);
  cases.push(['garbage', 'not-a-pin', 'malformed']);
  for (const [name, value, outcome] of cases) {
    const r = resolveSession(rt, s, req(`session=${value}`), null, NOW);
    t.is(r.pin, outcome, name);
    if (outcome === 'valid') continue;
    t.is(r.use, 'repinned', name);
    t.not(r.setCookie, null, name);
    // placed by a fresh session id's hash, so the claimed session id is not reused either
    t.not(r.key, sid, name);
  }
  const expired = resolveSession(rt, s, req(`session=${good}`), null, NOW + 601_000);
  t.is(expired.pin, 'expired');
  t.is(expired.use, 'repinned');
});

test('sliding expiry: re-issued once half the lifetime is used; key rotation keeps the session and re-signs with the new key', (t) => {
  const rt = build({ persistent: 'session' });
  const first = resolveSession(rt, sub(rt), req(), null, NOW);
  const pin = pinOf(first.setCookie);
  t.is(resolveSession(rt, sub(rt), req(`session=${pin}`), null, NOW + 299_000).use, 'pinned');
  const slid = resolveSession(rt, sub(rt), req(`session=${pin}`), null, NOW + 301_000);
  t.is(slid.use, 'refreshed');
  t.is(slid.index, first.index);
  t.true(Number(pinOf(slid.setCookie).split('.')[3]) > Number(pin.split('.')[3]));
  const rotated = build({ persistent: 'session' }, [SECRET_B, SECRET_A]);
  const r = resolveSession(rotated, sub(rotated), req(`session=${pin}`), null, NOW + 1000);
  t.is(r.index, first.index);
  t.is(r.use, 'refreshed');
  t.is(pinOf(r.setCookie).split('.')[1], buildPinKey(Buffer.from(SECRET_B, 'base64url')).id);
});

test('pins, new, slid and re-issued, carry the same-named httpCookie attributes: one Set-Cookie builder with minted cookies', (t) => {
  const rt = build({ persistent: 'session', policy: 'consistentHash: {httpCookie: {name: session, ttl: 600s, attributes: [{name: SameSite, value: None}, {name: Secure}, {name: Partitioned}]}}' });
  const tail = '; Path=/; Max-Age=600; SameSite=None; Secure; Partitioned; HttpOnly';
  const first = resolveSession(rt, sub(rt), req(), null, NOW);
  t.true(first.setCookie!.endsWith(tail), first.setCookie!);
  const slid = resolveSession(rt, sub(rt), req(`session=${pinOf(first.setCookie)}`), null, NOW + 301_000);
  t.is(slid.use, 'refreshed');
  t.true(slid.setCookie!.endsWith(tail), slid.setCookie!);
  const down = new Uint8Array(4);
  down[first.index] = 1;
  const repinned = resolveSession(rt, sub(rt), req(`session=${pinOf(first.setCookie)}`), down, NOW);
  t.is(repinned.use, 'repinned');
  t.true(repinned.setCookie!.endsWith(tail), repinned.setCookie!);
  const moved = buildMovedPin(sub(rt).pins!, first.key!, (first.index + 1) % 4, NOW / 1000);
  t.true(moved.setCookie!.endsWith(tail), moved.setCookie!);
  // a rule naming another cookie lends the pin nothing
  const other = build({ persistent: 'sid', policy: 'consistentHash: {httpCookie: {name: session, ttl: 600s, attributes: [{name: SameSite, value: Lax}]}}' });
  t.regex(resolveSession(other, sub(other), req(), null, NOW).setCookie!, /^sid=[^;]+; Path=\/; HttpOnly$/);
});

test('buildMovedPin: the pin of a session a retry moved names the endpoint that answered, keeps the session id, and is honoured there', (t) => {
  const rt = build({ persistent: 'session' });
  const first = resolveSession(rt, sub(rt), req(), null, NOW);
  const answered = (first.index + 2) % 4;
  const moved = buildMovedPin(sub(rt).pins!, first.key!, answered, Math.floor(NOW / 1000));
  t.is(moved.sessionHeader, null);
  const back = resolveSession(rt, sub(rt), req(`session=${pinOf(moved.setCookie)}`), null, NOW + 1000);
  t.is(back.index, answered);
  t.is(back.use, 'pinned');
  t.is(back.key, first.key);

  const hdr = build({ persistentHeader: 'x-session' });
  const h = resolveSession(hdr, sub(hdr), req(), null, NOW);
  t.is(h.sessionHeader?.[0], 'x-session');
  const to = (h.index + 1) % 4;
  const m = buildMovedPin(sub(hdr).pins!, h.key!, to, Math.floor(NOW / 1000));
  t.is(m.setCookie, null);
  t.is(m.sessionHeader?.[0], 'x-session');
  const r = resolveSession(hdr, sub(hdr), { headers: { 'x-session': m.sessionHeader![1] }, url: '/', socket: { remoteAddress: '127.0.0.1' } }, null, NOW + 1000);
  t.is(r.index, to);
  t.is(r.use, 'pinned');
});

test('a pin whose endpoint is down or gone is re-placed keeping its session id; other endpoints never move on scale-up', (t) => {
  const rt = build({ persistent: 'session' });
  const sessions = Array.from({ length: 300 }, () => resolveSession(rt, sub(rt), req(), null, NOW));
  const down = new Uint8Array(4);
  down[1] = 1;
  for (const s of sessions) {
    const r = resolveSession(rt, sub(rt), req(`session=${pinOf(s.setCookie)}`), down, NOW);
    if (s.index === 1) {
      t.is(r.pin, 'endpoint_unavailable');
      t.not(r.index, 1);
      t.is(r.key, s.key);
    } else t.is(r.index, s.index);
  }
  const bigger = build({ persistent: 'session', endpoints: 6 });
  for (const s of sessions) t.is(bigger.subsets[0]!.endpoints[resolveSession(bigger, sub(bigger), req(`session=${pinOf(s.setCookie)}`), null, NOW).index]!.id, sub(rt).endpoints[s.index]!.id);
  const smaller = build({ persistent: 'session', endpoints: 3 });
  for (const s of sessions) {
    const r = resolveSession(smaller, sub(smaller), req(`session=${pinOf(s.setCookie)}`), null, NOW);
    t.is(r.pin, s.index === 3 ? 'endpoint_gone' : 'valid');
  }
});

test('drain: no new session (hash or pin) and no keyless request lands on a draining endpoint; existing ones keep reaching it', (t) => {
  const hash = build({ drain: [2] });
  const keys: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const r = resolveSession(hash, sub(hash), req(), null, NOW);
    t.not(r.index, 2);
    keys.push(r.key!);
  }
  // the minted value itself maps elsewhere: the same key keeps going there with no state
  const plain = build({});
  for (const k of keys) t.not(resolveSession(plain, sub(plain), req(`session=${k}`), null, NOW).index, 2);
  // an existing key of the draining endpoint still reaches it
  const onTwo = Array.from({ length: 200 }, () => resolveSession(plain, sub(plain), req(), null, NOW)).find((r) => r.index === 2)!;
  t.is(resolveSession(hash, sub(hash), req(`session=${onTwo.key}`), null, NOW).index, 2);
  const pinned = build({ persistent: 'session' });
  const pinOnTwo = Array.from({ length: 200 }, () => resolveSession(pinned, sub(pinned), req(), null, NOW)).find((r) => r.index === 2)!;
  const drained = build({ persistent: 'session', drain: [2] });
  for (let i = 0; i < 500; i++) t.not(resolveSession(drained, sub(drained), req(), null, NOW).index, 2);
  t.is(resolveSession(drained, sub(drained), req(`session=${pinOf(pinOnTwo.setCookie)}`), null, NOW).index, 2);
  const rr = build({ drain: [0], policy: 'simple: ROUND_ROBIN' });
  for (let i = 0; i < 100; i++) t.not(resolveSession(rr, sub(rr), req(), null, NOW).index, 0);
});

test('bounded load: a new session skips an endpoint over factor x average; existing sessions stay', (t) => {
  const rt = build({ factor: 150 });
  const s = sub(rt);
  // endpoint 0 carries 10 active requests, the others none: 0 is over 1.5 x the average
  for (let i = 0; i < 10; i++) s.picker.start(0);
  const plain = build({});
  const onZero = Array.from({ length: 400 }, () => resolveSession(plain, sub(plain), req(), null, NOW)).find((r) => r.index === 0)!;
  for (let i = 0; i < 300; i++) t.not(resolveSession(rt, s, req(), null, NOW).index, 0);
  t.is(resolveSession(rt, s, req(`session=${onZero.key}`), null, NOW).index, 0);
  for (let i = 0; i < 10; i++) s.picker.finish(0);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 400; i++) counts[resolveSession(rt, s, req(), null, NOW).index]!++;
  t.true(counts[0]! > 0, 'an idle endpoint takes new sessions again');
});

test('an existing hash key is hashed once: keyHash is its hash32, which the table lookup and the access log both take', (t) => {
  const rt = build({});
  for (const key of ['abc123', 'k-2', 'Zz9']) {
    const r = resolveSession(rt, sub(rt), req(`session=${key}`), null);
    t.like(r, { key, use: 'reused', keyHash: hasher.hash32(key) });
    t.is(r.index, selectEndpoint(rt, sub(rt), key, null), 'the same endpoint as hashing inside the lookup');
  }
  // a minted key, and a keyless request, carry none: the access log hashes a minted key itself
  const minted = resolveSession(rt, sub(rt), req(), null);
  t.is(minted.use, 'minted');
  t.is(minted.keyHash, undefined);
});
