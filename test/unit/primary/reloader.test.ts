// The reloader against a fake builder and a fake supervisor: no threads, no workers, no files.
// The fake builder reads a "config on disk" when a build starts, as the real one reads the
// config path, so the tests can tell which edit a build saw.
import test from 'ava';
import { ConfigError, type ConfigIssue } from '../../../src/errors.js';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import type { Prepared } from '../../../src/primary/builder.js';
import { Reloader, type ReloaderDeps } from '../../../src/primary/reloader.js';
import type { Snapshot } from '../../../src/snapshot/types.js';

function snapshot(epoch: number, configHash: string, ports: readonly number[] = [8080]): Snapshot {
  return {
    epoch, configHash, configPath: '/etc/stickyd', subsets: [], settings: DEFAULT_SETTINGS,
    listeners: ports.map((port) => ({ port, protocol: 'HTTP', gatewayHosts: ['*'], virtualHosts: [], servers: [] })),
  };
}

interface Deferred<T> { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void }
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/** What a build does with the config it read: succeed, fail validation, or use other ports. */
type Disk = { hash: string; ports?: readonly number[] } | { issues: readonly ConfigIssue[] };

function rig(opts: { listen?: ReloaderDeps['listen'] } = {}) {
  let disk: Disk = { hash: 'v1' };
  /** one entry per build: what it read, and the gate the test opens to let it finish */
  const builds: { epoch: number; read: Disk; gate: Deferred<void> }[] = [];
  const published: Snapshot[] = [];
  const events: string[] = [];
  let publishFails: Error | null = null;
  const builder: ReloaderDeps['builder'] = {
    async prepare(_path, _settings, epoch): Promise<Prepared> {
      const read = disk;
      const gate = deferred<void>();
      builds.push({ epoch, read, gate });
      await gate.promise;
      if ('issues' in read) throw new ConfigError(read.issues);
      return { snapshot: snapshot(epoch, read.hash, read.ports), warnings: [], files: [], parseMs: 1, buildMs: 1, unresolved: [] };
    },
    build: async (s) => s,
  };
  const supervisor: ReloaderDeps['supervisor'] = {
    async publish(s) { if (publishFails) throw publishFails; published.push(s); },
    allReady: () => true,
    workers: () => [],
    restarts: 0,
    crashLoop: () => ({ crashesInWindow: 0, windowMs: 10_000, backoffRemainingMs: 0 }),
  };
  const reloader = new Reloader({
    configPath: '/etc/stickyd', settings: {}, builder, supervisor, listen: opts.listen ?? null,
    onStart: () => events.push('start'), onDone: () => events.push('done'),
  });
  reloader.setApplied(snapshot(1, 'v1'));
  return {
    reloader, builds, published, events,
    write(d: Disk) { disk = d; },
    failPublish(err: Error | null) { publishFails = err; },
    /** lets build #i finish, then waits until the reloader has moved on */
    async finish(i: number) { builds[i]!.gate.resolve(); await flush(); },
  };
}

/** Lets every promise chain that is ready settle (the fakes never touch a timer). */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

const ISSUE: ConfigIssue = {
  file: '/etc/stickyd/vs.yaml', docIndex: 0, document: 'VirtualService/demo', field: 'spec.http[0].route',
  line: 7, message: 'route is required',
};

test('one request, one build: the new generation is published and becomes current', async (t) => {
  const r = rig();
  r.write({ hash: 'v2' });
  const done = r.reloader.request();
  await flush();
  t.is(r.builds.length, 1);
  t.is(r.builds[0]!.epoch, 2);
  await r.finish(0);
  await done;
  t.deepEqual(r.published.map((s) => s.configHash), ['v2']);
  t.is(r.reloader.generation, 2);
  t.is(r.reloader.applied?.configHash, 'v2');
  t.deepEqual(r.reloader.last && { ...r.reloader.last, at: typeof r.reloader.last.at }, { ok: true, epoch: 2, at: 'string', error: null, covers: 1 });
  t.deepEqual(r.events, ['start', 'done']);
});

