import test from 'ava';
import { DEFAULT_SETTINGS } from '../../../../src/config/settings.js';
import { StickydError } from '../../../../src/errors.js';
import type { Kernel } from '../../../../src/kernel/index.js';
import type { Endpoint, Listener, Route, RouteMatch, Snapshot, StringMatch, Subset, VirtualHost } from '../../../../src/snapshot/types.js';
import { readRequestHost } from '../../../../src/worker/downstream/request-head.js';
import { selectDestination, selectRoute } from '../../../../src/worker/routing/route.js';
import { normalizePath } from '../../../../src/worker/routing/normalize-path.js';
import { buildRuntimeSnapshot, type RuntimeRoute, type RuntimeSnapshot } from '../../../../src/worker/routing/runtime-snapshot.js';

const fakeKernel: Kernel = { load: () => ({ select: () => 0 }) };
const fakeHasher = { hash32: (): number => 0, destinationHash32: (): number => 0 };

function endpoint(i: number): Endpoint {
  return { id: `10.0.0.${i}:8080`, address: `10.0.0.${i}`, port: 8080, weight: 1, labels: {} };
}

function subset(id: number): Subset {
  return { id, name: `svc/s${id}`, host: 'svc', subsetName: `s${id}`, port: 8080, endpoints: [endpoint(id)], policy: { kind: 'roundRobin' }, table: null };
}

const SUBSETS = [0, 1, 2, 3].map(subset);

function match(m: Partial<RouteMatch>): RouteMatch {
  return { uri: null, method: null, authority: null, headers: [], queryParams: [], ...m };
}

const exact = (value: string): StringMatch => ({ kind: 'exact', value });
const prefix = (value: string): StringMatch => ({ kind: 'prefix', value });
const regex = (value: string): StringMatch => ({ kind: 'regex', value });

function route(name: string, matches: RouteMatch[], weights: number[] = [100]): Route {
  const destinations = weights.map((weight, subset) => ({ subset, weight }));
  return { name, matches, destinations, totalWeight: weights.reduce((a, b) => a + b, 0), timeoutMs: null, retries: null };
}

function vhost(name: string, hosts: string[], routes: Route[] = [route(name, [])]): VirtualHost {
  return { name, hosts, routes };
}

function snapshot(listeners: Listener[]): Snapshot {
  return {
    epoch: 1,
    configHash: 'x',
    configPath: '/etc/stickyd',
    listeners,
    subsets: SUBSETS,
    settings: { ...DEFAULT_SETTINGS, sessionCacheSize: 100, maxKeyLength: 64 },
  };
}

function runtime(listeners: Listener[], random?: () => number): RuntimeSnapshot {
  return buildRuntimeSnapshot(snapshot(listeners), { kernel: fakeKernel, hasher: fakeHasher, random });
}

function req(host: string | undefined, url = '/', extra: Record<string, string> = {}, method = 'GET') {
  return { method, url, headers: { ...(host === undefined ? {} : { host }), ...extra } };
}

/** The route name, or the failure code. */
function routeName(rt: RuntimeSnapshot, r: ReturnType<typeof req>, port = 80): string {
  const route = selectRoute(rt, port, r, normalizePath((r.url ?? '/').split('?')[0]!));
  return typeof route === 'string' ? route : route.name;
}

const hostsRuntime = runtime([
  {
    port: 80,
    protocol: 'HTTP',
    servers: [],
    gatewayHosts: ['*'],
    virtualHosts: [
      vhost('exact', ['demo.example.com']),
      vhost('wild', ['*.example.com']),
      vhost('wild-longer', ['*.b.example.com']),
      vhost('v6', ['[::1]']),
      vhost('any', ['*']),
    ],
  },
]);

test('exact host wins over wildcards, and the longest wildcard suffix over shorter ones', (t) => {
  t.is(routeName(hostsRuntime, req('demo.example.com')), 'exact');
  t.is(routeName(hostsRuntime, req('a.example.com')), 'wild');
  t.is(routeName(hostsRuntime, req('x.y.example.com')), 'wild');
  t.is(routeName(hostsRuntime, req('a.b.example.com')), 'wild-longer');
  t.is(routeName(hostsRuntime, req('b.example.com')), 'wild', '*.b.example.com needs a label before .b.example.com');
  t.is(routeName(hostsRuntime, req('example.com')), 'any', '*.example.com does not match the bare domain');
  t.is(routeName(hostsRuntime, req('elsewhere.test')), 'any');
});

