import test from 'ava';
import { compileOne, docs, errorsOf, find, GATEWAY, SERVICE, virtualService, API } from '../../../fixtures/config/helpers.js';
import type { Route } from '../../../../src/snapshot/types.js';

const routes = (text: string, listener = 0): readonly Route[] => compileOne(text).snapshot.listeners[listener]!.virtualHosts[0]!.routes;
const withRoute = (block: string): string => docs(GATEWAY, SERVICE, virtualService().replace('  - route:', `${block}    route:`));
/** the fixture's VirtualService with its one route replaced by `block` */
const instead = (block: string): string => docs(GATEWAY, SERVICE, virtualService().replace('  - route:\n    - destination:\n        host: svc\n', block));
/** a VirtualService for app.example.com on gw whose http list is `http` */
const appRoutes = (http: string): string => `apiVersion: ${API}
kind: VirtualService
metadata: {name: vs}
spec:
  hosts: [app.example.com]
  gateways: [gw]
  http:
${http}`;

test('headers: destination edits before the route\'s, removals then set then add, names lower-cased and sorted; Host becomes the authority', (t) => {
  const vs = virtualService().replace('  - route:', [
    '  - headers:',
    '      request:',
    '        set: {X-B: "2", x-a: "1", Host: rewritten.example}',
    '        add: {x-c: "3"}',
    '        remove: [X-Drop]',
    '      response:',
    '        set: {x-resp: r}',
    '    route:',
  ].join('\n') + '\n') + '      headers:\n        request: {set: {x-a: dest}, remove: [x-d]}\n        response: {remove: [server]}\n';
  const [route] = routes(docs(GATEWAY, SERVICE, vs));
  const d = route!.destinations[0]!;
  t.deepEqual(d.requestHeaders, [
    { op: 'remove', name: 'x-d', value: '' },
    { op: 'set', name: 'x-a', value: 'dest' },
    { op: 'remove', name: 'x-drop', value: '' },
    { op: 'set', name: 'x-a', value: '1' },
    { op: 'set', name: 'x-b', value: '2' },
    { op: 'add', name: 'x-c', value: '3' },
  ]);
  t.deepEqual(d.responseHeaders, [{ op: 'remove', name: 'server', value: '' }, { op: 'set', name: 'x-resp', value: 'r' }]);
  t.is(d.authority, 'rewritten.example');
});

test('headers: CR/LF in a value, a bad name, or a framing header are errors', (t) => {
  const errs = errorsOf(withRoute('  - headers:\n      request:\n        set: {x-a: "a\\r\\nInjected: 1", "bad name": x, content-length: "5"}\n'));
  t.regex(find(errs, 'spec.http[0].headers.request.set.x-a')!.message, /control character/);
  t.regex(find(errs, 'spec.http[0].headers.request.set["bad name"]')!.message, /not a valid header name/);
  t.regex(find(errs, 'spec.http[0].headers.request.set.content-length')!.message, /frames the message/);
});

test('rewrite: uri, authority, and uriRegexRewrite with RE2 groups translated', (t) => {
  const [r] = routes(withRoute('  - match:\n    - uri: {prefix: /api/}\n    rewrite:\n      uri: /v2/\n      authority: Backend.Internal:8080\n'));
  t.deepEqual(r!.rewrite, { uri: '/v2/', regex: null });
  t.is(r!.destinations[0]!.authority, 'backend.internal:8080');
  const [x] = routes(withRoute('  - rewrite:\n      uriRegexRewrite: {match: "^/service/([^/]+)(/.*)$", rewrite: "/customprefix/\\\\2/\\\\1"}\n'));
  t.deepEqual(x!.rewrite!.regex, { pattern: { source: '^/service/([^/]+)(/.*)$', flags: 'g' }, replacement: '/customprefix/$02/$01' });
  const path = '/service/update/v1/api'.replace(new RegExp(x!.rewrite!.regex!.pattern.source, 'g'), x!.rewrite!.regex!.replacement);
  // Istio's doc example; group 2 holds the leading "/", so RE2 (and Envoy) give a double slash, and so do we
  t.is(path, '/customprefix//v1/api/update');
  const [ci] = routes(withRoute('  - rewrite:\n      uriRegexRewrite: {match: "(?i)/xxx/", rewrite: /yyy/}\n'));
  t.is('/aaa/XxX/bbb'.replace(new RegExp(ci!.rewrite!.regex!.pattern.source, ci!.rewrite!.regex!.pattern.flags), ci!.rewrite!.regex!.replacement), '/aaa/yyy/bbb');
  const bad = errorsOf(withRoute('  - rewrite:\n      uriRegexRewrite: {match: "^/(a)$", rewrite: "/\\\\2"}\n'));
  t.regex(find(bad, 'spec.http[0].rewrite.uriRegexRewrite.rewrite')!.message, /capture group the match does not have/);
  const inj = errorsOf(withRoute('  - rewrite:\n      authority: "evil.com\\r\\nX: y"\n      uri: "/a b"\n'));
  t.regex(find(inj, 'spec.http[0].rewrite.authority')!.message, /not a host/);
  t.regex(find(inj, 'spec.http[0].rewrite.uri')!.message, /visible ASCII/);
});

