import test from 'ava';
import { buildConfigDump } from '../../../src/admin/config-dump.js';
import { buildTables } from '../../../src/balancing/build-tables.js';
import { initHasher } from '../../../src/balancing/hash.js';
import { buildMoveReport, formatMoveReport, readConfigDump } from '../../../src/commands/move-report.js';
import { compileSources } from '../../../src/config/index.js';
import type { Snapshot } from '../../../src/snapshot/types.js';
import { GATEWAY_YAML, virtualServiceYaml } from '../../helpers/istio-yaml.js';

const hasher = await initHasher();

/** v1/v2 of svc, weights as given; endpoints as 127.0.0.1 ports; both subsets hash on `session`. */
function config(weights: [number, number], v1Ports: number[], opts: { v2Policy?: string } = {}): Snapshot {
  const endpoints = [...v1Ports.map((p) => [p, 'v1'] as const), [9100, 'v2'] as const];
  const text = `${GATEWAY_YAML}---
${virtualServiceYaml(['demo.example.com'], `  - route:
    - destination: {host: svc, subset: v1}
      weight: ${weights[0]}
    - destination: {host: svc, subset: v2}
      weight: ${weights[1]}
`)}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr}
spec:
  host: svc
  trafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {name: session, ttl: 60s}}}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - name: v2
    labels: {version: v2}
${opts.v2Policy === undefined ? '' : `    trafficPolicy: {loadBalancer: ${opts.v2Policy}}\n`}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc}
spec:
  hosts: [svc]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
${endpoints.map(([p, v]) => `  - {address: 127.0.0.1, ports: {http: ${p}}, labels: {version: ${v}}}`).join('\n')}
`;
  return buildTables(compileSources([{ file: 't.yaml', text }]).snapshot, hasher);
}

test('80/20 -> 50/50 with v1 scaled 3 -> 4: 30 % change destination, v1 moves its new endpoint\'s share', (t) => {
  const report = buildMoveReport(config([80, 20], [9001, 9002, 9003]), config([50, 50], [9001, 9002, 9003, 9004]));
  const v1 = report.subsets.find((s) => s.subset === 'svc/v1')!;
  t.is(v1.change, 'hash');
  t.true(v1.exact);
  t.true(Math.abs(v1.moved! - 0.25) < 0.05, String(v1.moved));
  t.is(report.subsets.find((s) => s.subset === 'svc/v2')!.moved, 0);
  t.is(report.routes.length, 1);
  const r = report.routes[0]!;
  t.is(r.change, 'keyed');
  t.true(Math.abs(r.moved! - 0.3) < 1e-9);
  t.true(Math.abs(r.minimum! - 0.3) < 1e-9);
  t.deepEqual(r.weights, [{ destination: 'svc/v1:8080', from: 80, to: 50 }, { destination: 'svc/v2:8080', from: 20, to: 50 }]);
  const lines = formatMoveReport(report);
  t.true(lines.includes('route vs/http[0] (port 80, vs): 30.00 % of sessions change destination (the least possible: 30.00 %); svc/v1:8080 80 -> 50, svc/v2:8080 20 -> 50'), lines.join('\n'));
});

test('a route that was 100/0 is keyed too: going to 80/20 moves 20 %', (t) => {
  const report = buildMoveReport(config([100, 0], [9001]), config([80, 20], [9001]));
  t.true(Math.abs(report.routes[0]!.moved! - 0.2) < 1e-9);
});

test('a changed hash key places every session afresh; a subset leaving hash mode has no affinity to keep', (t) => {
  const report = buildMoveReport(config([50, 50], [9001]), config([50, 50], [9001], { v2Policy: '{consistentHash: {httpHeaderName: x-user}}' }));
  t.is(report.subsets.find((s) => s.subset === 'svc/v2')!.change, 'key-changed');
  const simple = buildMoveReport(config([50, 50], [9001]), config([50, 50], [9001], { v2Policy: '{simple: RANDOM}' }));
  t.is(simple.subsets.find((s) => s.subset === 'svc/v2')!.change, 'not-hash');
  t.is(simple.routes[0]!.change, 'keyed', 'the route still splits by the cookie of v1');
});

test('a daemon\'s /config_dump rebuilds the same tables: the report against it equals the report against the config', (t) => {
  const old = config([80, 20], [9001, 9002, 9003]);
  const next = config([60, 40], [9001, 9002, 9004]);
  const viaDump = readConfigDump(JSON.parse(JSON.stringify(buildConfigDump(old))), hasher);
  t.deepEqual(buildMoveReport(viaDump, next), buildMoveReport(old, next));
  t.deepEqual(viaDump.subsets.map((s) => s.table), old.subsets.map((s) => s.table));
  t.throws(() => readConfigDump({ hello: 1 }, hasher), { message: /not a stickyd \/config_dump/ });
});
