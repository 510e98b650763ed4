import test from 'ava';
import { DEFAULT_SETTINGS } from '../../../../src/config/settings.js';
import type { Kernel } from '../../../../src/kernel/index.js';
import type { HashKey, Snapshot, Subset } from '../../../../src/snapshot/types.js';
import { buildRuntimeSnapshot } from '../../../../src/worker/routing/runtime-snapshot.js';
import { buildSetCookieParts } from '../../../../src/worker/downstream/set-cookie.js';
import { findCookie, isValidCookieValue, mintSessionKey, readRequestHashKey } from '../../../../src/worker/routing/sticky.js';

const MAX = 64;
const cookieKey: HashKey = { kind: 'cookie', name: 'session', path: '/', ttlSec: 60 };

function withCookie(cookie: string | undefined) {
  return { headers: cookie === undefined ? {} : { cookie } };
}

test('several Cookie headers joined by Node: the first occurrence of the name wins', (t) => {
  // Node joins two Cookie lines "a=1; session=first" and "session=second" with "; ".
  t.is(readRequestHashKey(cookieKey, withCookie('a=1; session=first; session=second'), MAX), 'first');
  t.is(readRequestHashKey(cookieKey, withCookie('session=first;session=second'), MAX), 'first');
  t.is(findCookie('xsession=1; session_id=2; session=3', 'session'), '3', 'names must match exactly');
  t.is(findCookie('Session=1', 'session'), null, 'cookie names are case-sensitive');
  t.is(findCookie('novalue; =nokey; session=ok', 'session'), 'ok', 'malformed pairs are skipped');
  t.is(readRequestHashKey(cookieKey, withCookie(undefined), MAX), null);
  t.is(readRequestHashKey(cookieKey, withCookie('other=1'), MAX), null);
});

test('a quoted value hashes like the bare one', (t) => {
  t.is(readRequestHashKey(cookieKey, withCookie('session="abc123"'), MAX), 'abc123');
  t.is(readRequestHashKey(cookieKey, withCookie('session=abc123'), MAX), 'abc123');
  t.is(readRequestHashKey(cookieKey, withCookie('session="abc'), MAX), null, 'an unbalanced quote is malformed');
});

test('an empty value is absent; the first valid occurrence decides (RELIABILITY §2.5)', (t) => {
  t.is(readRequestHashKey(cookieKey, withCookie('session='), MAX), null);
  t.is(readRequestHashKey(cookieKey, withCookie('session=""'), MAX), null);
  // An empty or malformed copy (say a stale one at a narrower path) must not make a valid
  // session look absent: re-minting would churn on every request while the stale copy stays.
  t.is(readRequestHashKey(cookieKey, withCookie('session=; session=later'), MAX), 'later');
  t.is(readRequestHashKey(cookieKey, withCookie(`session=${'a'.repeat(MAX + 1)}; session=a b; session=ok`), MAX), 'ok');
  t.is(readRequestHashKey(cookieKey, withCookie('session=first; session=second'), MAX), 'first');
});

test('an oversized value is absent', (t) => {
  t.is(readRequestHashKey(cookieKey, withCookie(`session=${'a'.repeat(8)}`), 8), 'aaaaaaaa');
  t.is(readRequestHashKey(cookieKey, withCookie(`session=${'a'.repeat(9)}`), 8), null);
  t.is(readRequestHashKey(cookieKey, withCookie(`session="${'a'.repeat(8)}"`), 8), 'aaaaaaaa', 'quotes do not count');
});

test('non-ASCII, control, space and separator bytes make a value absent', (t) => {
  for (const bad of ['caf\u00e9', 'a b', 'a\tb', 'a\\b', 'a,b', 'x\u0001', '\u00ff\u00fe', 'a\u007fb']) {
    t.false(isValidCookieValue(bad, MAX), JSON.stringify(bad));
    t.is(readRequestHashKey(cookieKey, withCookie(`session=${bad}`), MAX), null, JSON.stringify(bad));
  }
  t.true(isValidCookieValue('!#$%&\'()*+-./0-9:<=>?@A-Z[]^_`a-z{|}~', MAX));
});

test('a cookie-octet is exactly RFC 6265\'s: every code unit 0-255 alone and inside a value', (t) => {
  for (let c = 0; c < 256; c++) {
    const octet = c >= 0x21 && c <= 0x7e && c !== 0x22 && c !== 0x2c && c !== 0x3b && c !== 0x5c;
    const ch = String.fromCharCode(c);
    t.is(isValidCookieValue(ch, MAX), octet, `0x${c.toString(16)}`);
    t.is(isValidCookieValue(`ab${ch}cd`, MAX), octet, `0x${c.toString(16)} inside`);
  }
  // past Latin-1, and a line break before the end (a `$` that matched before a final newline would pass it)
  for (const bad of ['a\u0100', 'a\u2028b', 'ab\n', '\nab', 'a\r\nb', '']) t.false(isValidCookieValue(bad, MAX), JSON.stringify(bad));
  t.true(isValidCookieValue('a'.repeat(MAX), MAX));
  t.false(isValidCookieValue('a'.repeat(MAX + 1), MAX));
});