test('requests while a build is in flight coalesce into exactly one more build, which sees the last edit', async (t) => {
  const r = rig();
  r.write({ hash: 'v2' });
  const first = r.reloader.request();
  await flush();
  // five more SIGHUPs, each after another edit, all while build #0 runs
  const later: Promise<void>[] = [];
  for (const hash of ['v3', 'v4', 'v5', 'v6', 'v7']) {
    r.write({ hash });
    later.push(r.reloader.request());
  }
  await flush();
  t.is(r.builds.length, 1, 'no second build starts while one is in flight');
  await r.finish(0);
  t.is(r.builds.length, 2, 'one more build once the first is done');
  t.deepEqual(r.builds[1]!.read, { hash: 'v7' });
  t.is(r.builds[1]!.epoch, 3);
  await r.finish(1);
  await Promise.all([first, ...later]);
  t.is(r.builds.length, 2, 'and no third');
  t.deepEqual(r.published.map((s) => s.configHash), ['v2', 'v7']);
  t.is(r.reloader.applied?.configHash, 'v7');
  t.is(r.reloader.generation, 3);
  t.is(r.reloader.last?.covers, 6, 'the last run answered all six requests');
  t.deepEqual(r.events, ['start', 'done'], 'one RELOADING..READY span for the whole burst');
  t.like(r.reloader.status(), { generation: 3, configHash: 'v7', reloads: { ok: 2, failed: 0, requested: 6 } });
});

test('every request resolves only after a build that started after it', async (t) => {
  const r = rig();
  const first = r.reloader.request();
  await flush();
  let secondDone = false;
  const second = r.reloader.request().then(() => { secondDone = true; });
  await r.finish(0);
  t.false(secondDone, 'the request made during build #0 waits for build #1');
  await r.finish(1);
  await Promise.all([first, second]);
  t.true(secondDone);
});

test('a request after the burst is over starts a fresh run', async (t) => {
  const r = rig();
  const first = r.reloader.request();
  await flush();
  await r.finish(0);
  await first;
  r.write({ hash: 'v3' });
  const again = r.reloader.request();
  await flush();
  t.is(r.builds.length, 2);
  await r.finish(1);
  await again;
  t.is(r.reloader.applied?.configHash, 'v3');
  t.deepEqual(r.events, ['start', 'done', 'start', 'done']);
});

test('a build that fails validation keeps the old generation serving and reports every issue', async (t) => {
  const r = rig();
  r.write({ issues: [ISSUE, { ...ISSUE, field: 'spec.hosts', line: null, message: 'hosts is required' }] });
  const done = r.reloader.request();
  await flush();
  await r.finish(0);
  await done;
  t.deepEqual(r.published, [], 'nothing was published');
  t.is(r.reloader.generation, 1);
  t.is(r.reloader.applied?.configHash, 'v1');
  const last = r.reloader.last!;
  t.false(last.ok);
  t.is(last.epoch, 1, 'the generation still serving');
  t.is(last.error, '/etc/stickyd/vs.yaml:7: VirtualService/demo: spec.http[0].route: route is required; /etc/stickyd/vs.yaml: VirtualService/demo: spec.hosts: hosts is required');
  t.like(r.reloader.status(), { generation: 1, configHash: 'v1', reloads: { ok: 0, failed: 1, requested: 1 } });
  t.deepEqual(r.events, ['start', 'done'], 'READY=1 follows a failed reload too');
});

test('a failed build inside a burst does not stop the coalesced build after it', async (t) => {
  const r = rig();
  r.write({ issues: [ISSUE] });
  const first = r.reloader.request();
  await flush();
  r.write({ hash: 'v3' });
  const second = r.reloader.request();
  await r.finish(0);
  t.false(r.reloader.last?.ok);
  await r.finish(1);
  await Promise.all([first, second]);
  t.is(r.reloader.applied?.configHash, 'v3');
  t.is(r.reloader.generation, 2, 'the failed build used no generation number');
  t.like(r.reloader.last, { ok: true, epoch: 2, covers: 2 });
});

