// Worker meters, their survival across reloads, the primary's merge, hash shares and the
// Prometheus text (checked with promtool when it is installed; CI installs it).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { SESSION_COLUMNS } from '../../../src/protocol.js';
import type { Kernel } from '../../../src/kernel/index.js';
import { buildMetricsText, type MetricsView } from '../../../src/admin/metrics.js';
import { escapeLabel, PromText } from '../../../src/admin/prom-text.js';
import { buildTableShares } from '../../../src/admin/shares.js';
import { StatsCollector } from '../../../src/primary/stats-collector.js';
import type { Supervisor } from '../../../src/primary/supervisor.js';
import type { StatsReport } from '../../../src/protocol.js';
import type { Endpoint, Snapshot, Subset } from '../../../src/snapshot/types.js';
import { RequestObservation } from '../../../src/worker/downstream/observe.js';
import { buildRuntimeSnapshot, type RouteTarget, type RuntimeSnapshot } from '../../../src/worker/routing/runtime-snapshot.js';
import { countUpgradeRefusal, createWorkerStats } from '../../../src/worker/telemetry/stats.js';
import { buildStatsReport, EvictionLedger, MeterLedger } from '../../../src/worker/telemetry/stats-ledger.js';

const fakeKernel: Kernel = { load: () => ({ select: () => 0 }) };
const fakeHasher = { hash32: (): number => 0, destinationHash32: (): number => 0 };

function endpoint(i: number): Endpoint {
  return { id: `10.0.0.${i}:8080`, address: `10.0.0.${i}`, port: 8080, weight: 1, labels: {} };
}

function snapshot(epoch: number, endpoints: number[]): Snapshot {
  const subset: Subset = { id: 0, name: 'svc/v1', host: 'svc', subsetName: 'v1', port: 8080, endpoints: endpoints.map(endpoint), policy: { kind: 'roundRobin' }, table: null };
  return {
    epoch, configHash: `h${epoch}`, configPath: '/etc/stickyd', subsets: [subset], settings: DEFAULT_SETTINGS,
    listeners: [{ port: 80, protocol: 'HTTP', servers: [], gatewayHosts: ['*'], virtualHosts: [{ name: 'vs', hosts: ['*'], routes: [{ name: 'vs/http[0]', matches: [], destinations: [{ subset: 0, weight: 1 }], totalWeight: 1, timeoutMs: null, retries: null }] }] }],
  };
}

function runtime(epoch: number, endpoints: number[]): RuntimeSnapshot {
  return buildRuntimeSnapshot(snapshot(epoch, endpoints), { kernel: fakeKernel, hasher: fakeHasher });
}

function targetOf(rt: RuntimeSnapshot): RouteTarget {
  return rt.listeners.get(80)!.virtualHosts.any!.routes[0]!.targets[0]!;
}

class FakeRes extends EventEmitter {
  headersSent = false;
  statusCode = 200;
  answer(status: number | null): void {
    if (status !== null) { this.headersSent = true; this.statusCode = status; }
    this.emit('close');
  }
}

/** One request observed from start to close; `status` null = the client left before an answer. */
function observe(rt: RuntimeSnapshot, endpointIndex: number | 'unrouted', status: number | null, minted = false): () => void {
  const res = new FakeRes();
  const obs = new RequestObservation(rt, null, {} as IncomingMessage, res as unknown as ServerResponse, 'id');
  if (endpointIndex !== 'unrouted') obs.routed(targetOf(rt), endpointIndex, minted ? 'k' : null, minted ? 'minted' : 'none');
  return () => res.answer(status);
}

function row(report: StatsReport, family: string, labels: string[]): readonly number[] | undefined {
  return report.series[family]?.find((r) => r.labels.join('|') === labels.join('|'))?.values;
}

function report(ledger: MeterLedger): StatsReport {
  return buildStatsReport(createWorkerStats(), ledger, {
    epoch: 1, draining: false, upstreamPools: 0, accessLog: { lines: 0, dropped: 0 },
    sessionCache: { size: 0, max: 0, hits: 0, misses: 0, evictions: 0 },
  });
}

