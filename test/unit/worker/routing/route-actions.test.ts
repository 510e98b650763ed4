import test from 'ava';
import { applyHeaderEdits, replaceHost } from '../../../../src/worker/downstream/header-edits.js';
import { normalizePath } from '../../../../src/worker/routing/normalize-path.js';
import { buildLocation } from '../../../../src/worker/routing/redirect.js';
import { rewritePath } from '../../../../src/worker/routing/rewrite-path.js';
import type { RedirectPlan } from '../../../../src/snapshot/types.js';

test('header edits: remove every line of a name, set replaces, add folds with a comma (Set-Cookie gets its own line)', (t) => {
  const list = ['Host', 'a', 'X-A', '1', 'x-a', '2', 'Set-Cookie', 'c=1', 'X-Keep', 'k'];
  const out = applyHeaderEdits(list, [
    { op: 'remove', name: 'x-a', value: '' },
    { op: 'set', name: 'x-keep', value: 'new' },
    { op: 'add', name: 'x-keep', value: 'more' },
    { op: 'add', name: 'set-cookie', value: 'd=2' },
    { op: 'add', name: 'x-new', value: 'n' },
  ]);
  t.deepEqual(out, ['Host', 'a', 'Set-Cookie', 'c=1', 'x-keep', 'new, more', 'set-cookie', 'd=2', 'x-new', 'n']);
  const h = ['host', 'old', 'x', 'y'];
  replaceHost(h, 'new.example');
  t.deepEqual(h, ['host', 'new.example', 'x', 'y']);
});

test('path normalisation: dot segments, %2E and backslashes, as Envoy\'s normalize_path; plain paths untouched', (t) => {
  t.is(normalizePath('/api/v1/users'), '/api/v1/users');
  t.is(normalizePath('/api/../admin'), '/admin');
  t.is(normalizePath('/api/%2e%2E/admin'), '/admin');
  t.is(normalizePath('/api/..\\..\\admin'), '/admin');
  t.is(normalizePath('/../../../etc/passwd'), '/etc/passwd');
  t.is(normalizePath('/a/./b/.'), '/a/b/');
  t.is(normalizePath('/a/b/..'), '/a/');
  t.is(normalizePath('/a/.hidden/..x'), '/a/.hidden/..x');
});