test('host is lower-cased and its port stripped, IPv6 literals included', (t) => {
  t.is(routeName(hostsRuntime, req('Demo.EXAMPLE.com:8080')), 'exact');
  t.is(routeName(hostsRuntime, req('[::1]:8080')), 'v6');
  t.is(readRequestHost({ host: '[2001:DB8::1]' }), '[2001:db8::1]');
  t.is(readRequestHost({ host: 'a.test:' }), 'a.test');
  t.is(readRequestHost({}), '');
  // the port is cut at the last ':', as lastIndexOf would (the scan is by hand: request-head.ts)
  t.is(readRequestHost({ host: 'A.Test:8080' }), 'a.test');
  t.is(readRequestHost({ host: 'a.test' }), 'a.test');
  t.is(readRequestHost({ host: 'a:b:80' }), 'a:b');
  t.is(readRequestHost({ host: ':80' }), '');
  t.is(readRequestHost({ host: '[::1]:8080' }), '[::1]');
});

test('Gateway hosts filter before VirtualService hosts; no match is NO_HOST', (t) => {
  const rt = runtime([
    { port: 80, protocol: 'HTTP', servers: [], gatewayHosts: ['demo.example.com', '*.corp.test'], virtualHosts: [vhost('any', ['*']), vhost('other', ['other.test'])] },
  ]);
  t.is(routeName(rt, req('demo.example.com')), 'any');
  t.is(routeName(rt, req('x.corp.test')), 'any');
  t.is(routeName(rt, req('other.test')), 'STICKYD_ERR_NO_HOST', 'the VirtualService claims it, the Gateway does not');
  t.is(routeName(rt, req('corp.test')), 'STICKYD_ERR_NO_HOST');
  t.is(routeName(rt, req(undefined)), 'STICKYD_ERR_NO_HOST');
});

test('a host no VirtualService claims, or an unknown listener port, is NO_HOST', (t) => {
  const rt = runtime([{ port: 80, protocol: 'HTTP', servers: [], gatewayHosts: ['*'], virtualHosts: [vhost('only', ['demo.example.com'])] }]);
  t.is(routeName(rt, req('nope.example.com')), 'STICKYD_ERR_NO_HOST');
  t.is(routeName(rt, req('demo.example.com'), 8080), 'STICKYD_ERR_NO_HOST');
});

function routesRuntime(routes: Route[], random?: () => number): RuntimeSnapshot {
  return runtime([{ port: 80, protocol: 'HTTP', servers: [], gatewayHosts: ['*'], virtualHosts: [vhost('vh', ['*'], routes)] }], random);
}

test('routes are tried in order; the first whose matches accept wins', (t) => {
  const rt = routesRuntime([
    route('dev', [match({ headers: [{ name: 'stage', match: exact('dev') }] })]),
    route('api', [match({ uri: prefix('/api') })]),
    route('rest', []),
  ]);
  t.is(routeName(rt, req('h', '/api/x', { stage: 'dev' })), 'dev');
  t.is(routeName(rt, req('h', '/api/x')), 'api');
  t.is(routeName(rt, req('h', '/other')), 'rest');
});

test('no accepting route is NO_ROUTE', (t) => {
  const rt = routesRuntime([route('api', [match({ uri: prefix('/api') })])]);
  t.is(routeName(rt, req('h', '/web')), 'STICKYD_ERR_NO_ROUTE');
});

