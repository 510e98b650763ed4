// The cluster worker: load the hasher and the lookup kernel, take `init` (where to listen) and
// snapshots from the primary, listen only once it has both, answer pings and stats, and drain
// when told. Shutdown is the primary's decision: the worker ignores SIGHUP/SIGINT/SIGTERM.
import { initHasher, type Hasher } from '../balancing/hash.js';
import { StickydError } from '../errors.js';
import { loadKernel, type Kernel } from '../kernel/index.js';
import { log, setLogBase } from '../log.js';
import { CMD, isOurs, type DrainMsg, type HealthMsg, type InitMsg, type ListenSpec, type PingMsg, type SnapshotMsg, type StatsMsg, type StatsReport, type ToPrimary, type ToWorker } from '../protocol.js';
import { isSnapshot } from '../snapshot/codec.js';
import { handleRequest, type WorkerContext } from './handle-request.js';
import { HealthState } from './routing/health-state.js';
import { OutcomeReporter } from './upstream/outlier-report.js';
import { handleUpgrade } from './websocket.js';
import { buildRuntimeSnapshot } from './routing/runtime-snapshot.js';
import { ListenerGroup, type RequestHandler, type UpgradeHandler } from './downstream/server.js';
import type { CacheCounters } from './routing/session-cache.js';
import { AccessLog } from './telemetry/access-log.js';
import { createWorkerStats } from './telemetry/stats.js';
import { buildStatsReport, EvictionLedger, MeterLedger } from './telemetry/stats-ledger.js';
import { UpstreamPool } from './upstream/pool.js';
import { BreakerRegistry, computeBreakerLimits } from './routing/circuit-breaker.js';
import { LeaseTable } from './routing/limit-lease.js';

/** After the drain deadline, give destroyed sockets this long to report 'close' before exiting anyway. */
const EXIT_AFTER_DEADLINE_MS = 1_000;
/** How long an exiting worker waits for its finalStats message to be written to the IPC channel. */
const FINAL_STATS_WAIT_MS = 500;

const ignoreSignal = (): void => {};

export async function runWorker(): Promise<void> {
  // First, before any await: systemd may signal the whole cgroup, and Node's default for these
  // signals is to exit, which would cut in-flight requests. The primary drains us over IPC.
  process.on('SIGHUP', ignoreSignal);
  process.on('SIGINT', ignoreSignal);
  process.on('SIGTERM', ignoreSignal);
  setLogBase({ role: 'worker', pid: process.pid });

  const ready = Promise.all([initHasher(), loadKernel()]).then(([hasher, kernel]) => new WorkerProcess(hasher, kernel));
  // Messages that arrive while the kernel loads wait, in order, for the worker to exist.
  let chain: Promise<unknown> = ready;
  process.on('message', (msg: unknown) => {
    if (!isOurs(msg)) return;
    chain = chain
      .then(() => ready)
      .then((worker) => worker.dispatch(msg as ToWorker))
      .catch((err: unknown) => log('error', 'worker message handling failed', { act: (msg as ToWorker).act, err }));
  });
  send({ cmd: CMD, act: 'ready' });
  // Node's cluster child exits on an unexpected disconnect too; say why first.
  process.on('disconnect', () => {
    log('warn', 'IPC channel to the primary closed; exiting');
    process.exit(0);
  });
  // A send without a callback (cluster's own, Node's) that fails because the primary is gone
  // emits 'error' on process: unheard, it would crash the worker with an EPIPE stack trace.
  process.on('error', (err: NodeJS.ErrnoException) => {
    if (!process.connected || err.code === 'EPIPE' || err.code === 'ERR_IPC_CHANNEL_CLOSED') {
      log('warn', 'IPC channel to the primary closed; exiting', { code: err.code });
      process.exit(0);
    }
    log('error', 'worker process error', { err });
  });

  try {
    await ready;
  } catch (err) {
    const code = err instanceof StickydError ? err.code : 'STICKYD_ERR_KERNEL_LOAD';
    log('error', 'worker startup failed', { code, err });
    process.exit(1);
  }
}

type Handlers = { [A in ToWorker['act']]: (w: WorkerProcess, msg: Extract<ToWorker, { act: A }>) => void };

const handlers: Handlers = {
  init: (w, msg) => w.onInit(msg),
  snapshot: (w, msg) => w.onSnapshot(msg),
  ping: (w, msg) => w.onPing(msg),
  drain: (w, msg) => w.onDrain(msg),
  stats: (w, msg) => w.onStats(msg),
  health: (w, msg) => w.onHealth(msg),
  leaseGrant: (w, msg) => w.leases.onGrant(msg.key, msg.n),
  leaseBusy: (w, msg) => w.leases.onBusy(msg.key, msg.n),
  leaseContend: (w, msg) => w.leases.onContend(msg),
};