test('rewrite: the matched prefix, the whole path, or regex substitutions; the query is kept', (t) => {
  const plan = { uri: '/v2/', regex: null, replacement: '' };
  t.is(rewritePath('/api/users', '?q=1', plan, '/api/'.length), '/v2/users?q=1');
  t.is(rewritePath('/exact', '', { ...plan, uri: '/other' }, -1), '/other');
  // a match without uri is Envoy's prefix "/": the rewrite replaces the leading slash only
  t.is(rewritePath('/foo', '', { ...plan, uri: '/bar/' }, 1), '/bar/foo');
  t.is(rewritePath('/aaa/XxX/bbb', '', { uri: null, regex: /\/xxx\//gi, replacement: '/yyy/' }, -1), '/aaa/yyy/bbb');
});

const plan = (p: Partial<RedirectPlan>): RedirectPlan => ({ code: 301, scheme: null, authority: null, port: null, uri: null, prefixRewrite: null, ...p });
const facts = { scheme: 'http', host: 'app.example.com:8080', path: '/old/x', query: '?a=1', cut: 4 };

test('redirect Location: Envoy\'s rules for host, port, scheme, path and query', (t) => {
  t.is(buildLocation(plan({ uri: '/new' }), facts), 'http://app.example.com:8080/new?a=1');
  t.is(buildLocation(plan({ uri: '/new?b=2' }), facts), 'http://app.example.com:8080/new?b=2');
  t.is(buildLocation(plan({ scheme: 'https', port: 0 }), facts), 'https://app.example.com/old/x?a=1');
  t.is(buildLocation(plan({ scheme: 'https' }), { ...facts, host: 'app.example.com:80' }), 'https://app.example.com/old/x?a=1');
  t.is(buildLocation(plan({ authority: 'other.example', port: 9000 }), facts), 'http://other.example:9000/old/x?a=1');
  t.is(buildLocation(plan({ prefixRewrite: '/new' }), facts), 'http://app.example.com:8080/new/x?a=1');
  t.is(buildLocation(plan({ port: 0 }), { ...facts, host: '[::1]:8080' }), 'http://[::1]/old/x?a=1');
});

test('redirect Location from hostile request data: always absolute on the configured or requested host, no control bytes', (t) => {
  // a path that looks like a network-path reference stays a path on this host
  t.is(buildLocation(plan({ prefixRewrite: '/' }), { ...facts, path: '/old//evil.example/x', cut: 5 }), 'http://app.example.com:8080//evil.example/x?a=1');
  const loc = buildLocation(plan({}), { ...facts, path: '/a\r\nSet-Cookie: x=1\u00e9', query: '' });
  t.is(loc, 'http://app.example.com:8080/a%0D%0ASet-Cookie:%20x=1%E9');
  t.notRegex(loc, /[\r\n\s]/);
});

import { decideCors, type CompiledCors } from '../../../../src/worker/routing/cors.js';
import { decideFault } from '../../../../src/worker/routing/fault.js';
import { computeBackoffMs } from '../../../../src/worker/upstream/backoff.js';

const cors = (over: Partial<CompiledCors['plan']> = {}, origins: CompiledCors['origins'] = [{ kind: 'exact', value: 'https://a.example', regex: null }, { kind: 'regex', value: '', regex: /^https:\/\/.*\.b\.example$/ }]): CompiledCors => ({
  plan: { origins: [], allowMethods: 'GET,POST', allowHeaders: 'x-a', exposeHeaders: 'x-e', maxAge: '86400', allowCredentials: true, forwardUnmatchedPreflights: true, ...over },
  origins,
});

test('CORS: allowed preflights are answered with the policy; actual requests get Allow-Origin echoed; unmatched ones pass', (t) => {
  t.deepEqual(decideCors(cors(), 'OPTIONS', 'https://x.b.example', 'POST'), {
    kind: 'preflight',
    headers: ['Access-Control-Allow-Origin', 'https://x.b.example', 'Access-Control-Allow-Credentials', 'true', 'Access-Control-Allow-Methods', 'GET,POST', 'Access-Control-Allow-Headers', 'x-a', 'Access-Control-Max-Age', '86400'],
  });
  t.deepEqual(decideCors(cors(), 'GET', 'https://a.example', undefined), { kind: 'actual', headers: ['Access-Control-Allow-Origin', 'https://a.example', 'Access-Control-Allow-Credentials', 'true', 'Access-Control-Expose-Headers', 'x-e'] });
  t.deepEqual(decideCors(cors(), 'OPTIONS', 'https://evil.example', 'POST'), { kind: 'none' });
  t.deepEqual(decideCors(cors({ forwardUnmatchedPreflights: false }), 'OPTIONS', 'https://evil.example', 'POST'), { kind: 'preflight', headers: [] });
  t.deepEqual(decideCors(cors(), 'GET', undefined, undefined), { kind: 'none' });
  // a plain OPTIONS (no Access-Control-Request-Method) is not a preflight
  t.is(decideCors(cors(), 'OPTIONS', 'https://a.example', undefined).kind, 'actual');
  // Envoy: a matcher that accepts "*" allows any origin
  t.is(decideCors(cors({}, [{ kind: 'exact', value: '*', regex: null }]), 'GET', 'https://any.example', undefined).kind, 'actual');
});

test('fault: each part draws against its percentage', (t) => {
  const plan = { delayMs: 100, delayPercent: 50, abortStatus: 503, abortPercent: 10 };
  t.deepEqual(decideFault(plan, () => 0.05), { delayMs: 100, abortStatus: 503 });
  t.deepEqual(decideFault(plan, () => 0.3), { delayMs: 100, abortStatus: 0 });
  t.deepEqual(decideFault(plan, () => 0.99), { delayMs: 0, abortStatus: 0 });
  t.deepEqual(decideFault({ ...plan, delayPercent: 0, abortPercent: 0 }, () => 0), { delayMs: 0, abortStatus: 0 });
});

test('retry backoff: uniform in [0, base x 2^(n-1)), capped at 10 x base (Envoy)', (t) => {
  const top = () => 0.999999;
  t.deepEqual([1, 2, 3, 4, 5, 6].map((n) => computeBackoffMs(25, n, top)), [24, 49, 99, 199, 249, 249]);
  t.is(computeBackoffMs(25, 3, () => 0), 0);
});