test('header matches: exact, prefix, full-string regex; absent headers never match', (t) => {
  const rt = routesRuntime([
    route('exact', [match({ headers: [{ name: 'x-a', match: exact('one') }] })]),
    route('prefix', [match({ headers: [{ name: 'x-b', match: prefix('pre') }] })]),
    route('regex', [match({ headers: [{ name: 'x-c', match: regex('v[0-9]+') }] })]),
    route('rest', []),
  ]);
  t.is(routeName(rt, req('h', '/', { 'x-a': 'one' })), 'exact');
  t.is(routeName(rt, req('h', '/', { 'x-a': 'one!' })), 'rest');
  t.is(routeName(rt, req('h', '/', { 'x-b': 'prefixed' })), 'prefix');
  t.is(routeName(rt, req('h', '/', { 'x-b': 'xpre' })), 'rest');
  t.is(routeName(rt, req('h', '/', { 'x-c': 'v12' })), 'regex');
  t.is(routeName(rt, req('h', '/', { 'x-c': 'v12-beta' })), 'rest', 'a regex must match the whole value');
  t.is(routeName(rt, req('h', '/', {})), 'rest');
});

test('header match names are compared lower-case', (t) => {
  const rt = routesRuntime([route('dev', [match({ headers: [{ name: 'Stage', match: exact('dev') }] })]), route('rest', [])]);
  t.is(routeName(rt, req('h', '/', { stage: 'dev' })), 'dev');
});

test('uri matches look at the path without the query string', (t) => {
  const rt = routesRuntime([
    route('exact', [match({ uri: exact('/ping') })]),
    route('regex', [match({ uri: regex('/items/[0-9]+') })]),
    route('prefix', [match({ uri: prefix('/static/') })]),
    route('rest', []),
  ]);
  t.is(routeName(rt, req('h', '/ping?x=1')), 'exact');
  t.is(routeName(rt, req('h', '/ping/')), 'rest');
  t.is(routeName(rt, req('h', '/items/42?sort=asc')), 'regex');
  t.is(routeName(rt, req('h', '/items/42/x')), 'rest');
  t.is(routeName(rt, req('h', '/static/app.js?v=3')), 'prefix');
  t.is(routeName(rt, req('h', '/x?/static/')), 'rest', 'a prefix inside the query string does not count');
});

test('method, authority and query parameter matches', (t) => {
  const rt = routesRuntime([
    route('post', [match({ method: exact('POST') })]),
    route('authority', [match({ authority: regex('admin\\..*') })]),
    route('query', [match({ queryParams: [{ name: 'debug', match: exact('1') }] })]),
    route('query-regex', [match({ queryParams: [{ name: 'v', match: regex('[a-z]+') }] })]),
    route('rest', []),
  ]);
  t.is(routeName(rt, req('h', '/', {}, 'POST')), 'post');
  t.is(routeName(rt, req('admin.example.com:8080', '/')), 'authority');
  t.is(routeName(rt, req('h', '/p?a=2&debug=1')), 'query');
  t.is(routeName(rt, req('h', '/p?debug=10')), 'rest');
  t.is(routeName(rt, req('h', '/p?debug')), 'rest', 'a parameter without a value is the empty string');
  t.is(routeName(rt, req('h', '/p?v=abc')), 'query-regex');
  t.is(routeName(rt, req('h', '/p?v=ab1')), 'rest');
  t.is(routeName(rt, req('h', '/p?debug=%31')), 'query', 'values are percent-decoded');
});

test('matches are any-of; fields within one match are all-of', (t) => {
  const rt = routesRuntime([
    route('both', [match({ method: exact('GET'), uri: prefix('/a') }), match({ headers: [{ name: 'x-any', match: exact('y') }] })]),
    route('rest', []),
  ]);
  t.is(routeName(rt, req('h', '/a/1')), 'both');
  t.is(routeName(rt, req('h', '/a/1', {}, 'PUT')), 'rest', 'GET and /a must both hold');
  t.is(routeName(rt, req('h', '/b', { 'x-any': 'y' }, 'PUT')), 'both', 'the second match alone is enough');
});

test('an empty match list accepts every request', (t) => {
  const rt = routesRuntime([route('all', [])]);
  for (const r of [req('h', '/'), req('h', '/x?y=1', { a: 'b' }, 'DELETE'), req(undefined, '/')]) t.is(routeName(rt, r), 'all');
});

