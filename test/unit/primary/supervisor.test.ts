// The supervisor's message handling against fake cluster workers: no processes, no IPC. Each
// fake records what the supervisor sends it and answers the way a worker does (worker/main.ts):
// 'ready' once its listener is up, an ack per snapshot and health, a pong per ping, a statsReply
// per stats request, its exit after a drain; a test can silence any of those.
import { EventEmitter } from 'node:events';
import test from 'ava';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { CMD, type ListenSpec, type StatsReport, type ToWorker } from '../../../src/protocol.js';
import { Supervisor, type ClusterPrimary, type ClusterWorker, type SupervisorOptions } from '../../../src/primary/supervisor.js';
import type { Snapshot } from '../../../src/snapshot/types.js';

const LISTEN: readonly ListenSpec[] = [{ host: '127.0.0.1', port: 0, gatewayPort: 8080, tls: 'off' }];

function snapshot(epoch: number): Snapshot {
  return { epoch, configHash: `h${epoch}`, configPath: '/etc/stickyd', listeners: [], subsets: [], settings: DEFAULT_SETTINGS };
}

function stats(pid: number): StatsReport {
  return { pid, epoch: 1, draining: false, counters: { requests: 7 }, gauges: {}, series: {} };
}

type Verb = 'ready' | 'ack' | 'pong' | 'statsReply' | 'listening' | 'exitOnDrain';

class FakeWorker extends EventEmitter implements ClusterWorker {
  readonly process: { pid: number; kill(signal?: NodeJS.Signals): boolean };
  readonly sent: ToWorker[] = [];
  readonly kills: string[] = [];
  /** verbs this worker does not answer */
  readonly silent = new Set<Verb>();
  /** an error code to put in the next snapshot ack */
  rejectSnapshot: string | null = null;
  #dead = false;

  constructor(readonly id: number, private readonly journal: string[]) {
    super();
    const pid = 1000 + id;
    this.process = { pid, kill: (signal) => { this.kills.push(signal ?? 'SIGTERM'); this.die(null, signal ?? 'SIGTERM'); return true; } };
  }