test('redirect and directResponse routes need no destination; Istio\'s defaults and port rules', (t) => {
  const vs = appRoutes(`  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /new}
  - match: [{uri: {prefix: /tls}}]
    redirect: {scheme: https, port: 443, redirectCode: 308}
  - match: [{uri: {prefix: /here}}]
    redirect: {authority: other.example, derivePort: FROM_REQUEST_PORT}
  - match: [{uri: {prefix: /v1}}]
    redirect: {prefixRewrite: /v2}
  - directResponse: {status: 503, body: {string: "unknown error"}}
    headers: {response: {set: {x-why: maintenance}}}
`);
  const rs = routes(docs(GATEWAY, SERVICE, vs));
  t.deepEqual(rs[0]!.redirect, { code: 301, scheme: null, authority: null, port: null, uri: '/new', prefixRewrite: null });
  t.deepEqual(rs[0]!.destinations, []);
  t.deepEqual(rs[1]!.redirect, { code: 308, scheme: 'https', authority: null, port: 0, uri: null, prefixRewrite: null });
  // FROM_REQUEST_PORT is the listener's port, and 80 is http's default: left out
  t.is(rs[2]!.redirect!.port, 0);
  t.is(rs[3]!.redirect!.prefixRewrite, '/v2');
  t.is(Buffer.from(rs[4]!.directResponse!.body!).toString(), 'unknown error');
  t.deepEqual(rs[4]!.responseHeaders, [{ op: 'set', name: 'x-why', value: 'maintenance' }]);
});

test('redirect/directResponse/route are exclusive; rewrite only forwards; bad codes and prefixRewrite without prefix matches', (t) => {
  t.regex(find(errorsOf(withRoute('  - redirect: {uri: /x}\n')), 'spec.http[0].redirect')!.message, /only one of route, redirect, directResponse and delegate/);
  const both = errorsOf(instead('  - redirect: {uri: /x}\n    rewrite: {uri: /y}\n'));
  t.regex(find(both, 'spec.http[0].rewrite')!.message, /cannot be used with redirect/);
  const code = errorsOf(instead('  - redirect: {uri: /x, redirectCode: 305}\n'));
  t.regex(find(code, 'spec.http[0].redirect.redirectCode')!.message, /301, 302, 303, 307 or 308/);
  const prefix = errorsOf(instead('  - match: [{uri: {exact: /a}}]\n    redirect: {prefixRewrite: /b}\n'));
  t.regex(find(prefix, 'spec.http[0].redirect.prefixRewrite')!.message, /uri prefix match/);
  const bytes = compileOne(instead('  - directResponse: {status: 200, body: {bytes: AAEC/w==}}\n'));
  t.deepEqual([...bytes.snapshot.listeners[0]!.virtualHosts[0]!.routes[0]!.directResponse!.body!], [0, 1, 2, 255]);
});

test('match port, scheme and per-match gateways are decided per listener; ignoreUriCase and withoutHeaders reach the snapshot', (t) => {
  const gw2 = GATEWAY.replace('name: gw', 'name: gw2').replace('number: 80', 'number: 8080');
  const vs = appRoutes(`  - name: only-8080
    match: [{port: 8080}]
    route: [{destination: {host: svc}}]
  - name: only-gw2
    match: [{gateways: [gw2], uri: {prefix: /x}}]
    route: [{destination: {host: svc}}]
  - name: https-only
    match: [{scheme: {exact: https}}]
    route: [{destination: {host: svc}}]
  - name: http-scheme
    match: [{scheme: {exact: http}, ignoreUriCase: true, uri: {prefix: /Case}, withoutHeaders: {x-beta: {exact: "1"}}}]
    route: [{destination: {host: svc}}]
`);
  const { snapshot } = compileOne(docs(GATEWAY, gw2, SERVICE, vs));
  const names = (port: number): string[] => snapshot.listeners.find((l) => l.port === port)!.virtualHosts[0]!.routes.map((r) => r.name);
  // gw2 is bound through the match alone, as Istio's getGatewayNames does
  t.deepEqual(names(80), ['http-scheme']);
  t.deepEqual(names(8080), ['only-8080', 'only-gw2', 'http-scheme']);
  const m = snapshot.listeners[0]!.virtualHosts[0]!.routes[0]!.matches[0]!;
  t.true(m.ignoreUriCase);
  t.deepEqual(m.withoutHeaders, [{ name: 'x-beta', match: { kind: 'exact', value: '1' } }]);
});
