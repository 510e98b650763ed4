// Passive outlier detection: worker tallies, the primary's aggregate, ejection bounds and expiry.
import test from 'ava';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { OutlierDetector } from '../../../src/primary/outlier-detector.js';
import type { EndpointOutcomes, OutcomesMsg } from '../../../src/protocol.js';
import type { OutlierPolicy, Snapshot, Subset } from '../../../src/snapshot/types.js';
import { OutcomeReporter, classifyOutcome } from '../../../src/worker/upstream/outlier-report.js';
import type { RuntimeSubset } from '../../../src/worker/routing/runtime-snapshot.js';
import { makeEndpoints } from '../../golden/fixtures.js';

const POLICY: OutlierPolicy = {
  consecutive5xxErrors: 5,
  consecutiveGatewayErrors: 0,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionPercent: 10,
  minHealthPercent: 0,
};

function snapshotWith(n: number, policy: OutlierPolicy): Snapshot {
  const subset: Subset = { id: 0, name: 'svc/v1', host: 'svc', subsetName: 'v1', port: 80, endpoints: makeEndpoints(n), policy: { kind: 'roundRobin' }, table: null, outlier: policy };
  return { epoch: 3, configHash: 'x', configPath: '/c', listeners: [], subsets: [subset], settings: DEFAULT_SETTINGS };
}

/** Reports in the order a test makes them, unless it gives times: each event later than the last (and than the fake clock). */
let tick = 1e12;
function report(endpoint: string, o: Partial<EndpointOutcomes>): EndpointOutcomes {
  const okAt = (o.ok ?? 0) > 0 ? ++tick : 0;
  const at5xx = Array.from({ length: o.trailing5xx ?? 0 }, () => ++tick);
  const atGateway = at5xx.slice(at5xx.length - (o.trailingGateway ?? 0));
  return { subset: 0, epoch: 3, endpoint, ok: 0, errors5xx: 0, trailing5xx: 0, trailingGateway: 0, okAt, at5xx, atGateway, ...o };
}

function detector(snapshot: Snapshot): { d: OutlierDetector; events: string[]; clock: { now: number } } {
  const events: string[] = [];
  const clock = { now: 1_000_000 };
  const d = new OutlierDetector((id, ejected) => events.push(`${ejected ? 'eject' : 'return'} ${id}`), () => clock.now);
  d.update(snapshot);
  return { d, events, clock };
}

test('consecutive 5xx from several workers add up to one ejection; a success resets the streak', (t) => {
  const s = snapshotWith(10, POLICY);
  const { d, events } = detector(s);
  const id = s.subsets[0]!.endpoints[3]!.id;
  d.observe([report(id, { errors5xx: 2, trailing5xx: 2 })]);
  d.observe([report(id, { ok: 1, errors5xx: 2, trailing5xx: 1 })]); // a success, then one failure
  d.observe([report(id, { errors5xx: 3, trailing5xx: 3 })]);
  t.deepEqual(events, [], '1 + 3 = 4 consecutive: not yet');
  d.observe([report(id, { errors5xx: 1, trailing5xx: 1 })]);
  t.deepEqual(events, [`eject ${id}`]);
  d.observe([report(id, { errors5xx: 9, trailing5xx: 9 })]);
  t.deepEqual(events, [`eject ${id}`], 'ejected once, however many workers keep reporting');
  t.deepEqual([...d.ejected()], [id]);
  d.stop();
});

test('timed reports are ordered across workers: a success seen before another worker\'s failures does not end them', (t) => {
  const s = snapshotWith(10, POLICY);
  const { d, events } = detector(s);
  const id = s.subsets[0]!.endpoints[2]!.id;
  const status = () => d.status().find((x) => x.id === id)!;
  // worker B: four failures at t = 20..23
  d.observe([report(id, { errors5xx: 4, trailing5xx: 4, okAt: 0, at5xx: [20, 21, 22, 23], atGateway: [] })]);
  t.is(status().consecutive5xx, 4);
  // worker A's batch, arriving later: a success at t = 10, then a failure at t = 30. Counted by
  // batch order this would restart the streak at 1; by time it is the fifth in a row.
  d.observe([report(id, { ok: 1, errors5xx: 1, trailing5xx: 1, okAt: 10, at5xx: [30], atGateway: [] })]);
  t.deepEqual(events, [`eject ${id}`]);
  t.is(status().consecutive5xx, 5);
  d.stop();
  const other = s.subsets[0]!.endpoints[4]!.id;
  const { d: d2, events: e2 } = detector(s);
  const st = () => d2.status().find((x) => x.id === other)!;
  d2.observe([report(other, { errors5xx: 2, trailing5xx: 2, okAt: 0, at5xx: [50, 51], atGateway: [] })]);
  d2.observe([report(other, { ok: 3, okAt: 60, at5xx: [], atGateway: [] })]);
  t.is(st().consecutive5xx, 0, 'a later success ends them');
  d2.observe([report(other, { errors5xx: 3, trailing5xx: 3, okAt: 0, at5xx: [55, 56, 57], atGateway: [] })]);
  t.is(st().consecutive5xx, 0, 'failures reported late, from before that success, do not start a streak');
  d2.observe([report(other, { errors5xx: 4, trailing5xx: 4, trailingGateway: 4, okAt: 0, at5xx: [61, 62, 63, 64], atGateway: [61, 62, 63, 64] })]);
  t.deepEqual([st().consecutive5xx, st().consecutiveGateway], [4, 4]);
  t.deepEqual(e2, []);
  d2.stop();
});

