import test from 'ava';
import { ConfigError } from '../../../src/errors.js';
import { compileSources } from '../../../src/config/index.js';
import { API, destinationRule, docs, errorsOf, GATEWAY, lineOf, SERVICE, virtualService } from '../../fixtures/config/helpers.js';

const only = (issues: readonly { field: string; document: string; file: string }[]) => issues.map((i) => `${i.file} ${i.document} ${i.field}`);

test('a route to a host with no ServiceEntry', (t) => {
  const text = docs(GATEWAY, SERVICE, virtualService().replace('host: svc', 'host: nowhere'));
  const issues = errorsOf(text);
  t.deepEqual(only(issues), ['config.yaml VirtualService/vs spec.http[0].route[0].destination.host']);
  t.is(issues[0]!.line, lineOf(text, 'host: nowhere'));
  t.regex(issues[0]!.message, /no ServiceEntry defines host "nowhere"/);
});

test('an unknown subset: no DestinationRule at all, or no subset of that name', (t) => {
  const noRule = errorsOf(docs(GATEWAY, SERVICE, virtualService('v1')));
  t.deepEqual(only(noRule), ['config.yaml VirtualService/vs spec.http[0].route[0].destination.subset']);
  t.regex(noRule[0]!.message, /unknown subset "v1": no DestinationRule is defined for host "svc"/);
  const text = docs(GATEWAY, SERVICE, virtualService('v9'), destinationRule());
  const noSubset = errorsOf(text);
  t.deepEqual(only(noSubset), ['config.yaml VirtualService/vs spec.http[0].route[0].destination.subset']);
  t.is(noSubset[0]!.line, lineOf(text, 'subset: v9'));
  t.regex(noSubset[0]!.message, /DestinationRule\/dr defines subsets v1, v2/);
});

test('a subset with no endpoints', (t) => {
  const text = docs(GATEWAY, SERVICE, virtualService('v2'), destinationRule().replace('labels: {version: v2}', 'labels: {version: v2, zone: b}'));
  const issues = errorsOf(text);
  t.deepEqual(only(issues), ['config.yaml VirtualService/vs spec.http[0].route[0].destination']);
  t.regex(issues[0]!.message, /svc\/v2 port 8080 has no endpoints: none of ServiceEntry\/svc carries labels version=v2,zone=b/);
});

test('a VirtualService naming an unknown Gateway (namespace prefix stripped)', (t) => {
  const text = docs(GATEWAY, SERVICE, virtualService().replace('gateways: [gw]', 'gateways: [istio-system/gw, other/missing]'));
  const issues = errorsOf(text);
  t.deepEqual(only(issues), ['config.yaml VirtualService/vs spec.gateways[1]']);
  t.regex(issues[0]!.message, /unknown Gateway "missing"/);
});

test('wrong types are errors naming the field', (t) => {
  const text = docs(
    GATEWAY.replace('number: 80', 'number: eighty'),
    SERVICE.replace('hosts: [svc]', 'hosts: svc'),
    virtualService().replace('  http:\n', '  http:\n  - route: {destination: {host: svc}}\n'),
  );
  const issues = errorsOf(text);
  t.deepEqual(only(issues), [
    'config.yaml Gateway/gw spec.servers[0].port.number',
    'config.yaml ServiceEntry/svc spec.hosts',
    'config.yaml VirtualService/vs spec.http[0].route',
    // the entry's hosts were unusable, so the route to svc cannot resolve either
    'config.yaml VirtualService/vs spec.http[1].route[0].destination.host',
  ]);
  t.regex(issues[0]!.message, /must be an integer, got the string "eighty"/);
  t.regex(issues[1]!.message, /must be a list/);
  t.is(issues[1]!.line, lineOf(text, 'hosts: svc'));
});

test('duplicate names of one kind, across files, name both places', (t) => {
  const issues = errorsOf([
    { file: 'a.yaml', text: docs(GATEWAY, SERVICE, virtualService()) },
    { file: 'b.yaml', text: docs('\n\n' + virtualService()) },
  ]);
  t.deepEqual(only(issues), ['b.yaml VirtualService/vs metadata.name']);
  t.is(issues[0]!.line, 6);
  t.regex(issues[0]!.message, /duplicate VirtualService "vs": also defined at a\.yaml:\d+ VirtualService\/vs metadata\.name/);
});

test('a Gateway and a VirtualService may share a name: names are per kind', (t) => {
  const text = docs(GATEWAY, SERVICE, virtualService().replace('name: vs', 'name: gw'));
  t.notThrows(() => compileSources([{ file: 'x.yaml', text }]));
});