// columns: other, 1xx, 2xx, 3xx, 4xx, 5xx, none
test('requests are counted by route, subset, endpoint and status class when the response closes', (t) => {
  const rt = runtime(1, [1, 2]);
  const ledger = new MeterLedger();
  ledger.swap(rt.meter);
  for (let i = 0; i < 3; i++) observe(rt, 0, 200)();
  observe(rt, 1, 503)();
  observe(rt, 1, null)();
  observe(rt, 'unrouted', 404)();
  const pending = observe(rt, 0, 200, true);
  let r = report(ledger);
  t.is(r.gauges.inflight, 1);
  t.deepEqual(row(r, 'requests', ['vs/http[0]', 'svc/v1', '10.0.0.1:8080']), [0, 0, 3, 0, 0, 0, 0]);
  t.deepEqual(row(r, 'requests', ['vs/http[0]', 'svc/v1', '10.0.0.2:8080']), [0, 0, 0, 0, 0, 1, 1]);
  t.deepEqual(row(r, 'requests', ['', '', '']), [0, 0, 0, 0, 1, 0, 0]);
  // one cookie minted; the pin columns (SESSION_COLUMNS) stay 0 on a subset without persistent sessions
  t.deepEqual(row(r, 'sessions', ['svc/v1']), [1, ...new Array<number>(SESSION_COLUMNS.length - 1).fill(0)]);
  pending();
  r = report(ledger);
  t.is(r.gauges.inflight, 0);
  t.deepEqual(row(r, 'requests', ['vs/http[0]', 'svc/v1', '10.0.0.1:8080']), [0, 0, 4, 0, 0, 0, 0]);
  const durations = row(r, 'durations', ['svc/v1'])!;
  t.is(durations.slice(0, -1).reduce((a, b) => a + b, 0), 6, 'six durations observed for the subset');
  t.true(durations.at(-1)! >= 0);
});

test('counters survive reloads exactly, including requests still in flight on the old snapshot', (t) => {
  const ledger = new MeterLedger();
  const a = runtime(1, [1, 2]);
  ledger.swap(a.meter);
  observe(a, 0, 200)();
  observe(a, 1, 200)();
  const lateOnA = observe(a, 1, 500);
  const b = runtime(2, [1, 3]); // endpoint 2 leaves, 3 joins; endpoint 1 keeps its label identity
  ledger.swap(b.meter);
  observe(b, 0, 200)();
  observe(b, 1, 200)();
  t.is(report(ledger).gauges.inflight, 1);
  lateOnA();
  const c = runtime(3, [1, 3]);
  ledger.swap(c.meter); // a (now idle) is folded here; b is retired idle
  observe(c, 0, 200)();
  const r = report(ledger);
  t.deepEqual(row(r, 'requests', ['vs/http[0]', 'svc/v1', '10.0.0.1:8080'])?.[2], 3);
  t.deepEqual(row(r, 'requests', ['vs/http[0]', 'svc/v1', '10.0.0.2:8080']), [0, 0, 1, 0, 0, 1, 0]);
  t.deepEqual(row(r, 'requests', ['vs/http[0]', 'svc/v1', '10.0.0.3:8080'])?.[2], 1);
  t.is(r.gauges.inflight, 0);
  // a second report is the same: folding never counts twice
  t.deepEqual(report(ledger).series, r.series);
});

test('session cache evictions: misses minus entries, settled per cache at a swap', (t) => {
  const e = new EvictionLedger();
  e.swap(0, null);
  t.is(e.total(150, { size: 100, max: 100 }), 50);
  e.swap(150, { size: 100, max: 100 }); // that cache evicted 50
  t.is(e.total(150, { size: 0, max: 100 }), 50);
  t.is(e.total(170, { size: 20, max: 100 }), 50);
  t.is(e.total(400, { size: 100, max: 100 }), 200);
  e.swap(400, { size: 100, max: 100 });
  t.is(e.total(500, { size: 0, max: 0 }), 200, 'a disabled cache evicts nothing');
});

