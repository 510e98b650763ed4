// Owns the set of cluster workers: forks them, hands each the current snapshot before it takes
// traffic, replaces the ones that die (with backoff when they keep dying) and drains them on stop.
// The listening socket lives here (SCHED_RR), so the set must never reach zero workers while a
// listener is meant to stay open: replacements are forked before anything is retired.
import cluster, { type ClusterSettings } from 'node:cluster';
import { CMD, isOurs, type AccessLogSpec, type LeaseFromWorker, type ListenSpec, type OutcomesMsg, type StatsReport, type ToPrimary, type ToWorker } from '../protocol.js';
import type { Snapshot } from '../snapshot/types.js';
import { log } from '../log.js';
import { ListenError } from './listen-error.js';
import type { CrashLoopState, WorkerInfo } from '../daemon-view.js';

/** crash-loop guard: more than this many unexpected exits inside the window triggers backoff */
const CRASH_WINDOW_MS = 10_000;
const CRASHES_BEFORE_BACKOFF = 3;
const MAX_BACKOFF_MS = 30_000;
/** a worker that has not acked a snapshot in this time is reported as a laggard */
export const ACK_TIMEOUT_MS = 15_000;

/**
 * What the supervisor uses of a cluster worker: node:cluster's Worker satisfies it, and the unit
 * tests drive the supervisor with fakes through it (no processes, no IPC).
 */
export interface ClusterWorker {
  readonly id: number;
  readonly process: { readonly pid?: number | undefined; kill(signal?: NodeJS.Signals): boolean };
  send(msg: ToWorker): boolean;
  isConnected(): boolean;
  isDead(): boolean;
  on(event: 'message', listener: (msg: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number | null, signal: string | null) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'message', listener: (msg: unknown) => void): unknown;
  once(event: 'exit', listener: (code: number | null, signal: string | null) => void): unknown;
}

/** The messages a worker answers, paired by `seq`. */
type RequestMsg = Extract<ToWorker, { seq: number }>;

/** What the supervisor uses of node:cluster (the default). */
export interface ClusterPrimary {
  setupPrimary(settings: ClusterSettings): void;
  fork(): ClusterWorker;
}

interface Pending {
  resolve(msg: ToPrimary): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export interface SupervisorOptions {
  readonly count: number;
  readonly listen: readonly ListenSpec[];
  readonly workerScript: string;
  readonly workerArgs: readonly string[];
  /** called whenever worker state changes (ready-ness, restarts) */
  readonly onChange?: () => void;
  /** a snapshot became current (start and every publish): health checks follow its endpoints */
  readonly onSnapshot?: (snapshot: Snapshot) => void;
  /** a worker's batch of upstream outcomes (outlier detection) */
  readonly onOutcomes?: (msg: OutcomesMsg) => void;
  /** sent to every worker at init; default: on, every request */
  readonly accessLog?: AccessLogSpec;
  /** a draining worker's counters, sent right before it exits (cluster worker id) */
  readonly onFinalStats?: (workerId: number, stats: StatsReport) => void;
  /** a worker's lease traffic for the daemon-wide connectionPool limits (cluster worker id; primary/lease-ledger.ts) */
  readonly onLease?: (workerId: number, msg: LeaseFromWorker) => void;
  /** a worker exited, for whatever reason (cluster worker id) */
  readonly onExit?: (workerId: number) => void;
  /** default node:cluster; a seam for the unit tests */
  readonly cluster?: ClusterPrimary;
}

const DEFAULT_ACCESS_LOG: AccessLogSpec = { enabled: true, sample: 1 };

export class Supervisor {
  readonly #opts: SupervisorOptions;
  readonly #cluster: ClusterPrimary;
  readonly #workers = new Map<number, { worker: ClusterWorker; info: WorkerInfo; slot: number }>();
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #current: Snapshot | null = null;
  #stopping = false;
  /** while start() runs: a worker that dies fails the start instead of being replaced */
  #starting = false;
  #crashTimes: number[] = [];
  #restarts = 0;
  #backoffUntil = 0;
  #heartbeat: NodeJS.Timeout | null = null;
  #health: { generation: number; unhealthy: readonly string[] } | null = null;
  /** workers whose message listener is up ('ready'): only they can receive health */
  readonly #readyIds = new Set<number>();

  constructor(opts: SupervisorOptions) {
    this.#opts = opts;
    this.#cluster = opts.cluster ?? cluster;
    this.#cluster.setupPrimary({ exec: opts.workerScript, args: [...opts.workerArgs], serialization: 'advanced' });
  }

