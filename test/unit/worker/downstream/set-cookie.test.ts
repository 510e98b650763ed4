import test from 'ava';
import { buildPrivateCacheControl, buildSetCookieParts } from '../../../../src/worker/downstream/set-cookie.js';
import { buildClientHeaders } from '../../../../src/worker/downstream/forward-headers.js';

test('Set-Cookie: attributes after Path and Max-Age, flags bare, HttpOnly once at the end', (t) => {
  const p = buildSetCookieParts('session', '/', 3600, [{ name: 'SameSite', value: 'None' }, { name: 'Secure', value: '' }, { name: 'HttpOnly', value: '' }, { name: 'Partitioned', value: '' }]);
  t.is(`${p.prefix}abc${p.suffix}`, 'session=abc; Path=/; Max-Age=3600; SameSite=None; Secure; Partitioned; HttpOnly');
  const plain = buildSetCookieParts('sid', '/app', 0);
  t.is(`${plain.prefix}v${plain.suffix}`, 'sid=v; Path=/app; HttpOnly');
});

test('Cache-Control for a response carrying a minted cookie: private added, shared-cache directives dropped', (t) => {
  t.is(buildPrivateCacheControl(null), 'private');
  t.is(buildPrivateCacheControl(['public, max-age=600']), 'private, max-age=600');
  t.is(buildPrivateCacheControl(['s-maxage=60, max-age=10', 'proxy-revalidate']), 'private, max-age=10');
  t.is(buildPrivateCacheControl(['no-cache']), 'private, no-cache');
  t.is(buildPrivateCacheControl(['max-age=0, must-revalidate']), 'private, max-age=0, must-revalidate');
  t.is(buildPrivateCacheControl(['private="x-other"']), 'private', 'a private that does not name set-cookie protects nothing of ours');
  t.is(buildPrivateCacheControl(['public', 'no-transform, stale-if-error="a,b"']), 'private, no-transform, stale-if-error="a,b"', 'commas in quotes stay');
});

test('Cache-Control the backend already keeps from shared caches is left as it is', (t) => {
  t.is(buildPrivateCacheControl(['no-store']), null);
  t.is(buildPrivateCacheControl(['private, max-age=60']), null);
  t.is(buildPrivateCacheControl(['max-age=60', 'PRIVATE']), null);
  t.is(buildPrivateCacheControl(['private="Set-Cookie, X-Other"']), null);
  t.is(buildPrivateCacheControl(['public, No-Store']), null);
});

test('buildClientHeaders: only a response with our Set-Cookie is touched; CDN-Cache-Control too when present', (t) => {
  const raw = ['Content-Type', 'text/plain', 'Cache-Control', 'public, max-age=600', 'CDN-Cache-Control', 'max-age=86400', 'Set-Cookie', 'theirs=1'];
  t.deepEqual(buildClientHeaders(raw, 'id', null, false), [...raw, 'X-Request-Id', 'id']);
  t.deepEqual(buildClientHeaders(raw, 'id', 'session=abc; Path=/; HttpOnly', false), [
    'Content-Type', 'text/plain', 'Set-Cookie', 'theirs=1', 'X-Request-Id', 'id', 'Set-Cookie', 'session=abc; Path=/; HttpOnly',
    'Cache-Control', 'private, max-age=600', 'CDN-Cache-Control', 'private, max-age=86400',
  ]);
  t.deepEqual(buildClientHeaders(['Cache-Control', 'no-store'], 'id', 's=1', true), ['Cache-Control', 'no-store', 'X-Request-Id', 'id', 'Set-Cookie', 's=1', 'Connection', 'close']);
  t.deepEqual(buildClientHeaders([], 'id', 's=1', false), ['X-Request-Id', 'id', 'Set-Cookie', 's=1', 'Cache-Control', 'private']);
});

test('buildClientHeaders: a response carrying a header-form pin (added by the caller) is kept from shared caches too', (t) => {
  const raw = ['Cache-Control', 'public, max-age=60'];
  t.deepEqual(buildClientHeaders(raw, 'id', null, false, true), ['X-Request-Id', 'id', 'Cache-Control', 'private, max-age=60']);
  t.deepEqual(buildClientHeaders(raw, 'id', null, false, false), [...raw, 'X-Request-Id', 'id']);
});
