import test from 'ava';
import type { LbPolicy } from '../../../../src/snapshot/types.js';
import { compileOne, destinationRule, docs, errorsOf, find, GATEWAY, SERVICE, virtualService } from '../../../fixtures/config/helpers.js';

const LB = 'spec.subsets[0].trafficPolicy.loadBalancer';

/** the v1 subset's policy with `lb` as its loadBalancer (a YAML flow mapping) */
function v1Policy(lb: string): LbPolicy {
  const text = docs(GATEWAY, SERVICE, virtualService('v1'), destinationRule('', `    trafficPolicy: {loadBalancer: ${lb}}\n`));
  return compileOne(text).snapshot.subsets[0]!.policy;
}

function v1Errors(lb: string) {
  return errorsOf(docs(GATEWAY, SERVICE, virtualService('v1'), destinationRule('', `    trafficPolicy: {loadBalancer: ${lb}}\n`)));
}

const hash = (key: object, table: 'ring' | 'maglev' = 'ring', minimumRingSize: number | null = null, maglevTableSize: number | null = null) =>
  ({ kind: 'hash', key, table, minimumRingSize, maglevTableSize }) as LbPolicy;

test('cookie ttl: 60s -> 60, 0s -> 0 (session cookie), absent -> null (never mint); path defaults to "/"', (t) => {
  t.deepEqual(v1Policy('{consistentHash: {httpCookie: {name: session, ttl: 60s}}}'), hash({ kind: 'cookie', name: 'session', path: '/', ttlSec: 60 }));
  t.deepEqual(v1Policy('{consistentHash: {httpCookie: {name: session, ttl: 0s}}}'), hash({ kind: 'cookie', name: 'session', path: '/', ttlSec: 0 }));
  t.deepEqual(v1Policy('{consistentHash: {httpCookie: {name: session}}}'), hash({ kind: 'cookie', name: 'session', path: '/', ttlSec: null }));
  t.deepEqual(v1Policy('{consistentHash: {httpCookie: {name: s, path: /app, ttl: 1h}}}'), hash({ kind: 'cookie', name: 's', path: '/app', ttlSec: 3600 }));
});

test('a fractional cookie ttl rounds up with a warning, never down to a session cookie', (t) => {
  const text = docs(GATEWAY, SERVICE, virtualService('v1'), destinationRule('', '    trafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {name: s, ttl: 500ms}}}}\n'));
  const r = compileOne(text);
  t.deepEqual((r.snapshot.subsets[0]!.policy as { key: unknown }).key, { kind: 'cookie', name: 's', path: '/', ttlSec: 1 });
  t.regex(find(r.warnings, `${LB}.consistentHash.httpCookie.ttl`)!.message, /rounded up to 1s/);
});

test('header, source IP and query parameter keys', (t) => {
  t.deepEqual(v1Policy('{consistentHash: {httpHeaderName: X-User}}'), hash({ kind: 'header', name: 'x-user' }));
  t.deepEqual(v1Policy('{consistentHash: {useSourceIp: true}}'), hash({ kind: 'sourceIp' }));
  t.deepEqual(v1Policy('{consistentHash: {httpQueryParameterName: uid}}'), hash({ kind: 'query', name: 'uid' }));
});

test('ring is the default table; ringHash and legacy minimumRingSize set its size; maglev picks Maglev', (t) => {
  t.deepEqual(v1Policy('{consistentHash: {useSourceIp: true, ringHash: {minimumRingSize: 2048}}}'), hash({ kind: 'sourceIp' }, 'ring', 2048));
  t.deepEqual(v1Policy('{consistentHash: {useSourceIp: true, minimumRingSize: 512}}'), hash({ kind: 'sourceIp' }, 'ring', 512));
  t.deepEqual(v1Policy('{consistentHash: {useSourceIp: true, maglev: {tableSize: 65537}}}'), hash({ kind: 'sourceIp' }, 'maglev', null, 65537));
  t.deepEqual(v1Policy('{consistentHash: {useSourceIp: true, maglev: {}}}'), hash({ kind: 'sourceIp' }, 'maglev', null, null));
});