test('ring shares are arc lengths of the 2^32 circle; maglev shares are slot counts', (t) => {
  // points at 1e9 (endpoint 0), 2e9 (1), 3e9 (0): 0 owns (3e9, 2^32) + [0, 1e9] + (2e9, 3e9]
  const ring = buildTableShares({ kind: 'ring', hashes: Uint32Array.from([1e9, 2e9, 3e9]), endpoints: Uint32Array.from([0, 1, 0]) }, 2);
  t.is(ring[1], 1e9 / 2 ** 32);
  t.is(ring[0]! + ring[1]!, 1);
  const maglev = buildTableShares({ kind: 'maglev', table: Uint32Array.from([0, 1, 1, 2, 1, 0, 1]) }, 3);
  t.deepEqual(maglev, [2 / 7, 4 / 7, 1 / 7]);
});

test('Prometheus text: label values escaped, histogram buckets cumulative with +Inf, _sum and _count', (t) => {
  t.is(escapeLabel('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  const text = new PromText().family('x_seconds', 'histogram', 'h').histogram('x_seconds', [['s', 'v']], [0.1, 1], [2, 3, 4], 9.5).text();
  t.is(text, [
    '# HELP x_seconds h', '# TYPE x_seconds histogram',
    'x_seconds_bucket{s="v",le="0.1"} 2', 'x_seconds_bucket{s="v",le="1"} 5', 'x_seconds_bucket{s="v",le="+Inf"} 9',
    'x_seconds_sum{s="v"} 9.5', 'x_seconds_count{s="v"} 9', '',
  ].join('\n'));
});

function fakeReport(pid: number, requests: number, rows: number): StatsReport {
  return {
    pid, epoch: 1, draining: false, counters: { requests }, gauges: { activeConnections: 1 },
    series: { requests: [{ labels: ['r', 's', 'e'], values: [0, 0, rows, 0, 0, 0, 0] }] },
  };
}

/** A supervisor stand-in: workers() and request() are all the collector uses. */
function fakeSupervisor(reports: Map<number, StatsReport | 'silent'>): Supervisor {
  return {
    workers: () => [...reports.keys()].map((id) => ({ id, pid: 1000 + id, listening: true })),
    request: async (id: number) => {
      const r = reports.get(id);
      if (r === undefined || r === 'silent') throw new Error('no answer');
      return { cmd: 'stickyd', act: 'statsReply', seq: 1, stats: r };
    },
  } as unknown as Supervisor;
}

for (const order of ['final then exit', 'exit then final'] as const) {
  test(`a drained worker's counters outlive it (${order}); sums never go down`, async (t) => {
    const live = new Map<number, StatsReport | 'silent'>([[1, fakeReport(1001, 10, 10)], [2, fakeReport(1002, 5, 5)]]);
    const collector = new StatsCollector();
    let m = await collector.collect(fakeSupervisor(live));
    t.is(m.counters.requests, 15);
    t.is(m.series.requests?.[0]?.values[2], 15);
    t.is(m.gauges.activeConnections, 2);
    // worker 2 serves 3 more, drains and exits; its final report says 8
    live.delete(2);
    if (order === 'final then exit') { collector.final(2, fakeReport(1002, 8, 8)); collector.exited(2); } else { collector.exited(2); collector.final(2, fakeReport(1002, 8, 8)); }
    m = await collector.collect(fakeSupervisor(live));
    t.is(m.counters.requests, 18);
    t.is(m.series.requests?.[0]?.values[2], 18);
    t.is(m.gauges.activeConnections, 1, 'gauges count live workers only');
  });
}

test('a killed worker leaves its last scraped counts; a silent worker is reported and its last counts stand in', async (t) => {
  const live = new Map<number, StatsReport | 'silent'>([[1, fakeReport(1001, 10, 10)], [2, fakeReport(1002, 5, 5)]]);
  const collector = new StatsCollector();
  await collector.collect(fakeSupervisor(live));
  live.set(1, 'silent');
  let m = await collector.collect(fakeSupervisor(live));
  t.is(m.unanswered, 1);
  t.is(m.counters.requests, 15);
  live.delete(2);
  collector.exited(2); // kill -9: no final report
  m = await collector.collect(fakeSupervisor(live));
  t.is(m.counters.requests, 15);
  collector.exited(2); // a second exit notice changes nothing
  m = await collector.collect(fakeSupervisor(live));
  t.is(m.counters.requests, 15);
});

test('refused upgrades: one series per reason from the start, summed from the workers\' counters', (t) => {
  const stats = createWorkerStats();
  countUpgradeRefusal(stats, 'protocol');
  countUpgradeRefusal(stats, 'protocol');
  countUpgradeRefusal(stats, 'upstream_101');
  const r = buildStatsReport(stats, new MeterLedger(), {
    epoch: 1, draining: false, upstreamPools: 0, accessLog: { lines: 0, dropped: 0 },
    sessionCache: { size: 0, max: 0, hits: 0, misses: 0, evictions: 0 },
  });
  const view: MetricsView = {
    merged: { counters: r.counters, gauges: r.gauges, series: r.series, workers: [], unanswered: 0 }, snapshot: null, generation: 1,
    reloads: { ok: 0, failed: 0 }, lastReloadOk: null, ready: true, servingWorkers: 1, workerRestarts: 0, startedAt: Date.now(), health: null, dns: [],
  };
  const text = buildMetricsText(view);
  t.regex(text, /^# TYPE stickyd_upgrades_refused_total counter$/m);
  t.regex(text, /^stickyd_upgrades_refused_total\{reason="protocol"\} 2$/m);
  t.regex(text, /^stickyd_upgrades_refused_total\{reason="upstream_101"\} 1$/m);
  for (const reason of ['method', 'handshake', 'connection']) t.regex(text, new RegExp(`^stickyd_upgrades_refused_total\\{reason="${reason}"\\} 0$`, 'm'));
});

function promtool(): string | null {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? 'promtool' : null;
}

test('the whole /metrics text passes promtool check metrics', (t) => {
  const rt = runtime(1, [1, 2]);
  const ledger = new MeterLedger();
  ledger.swap(rt.meter);
  observe(rt, 0, 200, true)();
  observe(rt, 'unrouted', 404)();
  const collectorView = { counters: report(ledger).counters, gauges: report(ledger).gauges, series: report(ledger).series, workers: [], unanswered: 0 };
  const view: MetricsView = {
    merged: collectorView, snapshot: snapshot(1, [1, 2]), generation: 1, reloads: { ok: 2, failed: 1 }, lastReloadOk: false,
    ready: true, servingWorkers: 2, workerRestarts: 0, startedAt: Date.now(), health: { unhealthy: () => new Set(['10.0.0.2:8080']), ejections: () => 1 },
    dns: [{
      name: 'pool.test', addresses: ['10.0.0.1', '10.0.0.2'], via: 'dns', ttlSec: 5, resolvedAt: null, nextAt: null, lastError: 'ETIMEOUT',
      resolutions: 7, failures: 2, changes: 1,
    }],
  };
  const text = buildMetricsText(view);
  t.regex(text, /^stickyd_dns_addresses\{name="pool\.test"\} 2$/m);
  t.regex(text, /^stickyd_dns_resolutions_total\{name="pool\.test",result="failed"\} 2$/m);
  t.regex(text, /^stickyd_dns_changes_total\{name="pool\.test"\} 1$/m);
  t.regex(text, /^stickyd_requests_total\{route="vs\/http\[0\]",subset="svc\/v1",endpoint="10\.0\.0\.1:8080",code="2xx"\} 1$/m);
  t.regex(text, /^stickyd_requests_total\{route="",subset="",endpoint="",code="4xx"\} 1$/m);
  t.regex(text, /^stickyd_endpoint_healthy\{subset="svc\/v1",endpoint="10\.0\.0\.2:8080"\} 0$/m);
  t.regex(text, /^stickyd_config_reloads_total\{result="failed"\} 1$/m);
  t.regex(text, /^stickyd_session_cookies_minted_total\{subset="svc\/v1"\} 1$/m);
  t.regex(text, /^stickyd_request_duration_seconds_count\{subset="svc\/v1"\} 1$/m);
  const tool = promtool();
  if (tool === null) {
    if (process.env.CI) t.fail('promtool is missing in CI (Debian package: prometheus)');
    t.log('promtool not installed (Debian package: prometheus); text checked by the assertions above only');
    return;
  }
  const r = spawnSync(tool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  t.is(r.status, 0, `${r.stdout}${r.stderr}`);
  t.is(r.stdout + r.stderr, '', 'no lint findings either');
});