test('header keys: the first line\'s value; empty or oversized is absent', (t) => {
  const key: HashKey = { kind: 'header', name: 'x-user' };
  t.is(readRequestHashKey(key, { headers: { 'x-user': 'alice' } }, MAX), 'alice');
  // Node joins repeated lines with ", "; rawHeaders tells the lines apart.
  t.is(readRequestHashKey(key, { headers: { 'x-user': 'alice, bob' }, rawHeaders: ['X-User', 'alice', 'X-User', 'bob'] }, MAX), 'alice');
  t.is(readRequestHashKey(key, { headers: { 'x-user': 'a,b' }, rawHeaders: ['x-user', 'a,b'] }, MAX), 'a,b', 'one line with a comma stays whole');
  t.is(readRequestHashKey(key, { headers: { 'x-user': '' } }, MAX), null);
  t.is(readRequestHashKey(key, { headers: {} }, MAX), null);
  t.is(readRequestHashKey(key, { headers: { 'x-user': 'x'.repeat(MAX + 1) } }, MAX), null);
});

test('source IP keys normalise IPv4-mapped IPv6 addresses', (t) => {
  const key: HashKey = { kind: 'sourceIp' };
  t.is(readRequestHashKey(key, { headers: {}, socket: { remoteAddress: '::ffff:10.1.2.3' } }, MAX), '10.1.2.3');
  t.is(readRequestHashKey(key, { headers: {}, socket: { remoteAddress: '10.1.2.3' } }, MAX), '10.1.2.3');
  t.is(readRequestHashKey(key, { headers: {}, socket: { remoteAddress: '2001:db8::1' } }, MAX), '2001:db8::1');
  t.is(readRequestHashKey(key, { headers: {}, socket: {} }, MAX), null);
});

test('query keys: first occurrence, form-decoded; empty, absent or undecodable is absent', (t) => {
  const key: HashKey = { kind: 'query', name: 'user' };
  const q = (url: string) => readRequestHashKey(key, { url, headers: {} }, MAX);
  t.is(q('/p?a=1&user=bob&user=eve'), 'bob');
  t.is(q('/p?user=b%20o+b'), 'b o b');
  t.is(q('/p?us%65r=x'), 'x', 'names are decoded too');
  t.is(q('/p?user='), null);
  t.is(q('/p?users=1'), null);
  t.is(q('/p'), null);
  t.is(q('/p?user=%E0%A4%A'), null);
  t.is(readRequestHashKey(key, { url: `/p?user=${'%C3%A9'.repeat(33)}`, headers: {} }, MAX), null, '66 UTF-8 bytes exceed 64');
});

test('Set-Cookie lines for ttl 60 and ttl 0', (t) => {
  const a = buildSetCookieParts('session', '/', 60);
  t.is(a.prefix + 'v1' + a.suffix, 'session=v1; Path=/; Max-Age=60; HttpOnly');
  const b = buildSetCookieParts('sid', '/app', 0);
  t.is(b.prefix + 'v2' + b.suffix, 'sid=v2; Path=/app; HttpOnly');
});

test('minted keys are 32 hex characters and unique across pool refills', (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    const k = mintSessionKey();
    t.regex(k, /^[0-9a-f]{32}$/);
    seen.add(k);
  }
  t.is(seen.size, 10_000);
  t.true(isValidCookieValue(mintSessionKey(), 32));
});

const kernel: Kernel = { load: () => ({ select: () => 0 }) };

function hashSubset(id: number, key: HashKey): Subset {
  return {
    id,
    name: `svc/s${id}`,
    host: 'svc',
    subsetName: `s${id}`,
    port: 80,
    endpoints: [{ id: '10.0.0.1:80', address: '10.0.0.1', port: 80, weight: 1, labels: {} }],
    policy: { kind: 'hash', key, table: 'ring', minimumRingSize: null, maglevTableSize: null },
    table: { kind: 'ring', hashes: Uint32Array.of(0), endpoints: Uint32Array.of(0) },
  };
}

test('the runtime snapshot precomputes Set-Cookie halves only for cookies it mints', (t) => {
  const snapshot: Snapshot = {
    epoch: 1,
    configHash: 'x',
    configPath: '/c',
    listeners: [],
    subsets: [
      hashSubset(0, { kind: 'cookie', name: 'session', path: '/', ttlSec: 60 }),
      hashSubset(1, { kind: 'cookie', name: 'session', path: '/', ttlSec: 0 }),
      hashSubset(2, { kind: 'cookie', name: 'session', path: '/', ttlSec: null }),
      hashSubset(3, { kind: 'header', name: 'x-user' }),
    ],
    settings: { ...DEFAULT_SETTINGS, sessionCacheSize: 10, maxKeyLength: 64 },
  };
  const rt = buildRuntimeSnapshot(snapshot, { kernel, hasher: { hash32: () => 0, destinationHash32: () => 0 } });
  const line = (i: number) => rt.subsets[i]!.setCookiePrefix + 'K' + rt.subsets[i]!.setCookieSuffix;
  t.true(rt.subsets[0]!.mintsCookie);
  t.is(line(0), 'session=K; Path=/; Max-Age=60; HttpOnly');
  t.true(rt.subsets[1]!.mintsCookie);
  t.is(line(1), 'session=K; Path=/; HttpOnly');
  t.false(rt.subsets[2]!.mintsCookie, 'ttl null never mints');
  t.false(rt.subsets[3]!.mintsCookie);
  t.deepEqual(rt.subsets[3]!.hashKey, { kind: 'header', name: 'x-user' });
});