  get restarts(): number { return this.#restarts; }
  get current(): Snapshot | null { return this.#current; }

  workers(): WorkerInfo[] {
    return [...this.#workers.values()].map((w) => w.info);
  }

  /** true when every non-retiring worker listens and serves the current epoch */
  allReady(): boolean {
    const live = this.workers().filter((w) => !w.retiring);
    return live.length === this.#opts.count && live.every((w) => w.listening && w.epoch === this.#current?.epoch);
  }

  /** Forks the initial workers with `snapshot` and resolves once every one of them listens. */
  async start(snapshot: Snapshot): Promise<void> {
    this.#current = snapshot;
    this.#opts.onSnapshot?.(snapshot);
    this.#starting = true;
    try {
      await Promise.all(Array.from({ length: this.#opts.count }, () => this.#spawn()));
    } finally {
      this.#starting = false;
    }
  }

  /**
   * After a failed start: kills every worker (none has served a request: READY=1 was not sent)
   * and resolves once all exited, so the primary's last line is the one saying why.
   */
  async abort(): Promise<void> {
    this.#stopping = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    await Promise.all([...this.#workers.values()].map(({ worker }) => new Promise<void>((resolve) => {
      if (worker.isDead()) { resolve(); return; }
      worker.once('exit', () => resolve());
      worker.process.kill('SIGKILL');
    })));
  }

  /** Sends a new snapshot to every worker; resolves when all acked it. Workers that die meanwhile get it at respawn. */
  async publish(snapshot: Snapshot): Promise<void> {
    this.#current = snapshot;
    this.#opts.onSnapshot?.(snapshot);
    const targets = [...this.#workers.values()].filter((w) => !w.info.retiring);
    await Promise.all(targets.map(async ({ worker, info }) => {
      const reply = await this.#request(worker, { cmd: CMD, act: 'snapshot', seq: 0, snapshot });
      if (reply.act === 'ack' && reply.error) throw new Error(`worker ${info.pid} rejected epoch ${snapshot.epoch}: ${reply.error.code}: ${reply.error.message}`);
      info.epoch = snapshot.epoch;
    }));
    this.#opts.onChange?.();
  }

  /**
   * Replaces workers one at a time: the new one listens with the current snapshot before the old
   * one stops accepting, so the shared listening socket never reaches zero workers.
   */
  async rollingRestart(graceMs: number, deadlineMs: number): Promise<void> {
    const old = [...this.#workers.values()].filter((w) => !w.info.retiring);
    for (const { worker, slot } of old) {
      if (this.#stopping) return;
      // the replacement takes over the old worker's share of the pending and retry limits
      await this.#spawn(slot);
      await this.#retire(worker, graceMs, deadlineMs);
    }
  }

  /**
   * Pings every worker each interval; a worker that misses `timeoutMs` is stalled (a blocked
   * event loop still holds its share of connections) and is killed, then replaced as a crash.
   */
  startHeartbeat(intervalMs: number, timeoutMs: number): void {
    const timer = setInterval(() => {
      for (const { worker, info } of this.#workers.values()) {
        if (info.retiring || !info.listening) continue;
        this.#request(worker, { cmd: CMD, act: 'ping', seq: 0 }, timeoutMs).then(
          () => { info.lastPong = Date.now(); },
          () => {
            if (worker.isDead() || info.retiring) return;
            log('error', 'worker missed its heartbeat; replacing it', { pid: info.pid, timeoutMs });
            worker.process.kill('SIGKILL');
          },
        );
      }
    }, intervalMs);
    timer.unref();
    this.#heartbeat = timer;
  }

  /** true while every serving worker answered a heartbeat recently */
  healthy(maxAgeMs: number): boolean {
    const now = Date.now();
    const live = this.workers().filter((w) => !w.retiring && w.listening);
    return live.length > 0 && live.every((w) => now - w.lastPong <= maxAgeMs);
  }

  /** Drains every worker and resolves when all exited (or were killed at the deadline). */
  async stop(graceMs: number, deadlineMs: number): Promise<void> {
    this.#stopping = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    const all = [...this.#workers.values()];
    await Promise.all(all.map(({ worker }) => this.#retire(worker, graceMs, deadlineMs)));
  }

  /** `slot`: the share of the pending and retry limits it takes (InitMsg); default the lowest no serving worker holds. */
  async #spawn(slot = this.#freeSlot()): Promise<void> {
    const snapshot = this.#current;
    if (!snapshot) throw new Error('no snapshot to start a worker with');
    const worker = this.#cluster.fork();
    const info: WorkerInfo = {
      id: worker.id,
      pid: worker.process.pid ?? 0,
      startedAt: Date.now(),
      epoch: 0,
      listening: false,
      retiring: false,
      addresses: [],
      lastPong: Date.now(),
    };
    this.#workers.set(worker.id, { worker, info, slot });
    const until = (act: 'ready' | 'listening'): Promise<void> => {
      const p = new Promise<void>((resolve, reject) => {
        const onMsg = (msg: unknown): void => {
          if (isOurs(msg) && msg.act === 'listenFailed') {
            worker.off('message', onMsg);
            reject(new ListenError('proxy', msg.errno, msg.host, msg.port, msg.message));
            return;
          }
          if (!isOurs(msg) || msg.act !== act) return;
          if (msg.act === 'listening') {
            // The heartbeat pings listening workers only, so a worker's silence counts from here: one
            // slow to start on a loaded machine must not begin with most of its timeout spent.
            info.listening = true;
            info.lastPong = Date.now();
            info.addresses = msg.addresses;
          }
          worker.off('message', onMsg);
          resolve();
        };
        worker.on('message', onMsg);
        worker.once('exit', (code, signal) => reject(new Error(`worker ${info.pid} exited before '${act}' (code ${code}, signal ${signal})`)));
      });
      p.catch(() => {}); // awaited below; an early exit is also handled by the exit handler
      return p;
    };
    const ready = until('ready');
    const listening = until('listening');
    worker.on('message', (msg: unknown) => this.#onMessage(msg));
    worker.on('message', (msg: unknown) => {
      if (!isOurs(msg)) return;
      if (msg.act === 'finalStats') this.#opts.onFinalStats?.(worker.id, msg.stats);
      else if (msg.act === 'leaseWant' || msg.act === 'leaseCancel' || msg.act === 'leaseReturn') this.#opts.onLease?.(worker.id, msg);
    });
    worker.on('exit', (code, signal) => this.#onExit(worker, info, code, signal));
    worker.on('error', (err) => log('warn', 'worker IPC error', { pid: info.pid, err }));
    await ready;
    this.#readyIds.add(worker.id);
    this.#send(worker, { cmd: CMD, act: 'init', seq: ++this.#seq, listen: this.#opts.listen, accessLog: this.#opts.accessLog ?? DEFAULT_ACCESS_LOG, slot, workers: this.#opts.count });
    const replied = this.#request(worker, { cmd: CMD, act: 'snapshot', seq: 0, snapshot });
    // Queued right behind the snapshot, so health applies before the worker's first request.
    this.#sendHealth(worker);
    const reply = await replied;
    if (reply.act === 'ack' && reply.error) throw new Error(`worker ${info.pid} rejected epoch ${snapshot.epoch}: ${reply.error.message}`);
    info.epoch = snapshot.epoch;
    await listening;
    log('info', 'worker listening', { pid: info.pid, epoch: info.epoch });
    this.#opts.onChange?.();
  }

  #freeSlot(): number {
    const held = new Set([...this.#workers.values()].filter((w) => !w.info.retiring).map((w) => w.slot));
    let slot = 0;
    while (held.has(slot)) slot++;
    return slot;
  }

  #retire(worker: ClusterWorker, graceMs: number, deadlineMs: number): Promise<void> {
    const entry = this.#workers.get(worker.id);
    if (entry) entry.info.retiring = true;
    return new Promise((resolve) => {
      if (worker.isDead()) { resolve(); return; }
      const kill = setTimeout(() => {
        log('warn', 'worker missed the drain deadline; killing it', { pid: worker.process.pid });
        worker.process.kill('SIGKILL');
      }, deadlineMs + 1_000);
      worker.once('exit', () => { clearTimeout(kill); resolve(); });
      this.#send(worker, { cmd: CMD, act: 'drain', seq: ++this.#seq, graceMs, deadlineMs });
    });
  }

  #onExit(worker: ClusterWorker, info: WorkerInfo, code: number | null, signal: string | null): void {
    this.#workers.delete(worker.id);
    this.#readyIds.delete(worker.id);
    this.#opts.onExit?.(worker.id);
    for (const [seq, p] of this.#pending) {
      if ((p as Pending & { workerId?: number }).workerId === worker.id) { clearTimeout(p.timer); this.#pending.delete(seq); p.reject(new Error(`worker ${info.pid} exited`)); }
    }
    this.#opts.onChange?.();
    if (this.#stopping || info.retiring || this.#starting) return;
    const now = Date.now();
    this.#crashTimes = this.#crashTimes.filter((t) => now - t < CRASH_WINDOW_MS);
    this.#crashTimes.push(now);
    this.#restarts++;
    const crashes = this.#crashTimes.length;
    const delay = crashes > CRASHES_BEFORE_BACKOFF ? Math.min(MAX_BACKOFF_MS, 100 * 2 ** (crashes - CRASHES_BEFORE_BACKOFF)) : 0;
    this.#backoffUntil = now + delay;
    log(delay ? 'error' : 'warn', delay ? 'worker keeps crashing; restarting with backoff' : 'worker died; replacing it', { pid: info.pid, code, signal, crashesInWindow: crashes, backoffMs: delay });
    setTimeout(() => {
      if (this.#stopping) return;
      this.#spawn().catch((err) => log('error', 'replacement worker failed to start', { err }));
    }, delay).unref();
  }

  /** what /status shows about crash loops: recent unexpected exits and the current respawn delay */
  crashLoop(): CrashLoopState {
    const now = Date.now();
    return {
      crashesInWindow: this.#crashTimes.filter((t) => now - t < CRASH_WINDOW_MS).length,
      windowMs: CRASH_WINDOW_MS,
      backoffRemainingMs: Math.max(0, this.#backoffUntil - now),
    };
  }

  /**
   * Sends endpoint health to every worker that is not retiring, and to every worker forked from
   * now on. Health is not part of the snapshot: a flap never rebuilds tables (protocol.ts).
   */
  setHealth(generation: number, unhealthy: readonly string[]): void {
    this.#health = { generation, unhealthy };
    // A worker not yet 'ready' would drop the message; #spawn sends it the latest after its snapshot.
    for (const { worker, info } of this.#workers.values()) if (!info.retiring && this.#readyIds.has(worker.id)) this.#sendHealth(worker);
  }

  #sendHealth(worker: ClusterWorker): void {
    const h = this.#health;
    if (h === null) return;
    this.#request(worker, { cmd: CMD, act: 'health', seq: 0, generation: h.generation, unhealthy: h.unhealthy }).catch((err: unknown) =>
      log('warn', 'worker did not ack endpoint health', { pid: worker.process.pid, generation: h.generation, err }),
    );
  }

  #onMessage(msg: unknown): void {
    if (isOurs(msg) && msg.act === 'outcomes') {
      this.#opts.onOutcomes?.(msg);
      return;
    }
    if (!isOurs(msg) || !('seq' in msg)) return;
    if (msg.act !== 'ack' && msg.act !== 'pong' && msg.act !== 'statsReply') return;
    const p = this.#pending.get(msg.seq);
    if (!p) return;
    clearTimeout(p.timer);
    this.#pending.delete(msg.seq);
    p.resolve(msg as ToPrimary);
  }

  /** Workers that can hear a message (their listener is installed), retiring ones included: they still hold what they were lent. */
  reachable(): number[] {
    return [...this.#workers.values()].filter(({ worker }) => this.#readyIds.has(worker.id) && worker.isConnected()).map(({ worker }) => worker.id);
  }

  /** One message to one worker, no reply expected (lease traffic). */
  tell(workerId: number, msg: ToWorker): void {
    const entry = this.#workers.get(workerId);
    if (entry !== undefined) this.#send(entry.worker, msg);
  }

  /** Sends one request to a worker and resolves with its reply (paired by seq). */
  request(workerId: number, msg: RequestMsg, timeoutMs = ACK_TIMEOUT_MS): Promise<ToPrimary> {
    const entry = this.#workers.get(workerId);
    if (!entry) return Promise.reject(new Error(`no worker ${workerId}`));
    return this.#request(entry.worker, msg, timeoutMs);
  }

  #request(worker: ClusterWorker, msg: RequestMsg, timeoutMs = ACK_TIMEOUT_MS): Promise<ToPrimary> {
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(seq);
        reject(new Error(`worker ${worker.process.pid} did not answer '${msg.act}' within ${timeoutMs} ms`));
      }, timeoutMs);
      const pending: Pending & { workerId: number } = { resolve, reject, timer, workerId: worker.id };
      this.#pending.set(seq, pending);
      this.#send(worker, { ...msg, seq });
    });
  }

  #send(worker: ClusterWorker, msg: ToWorker): void {
    if (worker.isConnected()) worker.send(msg);
  }
}
