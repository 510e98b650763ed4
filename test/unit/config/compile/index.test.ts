import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileSources, loadConfig, DEFAULT_SETTINGS } from '../../../../src/config/index.js';
import type { Snapshot } from '../../../../src/snapshot/types.js';

const examples = (p: string): string => fileURLToPath(new URL(`../../../../examples/${p}`, import.meta.url));
const seedUrl = (p: string): URL => new URL(`../../../../../shared/seed/${p}`, import.meta.url);

function subsetByName(s: Snapshot, name: string) {
  const found = s.subsets.find((x) => x.name === name);
  if (found === undefined) throw new Error(`no subset ${name}`);
  return found;
}

test('examples/demo/ingress-sticky.yaml is the seed manifest byte for byte', (t) => {
  const seed = seedUrl('ingress-sticky.yaml');
  if (!existsSync(seed)) {
    t.log('seed not present beside the repo; comparison skipped');
    t.pass();
    return;
  }
  t.true(readFileSync(examples('demo/ingress-sticky.yaml')).equals(readFileSync(seed)));
});

test('examples/weighted/ingress-weighted.yaml is the seed manifest byte for byte', (t) => {
  const seed = seedUrl('ingress-weighted.yaml');
  t.true(readFileSync(examples('weighted/endpoints.yaml')).equals(readFileSync(examples('demo/endpoints.yaml'))));
  if (!existsSync(seed)) {
    t.log('seed not present beside the repo; comparison skipped');
    return;
  }
  t.true(readFileSync(examples('weighted/ingress-weighted.yaml')).equals(readFileSync(seed)));
});

test('the sticky demo compiles: header route first, then v1 100 / v2 0, v1 pinned by a 60s session cookie', async (t) => {
  const { snapshot: s, warnings, files } = await loadConfig(examples('demo'), undefined, 7);
  t.deepEqual(files, [examples('demo/endpoints.yaml'), examples('demo/ingress-sticky.yaml')]);
  t.is(s.epoch, 7);
  t.is(s.configPath, examples('demo'));
  t.regex(s.configHash, /^[0-9a-f]{64}$/);
  t.deepEqual(s.settings, DEFAULT_SETTINGS);
  t.is(s.listeners.length, 1);
  const l = s.listeners[0]!;
  t.is(l.port, 80);
  t.deepEqual(l.gatewayHosts, ['*']);
  t.is(l.virtualHosts.length, 1);
  const vh = l.virtualHosts[0]!;
  t.is(vh.name, 'demo-vs');
  t.deepEqual(vh.hosts, ['demo.example.com']);
  const [header, rest] = vh.routes;
  t.is(vh.routes.length, 2);
  t.is(header!.name, 'demo-vs/http[0]');
  t.deepEqual(header!.matches, [{ uri: null, method: null, authority: null, headers: [{ name: 'stage', match: { kind: 'exact', value: 'dev' } }], queryParams: [] }]);
  t.deepEqual(header!.destinations, [{ subset: subsetByName(s, 'demo-service/v3').id, weight: 100 }]);
  t.is(header!.totalWeight, 100);
  // `- match:` with a null value matches everything
  t.deepEqual(rest!.matches, []);
  t.deepEqual(rest!.destinations, [
    { subset: subsetByName(s, 'demo-service/v1').id, weight: 100 },
    { subset: subsetByName(s, 'demo-service/v2').id, weight: 0 },
  ]);
  t.is(rest!.totalWeight, 100);
  t.is(rest!.timeoutMs, null);

  t.deepEqual(s.subsets.map((x) => [x.id, x.name, x.port]), [
    [0, 'demo-service/v1', 8080],
    [1, 'demo-service/v2', 8080],
    [2, 'demo-service/v3', 8080],
  ]);
  const v1 = subsetByName(s, 'demo-service/v1');
  t.deepEqual(v1.policy, { kind: 'hash', key: { kind: 'cookie', name: 'session', path: '/', ttlSec: 60 }, table: 'ring', minimumRingSize: null, maglevTableSize: null });
  t.deepEqual(v1.endpoints.map((e) => e.id), ['127.0.0.1:18081', '127.0.0.1:18082', '127.0.0.1:18083']);
  t.deepEqual(v1.endpoints[0], { id: '127.0.0.1:18081', address: '127.0.0.1', port: 18081, weight: 1, labels: { app: 'demo', version: 'v1' } });
  t.deepEqual(subsetByName(s, 'demo-service/v2').endpoints.map((e) => e.id), ['127.0.0.1:18084']);
  t.deepEqual(subsetByName(s, 'demo-service/v3').endpoints.map((e) => e.id), ['127.0.0.1:18085']);
  t.deepEqual(subsetByName(s, 'demo-service/v2').policy, { kind: 'leastRequest' });
  t.true(s.subsets.every((x) => x.table === null && x.host === 'demo-service'));
  t.deepEqual(warnings.map((w) => [w.document, w.field]), [['Gateway/cluster-gateway', 'spec.selector']]);
  t.regex(warnings[0]!.message, /ignored: selects gateway pods on Kubernetes/);
});

test('the weighted example splits v1/v2 80/20 with no stickiness', async (t) => {
  const { snapshot: s } = await loadConfig(examples('weighted'));
  t.is(s.epoch, 0);
  const rest = s.listeners[0]!.virtualHosts[0]!.routes[1]!;
  t.deepEqual(rest.destinations, [
    { subset: subsetByName(s, 'demo-service/v1').id, weight: 80 },
    { subset: subsetByName(s, 'demo-service/v2').id, weight: 20 },
  ]);
  t.is(rest.totalWeight, 100);
  t.true(s.subsets.every((x) => x.policy.kind === 'leastRequest'));
});

test('demo-app.yaml (Kubernetes Service and Deployments) is ignored with a warning per document', (t) => {
  const app = readFileSync(fileURLToPath(new URL('../../../fixtures/config/demo-app.yaml', import.meta.url)), 'utf8');
  const sources = ['demo/ingress-sticky.yaml', 'demo/endpoints.yaml'].map((f) => ({ file: f, text: readFileSync(examples(f), 'utf8') }));
  const { warnings } = compileSources([...sources, { file: 'demo-app.yaml', text: app }]);
  const ignored = warnings.filter((w) => w.file === 'demo-app.yaml');
  t.deepEqual(ignored.map((w) => w.document), ['Service/demo-service', 'Deployment/demo-v1', 'Deployment/demo-v2', 'Deployment/demo-v3']);
  t.regex(ignored[1]!.message, /^kind Deployment is not an Istio networking resource; ignored/);
  t.deepEqual(ignored.map((w) => w.line), [1, 15, 47, 78]);
});

test('compiling is independent of file order and document order', (t) => {
  const sticky = readFileSync(examples('demo/ingress-sticky.yaml'), 'utf8');
  const endpoints = readFileSync(examples('demo/endpoints.yaml'), 'utf8');
  const reversedDocs = (text: string): string => text.split(/^---$/m).reverse().join('\n---\n');
  const a = compileSources([{ file: 'a.yaml', text: sticky }, { file: 'b.yaml', text: endpoints }]).snapshot;
  const b = compileSources([{ file: 'b.yaml', text: reversedDocs(endpoints) }, { file: 'a.yaml', text: reversedDocs(sticky) }]).snapshot;
  t.notDeepEqual(reversedDocs(sticky), sticky);
  const strip = (s: Snapshot) => ({ ...s, configPath: '', configHash: '' });
  t.deepEqual(strip(b), strip(a));
  t.is(JSON.stringify(strip(b)), JSON.stringify(strip(a)));
});