class WorkerProcess {
  readonly ctx: WorkerContext = {
    current: null,
    draining: false,
    stats: createWorkerStats(),
    health: new HealthState(),
    outcomes: new OutcomeReporter(send),
    accessLog: new AccessLog(),
  };
  readonly #counters: CacheCounters = { hits: 0, misses: 0 };
  /** verified-pin cache totals (session/pin-cache.ts counts the same two numbers) */
  readonly #pinCounters: CacheCounters = { hits: 0, misses: 0 };
  readonly #meters = new MeterLedger();
  readonly #evictions = new EvictionLedger();
  #exiting = false;
  #pool: UpstreamPool | null = null;
  #specs: readonly ListenSpec[] | null = null;
  #listeners: ListenerGroup | null = null;
  /** this worker's share of the pending and retry limits (InitMsg); one worker of one until init */
  #share = { slot: 0, workers: 1 };
  readonly #breakers = new BreakerRegistry();
  /** tokens of the daemon-wide maxConnections / http2MaxRequests limits this worker holds (primary/lease-ledger.ts) */
  readonly leases = new LeaseTable({
    want: (key, limit, n) => send({ cmd: CMD, act: 'leaseWant', key, limit, n }),
    cancel: (key, n) => send({ cmd: CMD, act: 'leaseCancel', key, n }),
    giveBack: (key, n, round) => send({ cmd: CMD, act: 'leaseReturn', key, n, round }),
  });

  constructor(
    readonly hasher: Hasher,
    readonly kernel: Kernel,
  ) {}

  dispatch(msg: ToWorker): void {
    const handler = handlers[msg.act] as ((w: WorkerProcess, m: ToWorker) => void) | undefined;
    if (handler === undefined) log('warn', 'unknown message from the primary', { act: msg.act });
    else handler(this, msg);
  }

  onInit(msg: InitMsg): void {
    if (this.#specs !== null) {
      send({ cmd: CMD, act: 'ack', seq: msg.seq, error: { code: 'STICKYD_ERR_USAGE', message: 'init received twice; listeners are fixed for a worker' } });
      return;
    }
    this.#specs = msg.listen;
    this.#share = { slot: msg.slot, workers: msg.workers };
    this.ctx.accessLog.configure(msg.accessLog);
    send({ cmd: CMD, act: 'ack', seq: msg.seq });
    this.#maybeListen();
  }

