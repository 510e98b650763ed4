import test from 'ava';
import { API, compileOne, destinationRule, docs, find, GATEWAY, lineOf, SERVICE, virtualService } from '../../../fixtures/config/helpers.js';

test('VirtualService tcp and tls routes and exportTo are warned by full path: an HTTP ingress serves neither', (t) => {
  const { warnings } = compileOne(docs(GATEWAY, SERVICE, virtualService(undefined, '  tcp: []\n  tls: []\n  exportTo: ["."]\n')));
  t.truthy(find(warnings, 'spec.tcp'));
  t.truthy(find(warnings, 'spec.tls'));
  t.regex(find(warnings, 'spec.exportTo')!.message, /ignored/);
});

test('unknown fields anywhere are warned with their full path', (t) => {
  const vs = virtualService().replace('  - route:', '  - match:\n    - colour: blue\n    route:').replace('        host: svc\n', '        host: svc\n        hostt: typo\n');
  const text = docs(GATEWAY.replace('  servers:', '  extra: 1\n  servers:'), SERVICE, vs);
  const { warnings } = compileOne(text);
  t.regex(find(warnings, 'spec.extra')!.message, /unknown field; ignored/);
  t.is(find(warnings, 'spec.http[0].route[0].destination.hostt')!.line, lineOf(text, 'hostt: typo'));
  t.truthy(find(warnings, 'spec.http[0].match[0].colour'));
});

test('Istio ignores the header names uri, scheme, method and authority in a match, and so does stickyd (warned)', (t) => {
  const vs = virtualService().replace('  - route:', '  - match:\n    - headers:\n        uri: {exact: /x}\n        Authority: {exact: a}\n        x-ok: {exact: "1"}\n    route:');
  const { snapshot, warnings } = compileOne(docs(GATEWAY, SERVICE, vs));
  t.deepEqual(snapshot.listeners[0]!.virtualHosts[0]!.routes[0]!.matches[0]!.headers.map((h) => h.name), ['x-ok']);
  t.regex(find(warnings, 'spec.http[0].match[0].headers.uri')!.message, /Istio ignores the header name "uri"/);
  t.truthy(find(warnings, 'spec.http[0].match[0].headers.Authority'));
});

test('"mesh" and a VirtualService with no gateways are warned and bound to no listener', (t) => {
  const meshOnly = virtualService().replace('gateways: [gw]', 'gateways: [mesh]').replace('name: vs', 'name: mesh-vs');
  const none = virtualService().replace('  gateways: [gw]\n', '').replace('name: vs', 'name: none-vs');
  const { snapshot, warnings } = compileOne(docs(GATEWAY, SERVICE, virtualService(), meshOnly, none));
  t.deepEqual(snapshot.listeners[0]!.virtualHosts.map((v) => v.name), ['vs']);
  t.regex(find(warnings.filter((w) => w.document === 'VirtualService/mesh-vs'), 'spec.gateways[0]')!.message, /"mesh" binds sidecars/);
  t.regex(find(warnings.filter((w) => w.document === 'VirtualService/none-vs'), 'spec.gateways')!.message, /applies only to the mesh/);
});

test('ServiceEntry location/exportTo, Gateway selector, unreferenced Gateways and other Istio kinds', (t) => {
  const se = SERVICE.replace('  resolution: STATIC', '  location: MESH_EXTERNAL\n  exportTo: ["*"]\n  resolution: STATIC');
  const gw2 = GATEWAY.replace('name: gw', 'name: lonely').replace('number: 80', 'number: 8081').replace('  servers:', '  selector: {istio: ingressgateway}\n  servers:');
  const sidecar = `apiVersion: ${API}\nkind: Sidecar\nmetadata: {name: sc}\nspec: {}\n`;
  const { snapshot, warnings } = compileOne(docs(GATEWAY, gw2, se, virtualService(), sidecar));
  t.regex(find(warnings, 'spec.location')!.message, /ignored/);
  t.regex(find(warnings, 'spec.exportTo')!.message, /ignored/);
  t.is(find(warnings, 'spec.selector')!.message, 'ignored: selects gateway pods on Kubernetes');
  const lonely = warnings.find((w) => w.document === 'Gateway/lonely' && w.field === '(document)');
  t.regex(lonely!.message, /no VirtualService binds this Gateway: port 8081 will answer 404/);
  t.deepEqual(snapshot.listeners.map((l) => [l.port, l.virtualHosts.length]), [[80, 1], [8081, 0]]);
  t.regex(warnings.find((w) => w.document === 'Sidecar/sc')!.message, /kind Sidecar is not implemented by stickyd; ignored/);
});

test('regexes compile and carry an RE2 warning; header names are lower-cased; an empty header match means present', (t) => {
  const match = '  - match:\n    - uri: {regex: "/api/v[0-9]+"}\n      headers:\n        X-Stage: {exact: dev}\n        X-Debug: {}\n      queryParams: {q: {prefix: a}}\n      method: {exact: GET}\n      authority: {prefix: app.}\n    route:';
  const { snapshot, warnings } = compileOne(docs(GATEWAY, SERVICE, virtualService().replace('  - route:', match)));
  t.deepEqual(snapshot.listeners[0]!.virtualHosts[0]!.routes[0]!.matches, [
    {
      uri: { kind: 'regex', value: '/api/v[0-9]+' },
      method: { kind: 'exact', value: 'GET' },
      authority: { kind: 'prefix', value: 'app.' },
      headers: [
        { name: 'x-stage', match: { kind: 'exact', value: 'dev' } },
        { name: 'x-debug', match: { kind: 'prefix', value: '' } },
      ],
      queryParams: [{ name: 'q', match: { kind: 'prefix', value: 'a' } }],
    },
  ]);
  t.regex(find(warnings, 'spec.http[0].match[0].uri.regex')!.message, /RE2/);
});

test('a weight-0 endpoint is left out with a warning', (t) => {
  const { snapshot, warnings } = compileOne(docs(GATEWAY, SERVICE.replace('{address: 10.0.0.2,', '{address: 10.0.0.2, weight: 0,'), virtualService('v1'), destinationRule()));
  t.deepEqual(snapshot.subsets[0]!.endpoints.map((e) => e.id), ['10.0.0.1:8080']);
  t.regex(find(warnings, 'spec.endpoints[1].weight')!.message, /weight 0: this endpoint takes no traffic/);
});

test('an http route name replaces the default "<vs>/http[i]" name', (t) => {
  const { snapshot } = compileOne(docs(GATEWAY, SERVICE, virtualService().replace('  - route:', '  - name: main\n    route:')));
  t.is(snapshot.listeners[0]!.virtualHosts[0]!.routes[0]!.name, 'main');
});