test('a Maglev table size must be prime', (t) => {
  const issues = v1Errors('{consistentHash: {useSourceIp: true, maglev: {tableSize: 65536}}}');
  t.is(issues.length, 1);
  t.is(issues[0]!.field, `${LB}.consistentHash.maglev.tableSize`);
  t.regex(issues[0]!.message, /65536 is not a prime/);
});

test('simple policies, and LEAST_REQUEST when nothing is set', (t) => {
  t.deepEqual(v1Policy('{simple: ROUND_ROBIN}'), { kind: 'roundRobin' });
  t.deepEqual(v1Policy('{simple: RANDOM}'), { kind: 'random' });
  t.deepEqual(v1Policy('{simple: LEAST_REQUEST}'), { kind: 'leastRequest' });
  const text = docs(GATEWAY, SERVICE, virtualService('v1'), destinationRule());
  t.deepEqual(compileOne(text).snapshot.subsets[0]!.policy, { kind: 'leastRequest' });
});

test('PASSTHROUGH, unknown names and malformed consistentHash are errors naming the field', (t) => {
  t.deepEqual(v1Errors('{simple: PASSTHROUGH}').map((i) => i.field), [`${LB}.simple`]);
  t.regex(v1Errors('{simple: PASSTHROUGH}')[0]!.message, /PASSTHROUGH is not implemented/);
  t.regex(v1Errors('{simple: FASTEST}')[0]!.message, /unknown load balancer "FASTEST"/);
  t.regex(v1Errors('{simple: RANDOM, consistentHash: {useSourceIp: true}}')[0]!.message, /only one of simple or consistentHash/);
  const two = v1Errors('{consistentHash: {useSourceIp: true, httpHeaderName: x}}');
  t.is(two[0]!.field, `${LB}.consistentHash`);
  t.regex(two[0]!.message, /only one of .* got httpHeaderName, useSourceIp/);
  t.regex(v1Errors('{consistentHash: {ringHash: {minimumRingSize: 8}}}')[0]!.message, /must set one of httpCookie/);
  t.regex(v1Errors('{consistentHash: {useSourceIp: true, ringHash: {}, maglev: {}}}')[0]!.message, /only one of ringHash, maglev or minimumRingSize/);
  t.deepEqual(v1Errors('{consistentHash: {httpCookie: {ttl: 60s}}}').map((i) => i.field), [`${LB}.consistentHash.httpCookie.name`]);
});

test('a subset policy overrides the rule policy; a destination without subset uses the rule policy', (t) => {
  const rule = destinationRule('  trafficPolicy:\n    loadBalancer:\n      simple: ROUND_ROBIN\n', '    trafficPolicy: {loadBalancer: {simple: RANDOM}}\n');
  const vs = virtualService(undefined).replace('        host: svc\n', '        host: svc\n      weight: 50\n    - destination: {host: svc, subset: v1}\n      weight: 30\n    - destination: {host: svc, subset: v2}\n      weight: 20\n');
  const s = compileOne(docs(GATEWAY, SERVICE, vs, rule)).snapshot;
  t.deepEqual(s.subsets.map((x) => [x.name, x.policy.kind, x.endpoints.length]), [
    ['svc', 'roundRobin', 3],
    ['svc/v1', 'random', 2],
    ['svc/v2', 'roundRobin', 1],
  ]);
  t.deepEqual(s.listeners[0]!.virtualHosts[0]!.routes[0]!.destinations, [
    { subset: 0, weight: 50 },
    { subset: 1, weight: 30 },
    { subset: 2, weight: 20 },
  ]);
});

test('tls mode DISABLE and an empty portLevelSettings compile beside a connectionPool, without a warning', (t) => {
  const tp = '  trafficPolicy:\n    connectionPool: {tcp: {maxConnections: 10}}\n    tls: {mode: DISABLE}\n    portLevelSettings: []\n';
  const { snapshot, warnings } = compileOne(docs(GATEWAY, SERVICE, virtualService('v1'), destinationRule(tp)));
  t.is(find(warnings, 'spec.trafficPolicy.connectionPool'), undefined);
  t.is(snapshot.subsets[0]!.connectionPool?.maxConnections, 10);
});