  onSnapshot(msg: SnapshotMsg): void {
    const snapshot: unknown = msg.snapshot;
    if (!isSnapshot(snapshot)) {
      send({ cmd: CMD, act: 'ack', seq: msg.seq, error: { code: 'STICKYD_ERR_RELOAD', message: 'malformed snapshot message' } });
      return;
    }
    const pool = (this.#pool ??= new UpstreamPool(snapshot.settings.upstreamIdleTimeoutMs, snapshot.settings.upstreamConnectTimeoutMs));
    pool.configure(snapshot);
    try {
      const breakers = this.#breakers;
      const { slot, workers } = this.#share;
      breakers.begin();
      const runtime = buildRuntimeSnapshot(snapshot, {
        kernel: this.kernel,
        hasher: this.hasher,
        poolFor: (e, s, breaker) => pool.poolFor(e, s, breaker?.limits.connections),
        breakerFor: (s) => {
          const limits = computeBreakerLimits(s.connectionPool, slot, workers, s.id);
          return limits === null ? null : breakers.breakerFor(s.name, s.port, limits, (key, limit) => this.leases.leaseFor(key, limit));
        },
        counters: this.#counters,
        pinCounters: this.#pinCounters,
      });
      const old = this.ctx.current;
      this.ctx.current = runtime; // the one swap: new requests see the new tables, old ones keep theirs
      this.#listeners?.snapshotChanged();
      this.#meters.swap(runtime.meter);
      this.#evictions.swap(this.#counters.misses, old?.sessions ?? null);
    } catch (err) {
      const wire = err instanceof StickydError ? err.toJSON() : { code: 'STICKYD_ERR_RELOAD', message: String(err) };
      log('error', 'snapshot rejected', { epoch: snapshot.epoch, ...wire });
      send({ cmd: CMD, act: 'ack', seq: msg.seq, error: wire });
      return;
    }
    pool.retainUsed();
    this.#breakers.commit();
    this.leases.retain(this.#breakers.leases());
    send({ cmd: CMD, act: 'ack', seq: msg.seq, epoch: snapshot.epoch });
    this.#maybeListen();
  }

  /** Health is not part of the snapshot: it applies to whichever snapshot is current, and survives reloads. */
  onHealth(msg: HealthMsg): void {
    this.ctx.health.apply(msg.generation, msg.unhealthy);
    send({ cmd: CMD, act: 'ack', seq: msg.seq, epoch: this.ctx.current?.epoch ?? 0 });
  }

  onPing(msg: PingMsg): void {
    send({ cmd: CMD, act: 'pong', seq: msg.seq, epoch: this.ctx.current?.epoch ?? 0 });
  }

  /** graceMs and deadlineMs are durations from receipt of the message. */
  onDrain(msg: DrainMsg): void {
    this.ctx.draining = true;
    send({ cmd: CMD, act: 'ack', seq: msg.seq, epoch: this.ctx.current?.epoch ?? 0 });
    const listeners = this.#listeners;
    if (listeners === null) {
      this.#exit();
      return;
    }
    listeners.drain(msg.graceMs, msg.deadlineMs, () => this.#exit());
    setTimeout(() => this.#exit(), Math.max(msg.graceMs, msg.deadlineMs) + EXIT_AFTER_DEADLINE_MS);
  }

  onStats(msg: StatsMsg): void {
    send({ cmd: CMD, act: 'statsReply', seq: msg.seq, stats: this.#report() });
  }

  #report(): StatsReport {
    const rt = this.ctx.current;
    const sessions = rt?.sessions ?? null;
    const { hits, misses } = this.#counters;
    return buildStatsReport(this.ctx.stats, this.#meters, {
      epoch: rt?.epoch ?? 0,
      draining: this.ctx.draining,
      sessionCache: { size: sessions?.size ?? 0, max: sessions?.max ?? 0, hits, misses, evictions: this.#evictions.total(misses, sessions) },
      accessLog: { lines: this.ctx.accessLog.lines, dropped: this.ctx.accessLog.dropped },
      upstreamPools: this.#pool?.size ?? 0,
      pinCache: this.#pinCounters,
    });
  }

  /** Listen once both init and a first snapshot are in: before that there is nothing to route by. */
  #maybeListen(): void {
    const specs = this.#specs;
    const rt = this.ctx.current;
    if (this.#listeners !== null || specs === null || rt === null || this.ctx.draining) return;
    const tlsHooks = { serversFor: (port: number) => this.ctx.current?.listeners.get(port)?.servers ?? null, http2: true };
    const onRequest: RequestHandler = (req, res, port) => handleRequest(this.ctx, req, res, port);
    const onUpgrade: UpgradeHandler = (req, socket, head, port) => handleUpgrade(this.ctx, req, socket, head, port);
    const listeners = new ListenerGroup(specs, onRequest, this.ctx.stats, rt.settings, onUpgrade, tlsHooks);
    this.#listeners = listeners;
    listeners.listen().then(
      (addresses) => send({ cmd: CMD, act: 'listening', epoch: this.ctx.current?.epoch ?? rt.epoch, addresses }),
      (err: unknown) => {
        // The primary owns the sockets; a listen failure here is not recoverable in this process.
        // It turns the errno into the line the user reads; we only speak if it cannot hear us.
        const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
        const spec = specs.find((s) => s.port === e.port) ?? specs[0];
        const report = { cmd: CMD, act: 'listenFailed', errno: e.code ?? 'UNKNOWN', host: e.address ?? spec?.host ?? '', port: e.port ?? spec?.port ?? 0, message: e.message } as const;
        if (process.send === undefined || !process.connected) {
          log('error', 'worker could not listen', { err, listen: specs });
          process.exit(1);
        }
        process.send(report, undefined, undefined, (sendErr: Error | null) => {
          if (sendErr) log('error', 'worker could not listen', { err, listen: specs });
          process.exit(1);
        });
      },
    );
  }

  #exit(): void {
    if (this.#exiting) return;
    this.#exiting = true;
    this.#pool?.destroyAll();
    this.ctx.accessLog.flush();
    // Last words: what this worker counted since the primary's last scrape would die with it.
    const done = (): void => process.exit(0);
    if (process.send === undefined || !process.connected) {
      done();
      return;
    }
    process.send({ cmd: CMD, act: 'finalStats', stats: this.#report() }, undefined, undefined, done);
    setTimeout(done, FINAL_STATS_WAIT_MS).unref();
  }
}

function send(msg: ToPrimary): void {
  if (process.send === undefined || !process.connected) return;
  process.send(msg, undefined, undefined, (err: Error | null) => {
    if (err) log('warn', 'IPC send failed', { act: msg.act, err });
  });
}
