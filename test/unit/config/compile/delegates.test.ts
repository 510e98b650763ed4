import test from 'ava';
import { API, compileOne, docs, errorsOf, find, GATEWAY, lineOf, SERVICE } from '../../../fixtures/config/helpers.js';
import type { Route } from '../../../../src/snapshot/types.js';
import { stringConflicts } from '../../../../src/config/compile/delegates.js';

const vs = (name: string, hosts: string, http: string): string => `apiVersion: ${API}
kind: VirtualService
metadata: {name: ${name}}
spec:
${hosts}  http:
${http}`;

// Istio's own example (virtual_service.proto, message Delegate), with svc for every service
const ROOT = vs('bookinfo', '  hosts: [bookinfo.com]\n  gateways: [gw]\n', `  - match: [{uri: {prefix: /productpage}}]
    delegate: {name: productpage, namespace: nsA}
  - match: [{uri: {prefix: /reviews}}]
    delegate: {name: reviews, namespace: nsB}
`);
const PRODUCTPAGE = vs('productpage', '', `  - match: [{uri: {prefix: /productpage/v1/}}]
    route: [{destination: {host: svc}}]
  - route: [{destination: {host: svc}}]
`);
const REVIEWS = vs('reviews', '', `  - route: [{destination: {host: svc}}]
`);

const routesOf = (text: string): readonly Route[] => compileOne(text).snapshot.listeners[0]!.virtualHosts[0]!.routes;
const uris = (routes: readonly Route[]): (string | null)[][] => routes.map((r) => r.matches.map((m) => (m.uri === null ? null : `${m.uri.kind}:${m.uri.value}`)));

test('Istio\'s delegate example: each delegate route in place of the delegating one, its match narrowed inside the root\'s', (t) => {
  const { snapshot, warnings } = compileOne(docs(GATEWAY, SERVICE, ROOT, PRODUCTPAGE, REVIEWS));
  const vhosts = snapshot.listeners[0]!.virtualHosts;
  t.deepEqual(vhosts.map((v) => v.name), ['bookinfo'], 'delegates bind to no listener themselves');
  t.deepEqual(uris(vhosts[0]!.routes), [['prefix:/productpage/v1/'], ['prefix:/productpage'], ['prefix:/reviews']]);
  t.deepEqual(vhosts[0]!.routes.map((r) => r.name), ['bookinfo/http[0]/productpage/http[0]', 'bookinfo/http[0]/productpage/http[1]', 'bookinfo/http[1]/reviews/http[0]']);
  t.regex(find(warnings, 'spec.http[0].delegate.namespace')!.message, /no namespaces/);
});