test('portLevelSettings as Istio validates them: a port number, at least one policy; a port listed twice is warned, the first applies', (t) => {
  const pls = (list: string) => destinationRule(`  trafficPolicy:\n    portLevelSettings: ${list}\n`);
  const errors = errorsOf(docs(GATEWAY, SERVICE, virtualService(), pls('[{loadBalancer: {simple: RANDOM}}, {port: {number: 8080}}, {port: {number: 0}, loadBalancer: {simple: RANDOM}}, {port: {}, connectionPool: {tcp: {maxConnections: 1}}}]')));
  t.deepEqual(errors.map((e) => e.field), [
    'spec.trafficPolicy.portLevelSettings[0].port',
    'spec.trafficPolicy.portLevelSettings[1]',
    'spec.trafficPolicy.portLevelSettings[2].port.number',
    'spec.trafficPolicy.portLevelSettings[3].port',
  ]);
  t.regex(errors[0]!.message, /needs port\.number/);
  t.regex(errors[1]!.message, /must set at least one of loadBalancer, connectionPool, outlierDetection, tls/);
  // a bad policy inside is reported at its own path
  const inner = errorsOf(docs(GATEWAY, SERVICE, virtualService(), pls('[{port: {number: 8080}, loadBalancer: {simple: FASTEST}}]')));
  t.deepEqual(inner.map((e) => e.field), ['spec.trafficPolicy.portLevelSettings[0].loadBalancer.simple']);
  const twice = compileOne(docs(GATEWAY, SERVICE, virtualService(), pls('[{port: {number: 8080}, loadBalancer: {simple: RANDOM}}, {port: {number: 8080}, loadBalancer: {simple: ROUND_ROBIN}}]')));
  t.regex(find(twice.warnings, 'spec.trafficPolicy.portLevelSettings[1].port.number')!.message, /Istio applies only the first/);
  t.deepEqual(twice.snapshot.subsets[0]!.policy, { kind: 'random' });
});

test('a port-level policy replaces the top level for its port and inherits nothing from it (Istio)', (t) => {
  const twoPorts = SERVICE.replace('  - {number: 8080, name: http, protocol: HTTP}\n', '  - {number: 8080, name: http, protocol: HTTP}\n  - {number: 9090, name: admin, protocol: HTTP}\n');
  const vs = virtualService().replace('host: svc', 'host: svc\n        port: {number: 8080}')
    .replace('  - route:', '  - match: [{uri: {prefix: /admin}}]\n    route: [{destination: {host: svc, port: {number: 9090}}}]\n  - route:');
  const tp = `  trafficPolicy:
    loadBalancer: {consistentHash: {httpHeaderName: x-user}}
    connectionPool: {tcp: {maxConnections: 7}}
    outlierDetection: {consecutive5xxErrors: 3}
    portLevelSettings:
    - port: {number: 9090}
      loadBalancer: {simple: ROUND_ROBIN}
`;
  const { snapshot } = compileOne(docs(GATEWAY, twoPorts, vs, destinationRule(tp)));
  const at = (port: number) => snapshot.subsets.find((s) => s.port === port)!;
  t.is(at(8080).policy.kind, 'hash');
  t.is(at(8080).connectionPool?.maxConnections, 7);
  t.not(at(8080).outlier ?? null, null);
  t.deepEqual(at(9090).policy, { kind: 'roundRobin' });
  t.is(at(9090).connectionPool ?? null, null, 'the top-level connectionPool is not inherited');
  t.is(at(9090).outlier ?? null, null, 'nor the top-level outlierDetection');
});