test('a publish the workers refuse keeps the old generation and names the refusal', async (t) => {
  const r = rig();
  r.write({ hash: 'v2' });
  r.failPublish(new Error('worker 4242 rejected epoch 2: STICKYD_ERR_INTERNAL: boom'));
  const done = r.reloader.request();
  await flush();
  await r.finish(0);
  await done;
  t.is(r.reloader.applied?.configHash, 'v1');
  t.like(r.reloader.last, { ok: false, epoch: 1, error: 'worker 4242 rejected epoch 2: STICKYD_ERR_INTERNAL: boom' });
});

test('a config that moves the Gateway ports is refused: listeners change only on restart', async (t) => {
  const r = rig();
  r.write({ hash: 'v2', ports: [8080, 8443] });
  const done = r.reloader.request();
  await flush();
  await r.finish(0);
  await done;
  t.deepEqual(r.published, []);
  t.is(r.reloader.applied?.configHash, 'v1');
  t.like(r.reloader.last, { ok: false, epoch: 1, error: 'the Gateway ports changed (0.0.0.0:8080 -> 0.0.0.0:8080,0.0.0.0:8443); listeners change only on restart' });
});

test('under --listen the override is compared, so the same single port reloads', async (t) => {
  const r = rig({ listen: { host: '127.0.0.1', port: 9000 } });
  r.write({ hash: 'v2', ports: [8080] });
  const done = r.reloader.request();
  await flush();
  await r.finish(0);
  await done;
  t.is(r.reloader.applied?.configHash, 'v2');
});

test('a DNS answer change builds and publishes a new generation from the applied snapshot, without reading the config', async (t) => {
  const subset = {
    id: 0, name: 'svc', host: 'svc', subsetName: null, port: 8080, table: null, policy: { kind: 'roundRobin' },
    endpoints: [{ id: '10.0.0.1:8080', address: '10.0.0.1', port: 8080, weight: 1, labels: {} }],
    dns: { fixed: [], sources: [{ name: 'a.test', mode: 'DNS', port: 8080, weight: 1, labels: {} }] },
  } as const;
  let answer: Record<string, readonly string[]> = { 'a.test': ['10.0.0.1'] };
  const tracked: string[][] = [];
  const published: Snapshot[] = [];
  const built: Snapshot[] = [];
  const notified: string[] = [];
  const reloader = new Reloader({
    configPath: '/etc/stickyd', settings: {}, listen: null,
    onStart: () => notified.push('RELOADING=1'), onDone: () => notified.push('READY=1'),
    builder: {
      prepare: () => Promise.reject(new Error('the config is not read for a DNS change')),
      build: async (s) => { built.push(s); return s; },
    },
    dns: { resolved: () => answer, ensure: async () => {}, track: (names) => { tracked.push([...names]); } },
    supervisor: {
      async publish(s) { published.push(s); }, allReady: () => true, workers: () => [], restarts: 0,
      crashLoop: () => ({ crashesInWindow: 0, windowMs: 10_000, backoffRemainingMs: 0 }),
    },
  });
  reloader.setApplied({ ...snapshot(1, 'v1'), subsets: [subset] });
  t.deepEqual(tracked, [['a.test']]);
  // the same set: nothing built
  await reloader.requestEndpoints();
  t.deepEqual(built, []);
  answer = { 'a.test': ['10.0.0.1', '10.0.0.2'] };
  await reloader.requestEndpoints();
  t.is(built.length, 1);
  t.deepEqual(published.map((s) => [s.epoch, s.configHash, s.subsets[0]!.endpoints.map((e) => e.id)]), [[2, 'v1', ['10.0.0.1:8080', '10.0.0.2:8080']]]);
  t.is(reloader.generation, 2);
  t.is(reloader.dnsRebuilds, 1);
  t.deepEqual(notified, [], 'a DNS rebuild is not a reload: systemd hears neither RELOADING=1 nor READY=1');
});