test('a delegate route whose match does not fit inside the root\'s is dropped with a warning (Istio), the others stay', (t) => {
  const leaf = vs('productpage', '', `  - match: [{uri: {prefix: /other}}]
    route: [{destination: {host: svc}}]
  - match: [{uri: {exact: /productpage/x}, headers: {x-a: {exact: "1"}}}]
    route: [{destination: {host: svc}}]
`);
  const text = docs(GATEWAY, SERVICE, ROOT, leaf, REVIEWS);
  const { warnings } = compileOne(text);
  const routes = routesOf(text);
  t.deepEqual(uris(routes), [['exact:/productpage/x'], ['prefix:/reviews']]);
  t.deepEqual(routes[0]!.matches[0]!.headers.map((h) => h.name), ['x-a']);
  const w = find(warnings, 'spec.http[0].match');
  t.is(w!.document, 'VirtualService/productpage');
  t.regex(w!.message, /subset of the root's/);
});

test('merged matches keep the root\'s conditions the delegate leaves unset; route fields are inherited unless the delegate sets them; names joined', (t) => {
  const root = vs('root', '  hosts: [app.example.com]\n  gateways: [gw]\n', `  - name: api
    match: [{uri: {prefix: /api}, headers: {x-tenant: {exact: t1}}, method: {exact: GET}}]
    timeout: 3s
    rewrite: {uri: /v1}
    headers: {request: {set: {x-root: r}}}
    delegate: {name: api}
`);
  const leaf = vs('api', '', `  - name: users
    match: [{uri: {prefix: /api/users}, headers: {x-beta: {exact: "1"}}}]
    timeout: 1s
    route: [{destination: {host: svc}}]
  - route: [{destination: {host: svc}}]
`);
  const [a, b] = routesOf(docs(GATEWAY, SERVICE, root, leaf));
  t.is(a!.name, 'api-users');
  t.is(b!.name, 'api');
  const m = a!.matches[0]!;
  t.deepEqual(m.uri, { kind: 'prefix', value: '/api/users' });
  t.deepEqual(m.method, { kind: 'exact', value: 'GET' });
  t.deepEqual(m.headers.map((h) => h.name).sort(), ['x-beta', 'x-tenant']);
  t.is(a!.timeoutMs, 1000);
  t.is(b!.timeoutMs, 3000);
  t.deepEqual(a!.rewrite, { uri: '/v1', regex: null });
  t.deepEqual(b!.matches[0]!.uri, { kind: 'prefix', value: '/api' }, 'a delegate route without match takes the root\'s');
  t.deepEqual(b!.destinations[0]!.requestHeaders, [{ op: 'set', name: 'x-root', value: 'r' }]);
});

test('delegate errors name file, document and field: unknown name, a target with hosts, a second level', (t) => {
  const unknown = docs(GATEWAY, SERVICE, ROOT.replace('name: reviews, namespace: nsB', 'name: nowhere'), PRODUCTPAGE);
  const e = find(errorsOf(unknown), 'spec.http[1].delegate.name');
  t.is(e!.document, 'VirtualService/bookinfo');
  t.is(e!.line, lineOf(unknown, 'name: nowhere'));
  t.regex(e!.message, /unknown VirtualService "nowhere"/);
  const withHosts = docs(GATEWAY, SERVICE, ROOT, PRODUCTPAGE, REVIEWS.replace('spec:\n', 'spec:\n  hosts: [r.example]\n  gateways: [gw]\n'));
  t.regex(find(errorsOf(withHosts), 'spec.http[1].delegate.name')!.message, /has hosts: a delegate VirtualService has none/);
  const twoLevels = docs(GATEWAY, SERVICE, ROOT, PRODUCTPAGE, vs('reviews', '', '  - delegate: {name: productpage}\n'));
  const deep = find(errorsOf(twoLevels), 'spec.http[0].delegate.name');
  t.is(deep!.document, 'VirtualService/reviews');
  t.regex(deep!.message, /one level deep/);
  const both = errorsOf(docs(GATEWAY, SERVICE, ROOT.replace('delegate: {name: reviews, namespace: nsB}', 'delegate: {name: reviews}\n    route: [{destination: {host: svc}}]'), PRODUCTPAGE, REVIEWS));
  t.regex(find(both, 'spec.http[1].delegate')!.message, /only one of route, redirect, directResponse and delegate/);
});

test('a VirtualService without hosts that nobody delegates to is warned: it routes nothing', (t) => {
  const { warnings } = compileOne(docs(GATEWAY, SERVICE, ROOT, PRODUCTPAGE, REVIEWS, vs('orphan', '  gateways: [gw]\n', '  - route: [{destination: {host: svc}}]\n')));
  t.regex(find(warnings, 'spec.hosts')!.message, /routes nothing/);
  t.regex(find(warnings, 'spec.gateways')!.message, /delegate/);
});

test('Istio\'s string match conflicts: regex on either side, exact only itself, prefix only under it', (t) => {
  const m = (kind: 'exact' | 'prefix' | 'regex', value: string) => ({ kind, value });
  t.false(stringConflicts(null, m('regex', '.*')));
  t.false(stringConflicts(m('prefix', '/a'), null));
  t.true(stringConflicts(m('regex', '/a.*'), m('prefix', '/a')));
  t.true(stringConflicts(m('prefix', '/a'), m('regex', '/a.*')));
  t.false(stringConflicts(m('exact', '/a'), m('exact', '/a')));
  t.true(stringConflicts(m('exact', '/a'), m('exact', '/b')));
  t.true(stringConflicts(m('exact', '/a'), m('prefix', '/a')));
  t.false(stringConflicts(m('prefix', '/a'), m('prefix', '/a/b')));
  t.false(stringConflicts(m('prefix', '/a'), m('exact', '/a/b')));
  t.true(stringConflicts(m('prefix', '/a/b'), m('prefix', '/a')));
});