test('two DestinationRules for one host', (t) => {
  const issues = errorsOf(docs(GATEWAY, SERVICE, virtualService('v1'), destinationRule(), destinationRule().replace('name: dr', 'name: dr2')));
  t.deepEqual(only(issues), ['config.yaml DestinationRule/dr2 spec.host']);
  t.regex(issues[0]!.message, /host "svc" already has DestinationRule\/dr at config\.yaml:\d+/);
});

test('bad YAML is reported with its line, and the broken document is skipped', (t) => {
  const text = docs(GATEWAY, SERVICE, virtualService(), 'apiVersion: x\nkind: [unclosed\nfoo: bar\n');
  const issues = errorsOf(text);
  t.is(issues.length, 1);
  t.is(issues[0]!.document, 'document 4');
  t.is(issues[0]!.docIndex, 3);
  t.true(issues[0]!.line! >= lineOf(text, 'kind: [unclosed'));
  t.regex(issues[0]!.message, /^YAML: /);
});

test('weights: negative or fractional, missing among several, all zero', (t) => {
  const two = (w1: string, w2: string) =>
    virtualService().replace('        host: svc\n', `        host: svc\n${w1}    - destination: {host: svc}\n${w2}`);
  const neg = errorsOf(docs(GATEWAY, SERVICE, two('      weight: -1\n', '      weight: 101\n')));
  t.deepEqual(only(neg), ['config.yaml VirtualService/vs spec.http[0].route[0].weight']);
  t.regex(neg[0]!.message, /integer >= 0, got number -1/);
  const frac = errorsOf(docs(GATEWAY, SERVICE, two('      weight: 50.5\n', '      weight: 49.5\n')));
  t.deepEqual(only(frac), ['config.yaml VirtualService/vs spec.http[0].route[0].weight', 'config.yaml VirtualService/vs spec.http[0].route[1].weight']);
  const missing = errorsOf(docs(GATEWAY, SERVICE, two('', '      weight: 100\n')));
  t.regex(missing[0]!.message, /required when a route has several destinations/);
  const zero = errorsOf(docs(GATEWAY, SERVICE, two('      weight: 0\n', '      weight: 0\n')));
  t.deepEqual(only(zero), ['config.yaml VirtualService/vs spec.http[0].route']);
  t.regex(zero[0]!.message, /every destination has weight 0/);
});

test('an invalid regex names its field', (t) => {
  const text = docs(GATEWAY, SERVICE, virtualService().replace('  - route:', '  - match:\n    - uri: {regex: "/api/(v1"}\n    route:'));
  const issues = errorsOf(text);
  t.deepEqual(only(issues), ['config.yaml VirtualService/vs spec.http[0].match[0].uri.regex']);
  t.regex(issues[0]!.message, /invalid regular expression/);
});

test('an HTTPS gateway server without tls is an error; TCP is not implemented', (t) => {
  const issues = errorsOf(docs(GATEWAY.replace('protocol: HTTP', 'protocol: HTTPS'), SERVICE, virtualService()));
  t.deepEqual(only(issues), ['config.yaml Gateway/gw spec.servers[0].tls']);
  t.regex(issues[0]!.message, /required for protocol: HTTPS/);
  const tcp = errorsOf(docs(GATEWAY.replace('protocol: HTTP', 'protocol: TCP'), SERVICE, virtualService()));
  t.regex(tcp[0]!.message, /protocol TCP is not implemented/);
});

test('ServiceEntry resolution: host names need DNS or DNS_ROUND_ROBIN; NONE is refused; DNS_ROUND_ROBIN takes one endpoint', (t) => {
  const named = SERVICE.replace('address: 10.0.0.2', 'address: backend.local');
  const stat = errorsOf(docs(GATEWAY, named, virtualService()));
  t.deepEqual(only(stat), ['config.yaml ServiceEntry/svc spec.endpoints[1].address']);
  t.regex(stat[0]!.message, /"backend\.local" is not an IP address: ServiceEntry\/svc has resolution STATIC/);
  // the same entry under DNS compiles: the name is kept for the primary to resolve
  const dns = compileSources([{ file: 'config.yaml', text: docs(GATEWAY, named.replace('resolution: STATIC', 'resolution: DNS'), virtualService()) }]);
  const subset = dns.snapshot.subsets[0]!;
  t.deepEqual(subset.endpoints.map((e) => e.id), ['10.0.0.1:8080', '10.0.0.3:8080']);
  t.deepEqual(subset.dns?.sources, [{ name: 'backend.local', mode: 'DNS', port: 8080, weight: 1, labels: { version: 'v1' } }]);
  const bad = errorsOf(docs(GATEWAY, named.replace('resolution: STATIC', 'resolution: DNS').replace('backend.local', 'bad_name.local'), virtualService()));
  t.deepEqual(only(bad), ['config.yaml ServiceEntry/svc spec.endpoints[1].address']);
  t.regex(bad[0]!.message, /neither an IP address nor a host name/);
  const rr = errorsOf(docs(GATEWAY, SERVICE.replace('resolution: STATIC', 'resolution: DNS_ROUND_ROBIN'), virtualService()));
  t.deepEqual(only(rr), ['config.yaml ServiceEntry/svc spec.endpoints']);
  t.regex(rr[0]!.message, /DNS_ROUND_ROBIN allows one endpoint/);
  const none = errorsOf(docs(GATEWAY, SERVICE.replace('  resolution: STATIC\n', ''), virtualService()));
  t.regex(none[0]!.message, /resolution NONE \(the default\) is not implemented/);
});