  isConnected(): boolean { return !this.#dead; }
  isDead(): boolean { return this.#dead; }

  send(msg: ToWorker): boolean {
    this.sent.push(msg);
    const reply = (verb: Verb, m: Record<string, unknown>): void => {
      if (!this.silent.has(verb)) setImmediate(() => this.emit('message', { cmd: CMD, ...m }));
    };
    switch (msg.act) {
      case 'snapshot': {
        const error = this.rejectSnapshot ? { code: this.rejectSnapshot, message: 'refused' } : undefined;
        reply('ack', { act: 'ack', seq: msg.seq, epoch: msg.snapshot.epoch, ...(error ? { error } : {}) });
        // the worker listens once it has its first snapshot
        if (!this.listening) {
          this.listening = true;
          this.journal.push(`listening ${this.id}`);
          reply('listening', { act: 'listening', epoch: msg.snapshot.epoch, addresses: [{ ...LISTEN[0], port: 40000 + this.id }] });
        }
        break;
      }
      case 'health': reply('ack', { act: 'ack', seq: msg.seq }); break;
      case 'ping': reply('pong', { act: 'pong', seq: msg.seq, epoch: 1 }); break;
      case 'stats': reply('statsReply', { act: 'statsReply', seq: msg.seq, stats: stats(this.process.pid) }); break;
      case 'drain':
        this.journal.push(`drain ${this.id}`);
        if (!this.silent.has('exitOnDrain')) setImmediate(() => this.die(0, null));
        break;
      case 'init': break;
    }
    return true;
  }

  listening = false;

  /** says 'ready' (its message listener is up), as worker/main.ts does first thing */
  ready(): void { if (!this.silent.has('ready')) this.emit('message', { cmd: CMD, act: 'ready' }); }

  die(code: number | null, signal: string | null): void {
    if (this.#dead) return;
    this.#dead = true;
    this.emit('exit', code, signal);
  }

  acts(): string[] { return this.sent.map((m) => m.act); }
}

/** A fake node:cluster: every fork is a FakeWorker that says 'ready' on the next turn unless told not to. */
function fakeCluster(opts: { autoReady?: boolean; configure?: (w: FakeWorker) => void } = {}) {
  const forked: FakeWorker[] = [];
  const setups: unknown[] = [];
  /** 'listening N' and 'drain N' in the order they happened */
  const journal: string[] = [];
  const c: ClusterPrimary = {
    setupPrimary(settings) { setups.push(settings); },
    fork() {
      const w = new FakeWorker(forked.length + 1, journal);
      opts.configure?.(w);
      forked.push(w);
      if (opts.autoReady !== false) setImmediate(() => w.ready());
      return w;
    },
  };
  return { cluster: c, forked, setups, journal };
}

function supervisor(c: ClusterPrimary, extra: Partial<SupervisorOptions> = {}): Supervisor {
  return new Supervisor({ count: 2, listen: LISTEN, workerScript: '/x/worker.js', workerArgs: ['--flag'], cluster: c, ...extra });
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1500; i++) { if (cond()) return; await new Promise((r) => setTimeout(r, 2)); }
  throw new Error(`timed out waiting for ${what}`);
}

test('setupPrimary gets the worker script, its args and advanced serialization', (t) => {
  const f = fakeCluster();
  supervisor(f.cluster);
  t.deepEqual(f.setups, [{ exec: '/x/worker.js', args: ['--flag'], serialization: 'advanced' }]);
});

test('start: nothing is sent before ready; then init, snapshot, and start resolves once every worker listens', async (t) => {
  const f = fakeCluster({ autoReady: false });
  const s = supervisor(f.cluster);
  let started = false;
  const p = s.start(snapshot(1)).then(() => { started = true; });
  await tick();
  t.is(f.forked.length, 2);
  t.deepEqual(f.forked.map((w) => w.sent), [[], []], 'IPC before ready would be dropped by the worker');
  f.forked[0]!.ready();
  await tick();
  t.deepEqual(f.forked[0]!.acts(), ['init', 'snapshot']);
  const init = f.forked[0]!.sent[0]!;
  t.like(init, { cmd: CMD, act: 'init', listen: LISTEN, accessLog: { enabled: true, sample: 1 } });
  t.false(started, 'the second worker is not ready yet');
  f.forked[1]!.ready();
  await p;
  t.true(started);
  t.deepEqual(s.workers().map((w) => ({ pid: w.pid, epoch: w.epoch, listening: w.listening, port: w.addresses[0]?.port })), [
    { pid: 1001, epoch: 1, listening: true, port: 40001 },
    { pid: 1002, epoch: 1, listening: true, port: 40002 },
  ]);
  t.true(s.allReady());
  const seqs = f.forked.flatMap((w) => w.sent.map((m) => ('seq' in m ? m.seq : -1)));
  t.is(new Set(seqs).size, seqs.length, 'every message carries its own seq');
});

test('a worker that rejects its first snapshot fails start with its error', async (t) => {
  const f = fakeCluster({ configure: (w) => { w.rejectSnapshot = 'STICKYD_ERR_INTERNAL'; } });
  const s = supervisor(f.cluster, { count: 1 });
  await t.throwsAsync(s.start(snapshot(1)), { message: 'worker 1001 rejected epoch 1: refused' });
});

test('a worker that exits before ready fails start naming the worker and the signal', async (t) => {
  const f = fakeCluster({ autoReady: false });
  const s = supervisor(f.cluster, { count: 1 });
  const p = s.start(snapshot(1));
  await tick();
  f.forked[0]!.die(null, 'SIGSEGV');
  void s.stop(10, 10); // before the respawn timer fires: no replacement
  await t.throwsAsync(p, { message: "worker 1001 exited before 'ready' (code null, signal SIGSEGV)" });
});

test('publish: every worker gets the snapshot; their acks move them to the new epoch', async (t) => {
  const f = fakeCluster();
  const seen: number[] = [];
  const s = supervisor(f.cluster, { onSnapshot: (snap) => seen.push(snap.epoch) });
  await s.start(snapshot(1));
  await s.publish(snapshot(2));
  t.deepEqual(f.forked.map((w) => w.acts()), [['init', 'snapshot', 'snapshot'], ['init', 'snapshot', 'snapshot']]);
  t.deepEqual(s.workers().map((w) => w.epoch), [2, 2]);
  t.is(s.current?.epoch, 2);
  t.deepEqual(seen, [1, 2]);
  t.true(s.allReady());
});

test('publish: an ack carrying an error rejects with the worker, the epoch and the code', async (t) => {
  const f = fakeCluster();
  const s = supervisor(f.cluster);
  await s.start(snapshot(1));
  f.forked[1]!.rejectSnapshot = 'STICKYD_ERR_INTERNAL';
  await t.throwsAsync(s.publish(snapshot(2)), { message: 'worker 1002 rejected epoch 2: STICKYD_ERR_INTERNAL: refused' });
  t.deepEqual(s.workers().map((w) => w.epoch), [2, 1]);
  t.false(s.allReady(), 'a worker on the old epoch is not ready');
});

test('replies pair by seq: a stats request resolves with its statsReply; strays and foreign messages are ignored', async (t) => {
  const f = fakeCluster();
  const s = supervisor(f.cluster);
  await s.start(snapshot(1));
  const w = f.forked[0]!;
  w.silent.add('statsReply');
  const reply = s.request(w.id, { cmd: CMD, act: 'stats', seq: 0 });
  const req = w.sent.at(-1) as Extract<ToWorker, { seq: number }>;
  w.emit('message', { cmd: CMD, act: 'statsReply', seq: req.seq + 1000, stats: stats(1) }); // no such request
  w.emit('message', { act: 'statsReply', seq: req.seq, stats: stats(2) }); // no cmd marker: not ours
  w.emit('message', { cmd: 'NODE_CLUSTER', act: 'online' }); // node:cluster's own traffic
  w.emit('message', { cmd: CMD, act: 'statsReply', seq: req.seq, stats: stats(3) });
  t.like(await reply, { act: 'statsReply', stats: { pid: 3 } });
  await t.throwsAsync(s.request(99, { cmd: CMD, act: 'stats', seq: 0 }), { message: 'no worker 99' });
});

test('a request the worker never answers rejects after its timeout, naming the verb', async (t) => {
  const f = fakeCluster();
  const s = supervisor(f.cluster);
  await s.start(snapshot(1));
  f.forked[0]!.silent.add('statsReply');
  await t.throwsAsync(s.request(1, { cmd: CMD, act: 'stats', seq: 0 }, 20), { message: "worker 1001 did not answer 'stats' within 20 ms" });
});

test('outcomes go to onOutcomes, finalStats to onFinalStats with the cluster worker id', async (t) => {
  const f = fakeCluster();
  const outcomes: unknown[] = [];
  const finals: [number, StatsReport][] = [];
  const s = supervisor(f.cluster, { onOutcomes: (m) => outcomes.push(m.outcomes), onFinalStats: (id, st) => finals.push([id, st]) });
  await s.start(snapshot(1));
  const batch = [{ subset: 0, epoch: 1, endpoint: '10.0.0.1:80', ok: 3, errors5xx: 1, trailing5xx: 1, trailingGateway: 0, okAt: 1, at5xx: [2], atGateway: [] }];
  f.forked[1]!.emit('message', { cmd: CMD, act: 'outcomes', outcomes: batch });
  f.forked[0]!.emit('message', { cmd: CMD, act: 'finalStats', stats: stats(1001) });
  f.forked[0]!.emit('message', { act: 'outcomes', outcomes: batch }); // not ours
  t.deepEqual(outcomes, [batch]);
  t.deepEqual(finals, [[1, stats(1001)]]);
});

test('health: queued right behind the snapshot for a new worker, and sent to ready workers when it changes', async (t) => {
  const f = fakeCluster({ autoReady: false });
  const s = supervisor(f.cluster, { count: 1 });
  s.setHealth(1, ['10.0.0.1:80']);
  const p = s.start(snapshot(1));
  await tick();
  t.deepEqual(f.forked[0]!.acts(), [], 'not before ready');
  f.forked[0]!.ready();
  await p;
  t.deepEqual(f.forked[0]!.acts(), ['init', 'snapshot', 'health']);
  s.setHealth(2, []);
  t.like(f.forked[0]!.sent.at(-1), { act: 'health', generation: 2, unhealthy: [] });
});

test('heartbeat: a worker that answers keeps the daemon healthy; one that misses is killed and replaced', async (t) => {
  const f = fakeCluster();
  const exits: number[] = [];
  const s = supervisor(f.cluster, { onExit: (id) => exits.push(id) });
  await s.start(snapshot(1));
  t.teardown(() => s.stop(10, 10));
  f.forked[1]!.silent.add('pong');
  s.startHeartbeat(5, 30);
  await until(() => f.forked[1]!.kills.length > 0, 'the silent worker to be killed');
  t.deepEqual(f.forked[1]!.kills, ['SIGKILL']);
  t.deepEqual(f.forked[0]!.kills, [], 'the one that answers lives');
  t.deepEqual(exits, [2]);
  await until(() => s.allReady(), 'the replacement to listen');
  t.deepEqual(s.workers().map((w) => w.pid), [1001, 1003]);
  t.is(s.restarts, 1);
  t.true(s.healthy(1_000));
});

test('an unexpected exit rejects the requests waiting on that worker and forks a replacement', async (t) => {
  const f = fakeCluster();
  const s = supervisor(f.cluster);
  await s.start(snapshot(1));
  t.teardown(() => s.stop(10, 10));
  await s.publish(snapshot(2));
  f.forked[0]!.silent.add('statsReply');
  const pending = s.request(1, { cmd: CMD, act: 'stats', seq: 0 });
  f.forked[0]!.die(1, null);
  await t.throwsAsync(pending, { message: 'worker 1001 exited' });
  await until(() => s.allReady(), 'the replacement to listen');
  const fresh = f.forked[2]!;
  t.like(fresh.sent.find((m) => m.act === 'snapshot'), { snapshot: { epoch: 2 } }, 'the replacement starts on the current epoch');
  t.deepEqual(s.crashLoop(), { crashesInWindow: 1, windowMs: 10_000, backoffRemainingMs: 0 });
});

test('more than three crashes inside the window: the next respawn waits (backoff), and /status can say so', async (t) => {
  const f = fakeCluster();
  const s = supervisor(f.cluster, { count: 1 });
  await s.start(snapshot(1));
  t.teardown(() => s.stop(10, 10));
  for (let i = 0; i < 3; i++) {
    f.forked.at(-1)!.die(1, null);
    await until(() => s.allReady(), `replacement ${i + 1}`);
  }
  t.is(s.crashLoop().backoffRemainingMs, 0, 'three crashes: still immediate');
  const before = f.forked.length;
  f.forked.at(-1)!.die(1, null);
  const loop = s.crashLoop();
  t.is(loop.crashesInWindow, 4);
  t.true(loop.backoffRemainingMs > 100 && loop.backoffRemainingMs <= 200, `backoff ${loop.backoffRemainingMs} ms`);
  await tick();
  t.is(f.forked.length, before, 'no fork during the backoff');
  t.is(s.restarts, 4);
});

test('stop: every worker is told to drain with the grace and deadline, none is replaced', async (t) => {
  const f = fakeCluster();
  const s = supervisor(f.cluster);
  await s.start(snapshot(1));
  s.startHeartbeat(1_000, 5_000);
  await s.stop(250, 4_000);
  t.deepEqual(f.forked.map((w) => w.sent.at(-1)), f.forked.map((w) => ({ cmd: CMD, act: 'drain', seq: (w.sent.at(-1) as Extract<ToWorker, { seq: number }>).seq, graceMs: 250, deadlineMs: 4_000 })));
  await tick();
  t.is(f.forked.length, 2);
  t.deepEqual(s.workers(), []);
  t.is(s.restarts, 0, 'a drained exit is not a crash');
});

test('rolling restart: each replacement listens before the worker it replaces is told to drain', async (t) => {
  const f = fakeCluster();
  const s = supervisor(f.cluster);
  await s.start(snapshot(1));
  t.teardown(() => s.stop(10, 10));
  await s.rollingRestart(10, 100);
  t.deepEqual(f.journal, ['listening 1', 'listening 2', 'listening 3', 'drain 1', 'listening 4', 'drain 2']);
  t.deepEqual(s.workers().map((w) => w.pid), [1003, 1004]);
  t.is(s.restarts, 0);
});
