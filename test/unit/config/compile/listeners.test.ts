import test from 'ava';
import { compileSources } from '../../../../src/config/index.js';
import type { Snapshot } from '../../../../src/snapshot/types.js';
import { API, compileOne, destinationRule, docs, find, SERVICE } from '../../../fixtures/config/helpers.js';

function gateway(name: string, servers: [number, string[]][]): string {
  const s = servers.map(([port, hosts]) => `  - port: {number: ${port}, name: p${port}, protocol: HTTP}\n    hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]\n`).join('');
  return `apiVersion: ${API}\nkind: Gateway\nmetadata: {name: ${name}}\nspec:\n  servers:\n${s}`;
}

function vs(name: string, hosts: string[], gateways: string[], subset = 'v1'): string {
  return `apiVersion: ${API}\nkind: VirtualService\nmetadata: {name: ${name}}\nspec:\n  hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]\n  gateways: [${gateways.join(', ')}]\n  http:\n  - route:\n    - destination: {host: svc, subset: ${subset}}\n`;
}

test('servers on one port merge their hosts; one listener per port, in port order; ns/ prefixes dropped', (t) => {
  const text = docs(
    gateway('public', [[8080, ['./A.example.com']], [80, ['default/b.example.com']]]),
    gateway('more', [[80, ['*/*.example.org', 'b.example.com']]]),
    SERVICE,
    destinationRule(),
    vs('site', ['*'], ['public', 'more']),
  );
  const { snapshot } = compileOne(text);
  t.deepEqual(snapshot.listeners.map((l) => [l.port, l.gatewayHosts]), [
    [80, ['*.example.org', 'b.example.com']],
    [8080, ['a.example.com']],
  ]);
  // a "*" VirtualService serves exactly the gateway hosts on each port
  t.deepEqual(snapshot.listeners[0]!.virtualHosts[0]!.hosts, ['b.example.com', '*.example.org']);
  t.deepEqual(snapshot.listeners[1]!.virtualHosts[0]!.hosts, ['a.example.com']);
});

test('VirtualService hosts are lower-cased and only those the gateway serves are bound', (t) => {
  const text = docs(gateway('gw', [[80, ['*.example.com']]]), SERVICE, destinationRule(), vs('a', ['Shop.Example.COM', 'other.org'], ['gw']), vs('b', ['elsewhere.net'], ['gw']));
  const { snapshot, warnings } = compileOne(text);
  t.deepEqual(snapshot.listeners[0]!.virtualHosts.map((v) => [v.name, v.hosts]), [['a', ['shop.example.com']]]);
  const w = find(warnings.filter((x) => x.document === 'VirtualService/b'), 'spec.gateways[0]');
  t.regex(w!.message, /no host of this VirtualService matches the hosts of Gateway "gw"/);
});

test('virtual hosts are in VirtualService name order; a host claimed twice is warned', (t) => {
  const text = docs(gateway('gw', [[80, ['*']]]), SERVICE, destinationRule(), vs('zeta', ['x.example.com'], ['gw'], 'v2'), vs('alpha', ['x.example.com', 'y.example.com'], ['gw']));
  const { snapshot, warnings } = compileOne(text);
  t.deepEqual(snapshot.listeners[0]!.virtualHosts.map((v) => v.name), ['alpha', 'zeta']);
  const w = warnings.find((x) => x.document === 'VirtualService/zeta' && x.field === 'spec.hosts');
  t.regex(w!.message, /host "x\.example\.com" on port 80 is also served by VirtualService\/alpha/);
});

test('a multi-resource config compiles to the same snapshot whatever the file and document order', (t) => {
  const parts = [
    gateway('gw-b', [[80, ['b.example.com']]]),
    gateway('gw-a', [[80, ['a.example.com']], [81, ['*']]]),
    SERVICE,
    destinationRule(),
    vs('vs-b', ['b.example.com'], ['gw-b'], 'v2'),
    vs('vs-a', ['a.example.com', '*'], ['gw-a'], 'v1'),
  ];
  const strip = (s: Snapshot) => JSON.stringify({ ...s, configPath: '', configHash: '' });
  const forward = compileSources([{ file: 'one.yaml', text: docs(...parts.slice(0, 3)) }, { file: 'two.yaml', text: docs(...parts.slice(3)) }]).snapshot;
  const backward = compileSources([{ file: 'two.yaml', text: docs(...parts.slice(3).reverse()) }, { file: 'one.yaml', text: docs(...parts.slice(0, 3).reverse()) }]).snapshot;
  t.is(strip(backward), strip(forward));
  t.deepEqual(forward.subsets.map((s) => [s.id, s.name]), [[0, 'svc/v1'], [1, 'svc/v2']]);
  t.deepEqual(forward.listeners.map((l) => [l.port, l.gatewayHosts, l.virtualHosts.map((v) => v.name)]), [
    [80, ['a.example.com', 'b.example.com'], ['vs-a', 'vs-b']],
    [81, ['*'], ['vs-a']],
  ]);
});