test('ServiceEntry resolution DNS with no endpoints: each host the route names is resolved itself', (t) => {
  const se = SERVICE.replace('hosts: [svc]', 'hosts: [svc, api.example.org]').replace('resolution: STATIC', 'resolution: DNS').replace(/  endpoints:\n(  - .*\n)+/, '');
  const vs = virtualService().replace('  - route:', '  - match: [{uri: {prefix: /api}}]\n    route: [{destination: {host: api.example.org}}]\n  - route:');
  const out = compileSources([{ file: 'config.yaml', text: docs(GATEWAY, se, vs) }]);
  t.deepEqual(out.snapshot.subsets.map((s) => [s.name, s.endpoints.length, s.dns?.sources.map((x) => `${x.name}:${x.port}`)]), [
    ['api.example.org', 0, ['api.example.org:8080']],
    ['svc', 0, ['svc:8080']],
  ]);
});

test('destination ports: an unknown port, or no port when the ServiceEntry has several', (t) => {
  const twoPorts = SERVICE.replace('  - {number: 8080, name: http, protocol: HTTP}\n', '  - {number: 8080, name: http, protocol: HTTP}\n  - {number: 9090, name: admin}\n');
  const noPort = errorsOf(docs(GATEWAY, twoPorts, virtualService()));
  t.deepEqual(only(noPort), ['config.yaml VirtualService/vs spec.http[0].route[0].destination.port']);
  t.regex(noPort[0]!.message, /required: ServiceEntry\/svc has ports 8080, 9090/);
  const bad = errorsOf(docs(GATEWAY, SERVICE, virtualService().replace('host: svc', 'host: svc\n        port: {number: 9999}')));
  t.deepEqual(only(bad), ['config.yaml VirtualService/vs spec.http[0].route[0].destination.port.number']);
  t.regex(bad[0]!.message, /ServiceEntry\/svc has no port 9999/);
});

test('unsupported apiVersion, a missing name, a missing kind, no Gateway at all', (t) => {
  const issues = errorsOf([
    { file: 'a.yaml', text: docs(SERVICE.replace(API, 'networking.istio.io/v2'), 'kind: Gateway\nmetadata: {}\nspec: {}\n', 'apiVersion: v1\nmetadata: {name: x}\n') },
  ]);
  t.deepEqual(
    issues.map((i) => `${i.document} ${i.field}`),
    ['ServiceEntry/svc apiVersion', 'document 2 apiVersion', 'document 3 kind', '(configuration) (all documents)'],
  );
  t.regex(issues[3]!.message, /no Gateway/);
});

test('every problem is reported at once, in file and line order, in the thrown ConfigError', (t) => {
  const a = docs(GATEWAY, SERVICE, virtualService('v1', '    timeout: soon\n').replace('gateways: [gw]', 'gateways: [gw, nope]'));
  const b = docs(destinationRule('  trafficPolicy: {loadBalancer: {simple: FAST}}\n'), SERVICE.replace('number: 8080', 'number: 70000'));
  const err = t.throws(() => compileSources([{ file: 'a.yaml', text: a }, { file: 'b.yaml', text: b }]), { instanceOf: ConfigError });
  const issues = err!.issues;
  t.is(err!.code, 'STICKYD_ERR_CONFIG_INVALID');
  t.deepEqual(only(issues), [
    'a.yaml VirtualService/vs spec.gateways[1]',
    'a.yaml VirtualService/vs spec.http[0].timeout',
    'b.yaml DestinationRule/dr spec.trafficPolicy.loadBalancer.simple',
    'b.yaml ServiceEntry/svc metadata.name',
    'b.yaml ServiceEntry/svc spec.ports[0].number',
  ]);
  for (const i of issues) t.regex(err!.message, new RegExp(`${i.file}:${i.line}: ${i.document}: ${i.field.replace(/[[\].]/g, '\\$&')}: `));
});