function counts(rt: RuntimeSnapshot, n: number): number[] {
  const c = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    const target = selectDestination(selectRoute(rt, 80, req('h'), '/') as RuntimeRoute, rt.random);
    c[target.subset.id]!++;
  }
  return c;
}

/** Evenly spread draws over [0, 1): the split must come out exact. */
function countedRandom(n: number): () => number {
  let k = 0;
  return () => (k++ % n + 0.5) / n;
}

/** mulberry32: a small seeded PRNG, for a statistical check independent of the spread above. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

test('an 80/20 split follows the weights exactly with evenly spread draws', (t) => {
  t.deepEqual(counts(routesRuntime([route('split', [], [80, 20])], countedRandom(10_000)), 10_000), [8000, 2000, 0, 0]);
});

test('an 80/20 split follows the weights statistically with a seeded random', (t) => {
  const [a, b] = counts(routesRuntime([route('split', [], [80, 20])], seeded(42)), 20_000);
  // binomial sd for n=20000, p=0.2 is ~57; 4 sd
  t.true(Math.abs(b! - 4000) < 230, `v2 got ${b}`);
  t.is(a! + b!, 20_000);
});

test('a weight-0 destination is never chosen, wherever it sits', (t) => {
  const draws = [0, 1e-12, 0.25, 0.5, 0.79999, 0.8, 0.999999999];
  for (const weights of [[0, 100], [100, 0], [0, 50, 50], [50, 0, 50], [80, 20, 0], [0, 0, 30, 70]]) {
    let k = 0;
    const rt = routesRuntime([route('w', [], weights)], () => draws[k++ % draws.length]!);
    const c = counts(rt, draws.length * 3);
    weights.forEach((w, i) => {
      if (w === 0) t.is(c[i], 0, `weights ${weights} chose index ${i}`);
    });
  }
});

test('one destination carrying all the weight needs no random draw', (t) => {
  const rt = routesRuntime([route('sole', [], [0, 100, 0])], () => {
    throw new Error('random must not be called');
  });
  t.deepEqual(counts(rt, 5), [0, 5, 0, 0]);
});

test('an invalid regex rejects the whole snapshot with a coded error', (t) => {
  const err = t.throws(() => routesRuntime([route('bad', [match({ uri: regex('(unclosed') })])]));
  t.true(err instanceof StickydError);
  t.is((err as StickydError).code, 'STICKYD_ERR_RELOAD');
});

test('ignoreUriCase compares exact and prefix uris case-insensitively; withoutHeaders fails a match when any fires', (t) => {
  const rt = routesRuntime([
    route('ci', [{ ...match({ uri: prefix('/Api/') }), ignoreUriCase: true }]),
    route('not-beta', [{ ...match({ uri: prefix('/b') }), withoutHeaders: [{ name: 'x-beta', match: exact('1') }] }]),
    route('no-debug', [{ ...match({ uri: prefix('/d') }), withoutHeaders: [{ name: 'x-debug', match: prefix('') }] }]),
    route('rest', []),
  ]);
  t.is(routeName(rt, req('h', '/API/x')), 'ci');
  t.is(routeName(rt, req('h', '/api/x')), 'ci');
  t.is(routeName(rt, req('h', '/b')), 'not-beta', 'a missing header does not fire an exact condition');
  t.is(routeName(rt, req('h', '/b', { 'x-beta': '2' })), 'not-beta');
  t.is(routeName(rt, req('h', '/b', { 'x-beta': '1' })), 'rest');
  t.is(routeName(rt, req('h', '/d')), 'no-debug', 'a presence condition fires only on a present header');
  t.is(routeName(rt, req('h', '/d', { 'x-debug': '' })), 'rest');
});

test('paths are matched after normalisation: dot segments cannot reach around a prefix route', (t) => {
  const rt = routesRuntime([route('api', [match({ uri: prefix('/api/') })]), route('admin', [match({ uri: prefix('/admin') })])]);
  t.is(routeName(rt, req('h', '/api/../admin/x')), 'admin');
  t.is(routeName(rt, req('h', '/api/%2e%2e/admin')), 'admin');
  t.is(routeName(rt, req('h', '/x/../api/y')), 'api');
});