test('maxEjectionPercent: at 10 % one of 5 may go; at 50 % two of 5', (t) => {
  for (const [pct, expected] of [[10, 1], [50, 2], [0, 0]] as const) {
    const s = snapshotWith(5, { ...POLICY, maxEjectionPercent: pct });
    const { d } = detector(s);
    for (const e of s.subsets[0]!.endpoints) d.observe([report(e.id, { errors5xx: 5, trailing5xx: 5 })]);
    t.is(d.ejected().size, expected, `${pct} %`);
    d.stop();
  }
});

test('an ejection lasts baseEjectionTime x times ejected, and ends at the first sweep after', (t) => {
  const s = snapshotWith(5, POLICY);
  const { d, events, clock } = detector(s);
  const id = s.subsets[0]!.endpoints[0]!.id;
  d.observe([report(id, { errors5xx: 5, trailing5xx: 5 })]);
  clock.now += 29_999;
  d.sweep();
  t.is(d.ejected().size, 1);
  clock.now += 1;
  d.sweep();
  t.is(d.ejected().size, 0);
  d.observe([report(id, { errors5xx: 5, trailing5xx: 5 })]);
  clock.now += 30_000;
  d.sweep();
  t.is(d.ejected().size, 1, 'second ejection: 60 s');
  clock.now += 30_000;
  d.sweep();
  t.is(d.ejected().size, 0);
  t.deepEqual(events.map((e) => e.split(' ')[0]), ['eject', 'return', 'eject', 'return']);
  t.is(d.totalEjections(id), 2);
  d.stop();
});

test('gateway errors count only 502/503/504 and local failures; reports from another epoch are ignored', (t) => {
  const s = snapshotWith(5, { ...POLICY, consecutive5xxErrors: 0, consecutiveGatewayErrors: 3 });
  const { d } = detector(s);
  const [a, b] = s.subsets[0]!.endpoints.map((e) => e.id);
  d.observe([report(a!, { errors5xx: 3, trailing5xx: 3, trailingGateway: 0 })]);
  t.is(d.ejected().size, 0, 'plain 500s are not gateway errors');
  d.observe([{ ...report(b!, { errors5xx: 3, trailing5xx: 3, trailingGateway: 3 }), epoch: 2 }]);
  t.is(d.ejected().size, 0, 'old epoch');
  d.observe([report(b!, { errors5xx: 3, trailing5xx: 3, trailingGateway: 3 })]);
  t.deepEqual([...d.ejected()], [b]);
  t.is(classifyOutcome(500), 'error5xx');
  t.is(classifyOutcome(503), 'gateway');
  t.is(classifyOutcome(404), 'ok');
  d.stop();
});

test('worker reporter: batches per endpoint, flushes at once when a threshold is crossed', async (t) => {
  const sent: OutcomesMsg[] = [];
  const reporter = new OutcomeReporter((m) => sent.push(m));
  const endpoints = makeEndpoints(2);
  const subset = { id: 0, endpoints, outlier: { ...POLICY, consecutive5xxErrors: 3 } } as unknown as RuntimeSubset;
  const quiet = { id: 1, endpoints, outlier: null } as unknown as RuntimeSubset;
  reporter.record(quiet, 3, 0, 'local');
  reporter.record(subset, 3, 0, 'ok');
  reporter.record(subset, 3, 0, 'error5xx');
  reporter.record(subset, 3, 1, 'gateway');
  t.is(sent.length, 0, 'batched');
  reporter.record(subset, 3, 0, 'local');
  reporter.record(subset, 3, 0, 'gateway');
  t.is(sent.length, 1, 'three in a row on endpoint 0: flushed now');
  const byEndpoint = Object.fromEntries(sent[0]!.outcomes.map((o) => [o.endpoint, o]));
  t.like(byEndpoint[endpoints[0]!.id], { ok: 1, errors5xx: 3, trailing5xx: 3, trailingGateway: 2 });
  const first = byEndpoint[endpoints[0]!.id]!;
  t.is(first.at5xx?.length, 3, 'a time per trailing failure');
  t.is(first.atGateway?.length, 2);
  t.true(first.okAt! > 0 && first.okAt! <= first.at5xx![0]!, 'the success was seen before them');
  t.true(Math.abs(first.okAt! - Date.now()) < 5_000, 'wall-clock times, comparable across workers');
  t.like(byEndpoint[endpoints[1]!.id], { ok: 0, errors5xx: 1, trailing5xx: 1, trailingGateway: 1 });
  reporter.record(subset, 3, 1, 'ok');
  await new Promise((r) => setTimeout(r, 300));
  t.is(sent.length, 2, 'the rest goes out within the batch window');
  t.like(sent[1]!.outcomes[0], { endpoint: endpoints[1]!.id, ok: 1, trailing5xx: 0 });
});