test('a port-level entry for a port the ServiceEntry does not have is warned, at the rule and at a subset', (t) => {
  const rule = '  trafficPolicy:\n    portLevelSettings: [{port: {number: 8080}, loadBalancer: {simple: RANDOM}}, {port: {number: 8081}, loadBalancer: {simple: RANDOM}}]\n';
  const { warnings } = compileOne(docs(GATEWAY, SERVICE, virtualService('v1'), destinationRule(rule, '    trafficPolicy: {portLevelSettings: [{port: {number: 9999}, connectionPool: {tcp: {maxConnections: 1}}}]}\n')));
  t.is(find(warnings, 'spec.trafficPolicy.portLevelSettings[0].port.number'), undefined, 'port 8080 exists');
  t.regex(find(warnings, 'spec.trafficPolicy.portLevelSettings[1].port.number')!.message, /has no port 8081 \(it has 8080\): this port traffic policy applies to nothing/);
  t.regex(find(warnings, 'spec.subsets[0].trafficPolicy.portLevelSettings[0].port.number')!.message, /has no port 9999/);
});

test('the deprecated top-level consistentHash.minimumRingSize is honoured with a warning', (t) => {
  const text = docs(GATEWAY, SERVICE, virtualService('v1'), destinationRule('', '    trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true, minimumRingSize: 512}}}\n'));
  const { warnings } = compileOne(text);
  t.regex(find(warnings, 'spec.subsets[0].trafficPolicy.loadBalancer.consistentHash.minimumRingSize')!.message, /deprecated in Istio: use ringHash.minimumRingSize/);
});

test('httpCookie.attributes (Istio 1.28): kept in order, a flag without value, SameSite case-insensitive', (t) => {
  const p = v1Policy('{consistentHash: {httpCookie: {name: s, ttl: 60s, attributes: [{name: SameSite, value: none}, {name: Secure}, {name: Partitioned, value: ""}, {name: Domain, value: example.com}]}}}');
  t.deepEqual((p as { key: unknown }).key, {
    kind: 'cookie', name: 's', path: '/', ttlSec: 60,
    attributes: [{ name: 'SameSite', value: 'none' }, { name: 'Secure', value: '' }, { name: 'Partitioned', value: '' }, { name: 'Domain', value: 'example.com' }],
  });
});

test('httpCookie.attributes: names another field sets, duplicates, bad names and unsafe values are errors', (t) => {
  const err = (attrs: string): string => v1Errors(`{consistentHash: {httpCookie: {name: s, ttl: 60s, attributes: [${attrs}]}}}`).map((i) => `${i.field}: ${i.message}`).join('\n');
  t.regex(err('{name: Path, value: /x}'), /attributes\[0\]\.name: Path is set by httpCookie\.path/);
  t.regex(err('{name: max-age, value: "5"}'), /max-age is set by httpCookie\.ttl/);
  t.regex(err('{name: Expires, value: "Wed, 21 Oct 2026 07:28:00 GMT"}'), /Expires is set by httpCookie\.ttl/);
  t.regex(err('{name: Secure}, {name: secure}'), /attributes\[1\]\.name: secure is given twice/);
  t.regex(err('{name: "Same Site", value: Lax}'), /is not a token/);
  t.regex(err('{name: Domain, value: "a.com; Path=/x"}'), /attributes\[0\]\.value: the value of Domain must be visible ASCII .*without ";"/);
  t.regex(err('{name: Domain, value: "a.com\\r\\nX-Evil: 1"}'), /attributes\[0\]\.value: the value of Domain/);
  t.regex(err('{name: SameSite, value: Sometimes}'), /SameSite must be one of Strict, Lax, None/);
});

test('httpCookie.attributes: SameSite=None or Partitioned without Secure is warned (browsers drop the cookie)', (t) => {
  const text = docs(GATEWAY, SERVICE, virtualService('v1'), destinationRule('', '    trafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {name: s, ttl: 60s, attributes: [{name: SameSite, value: None}, {name: Partitioned}]}}}}\n'));
  const warnings = compileOne(text).warnings.map((w) => w.message);
  t.true(warnings.includes('SameSite=None without Secure: browsers reject the cookie'));
  t.true(warnings.includes('Partitioned without Secure: browsers reject the cookie'));
});
