// The primary's boot order: load config -> build tables (piscina) -> fork workers with the
// snapshot -> admin listener -> READY=1. It owns the signals: SIGHUP reloads, SIGUSR2 replaces
// workers one by one, SIGTERM/SIGINT drain and exit. It never reads a request byte.
import { writeFile, rm } from 'node:fs/promises';
import { ConfigError, formatIssue } from '../errors.js';
import { log, setLogBase } from '../log.js';
import type { AccessLogSpec, LeaseFromWorker } from '../protocol.js';
import type { ProxySettings, Snapshot } from '../snapshot/types.js';
import { startAdmin } from '../admin/server.js';
import { buildAdminRoutes } from '../admin/routes.js';
import { prepareResolving, TableBuilder } from './builder.js';
import { buildResolve, DnsResolver } from './dns-resolver.js';
import { Supervisor } from './supervisor.js';
import { Reloader } from './reloader.js';
import { Notifier } from './notify.js';
import { StatsCollector } from './stats-collector.js';
import { HealthMonitor } from './health.js';
import { LeaseLedger } from './lease-ledger.js';
import { resolveHealthCheck, type HealthCheckFlags } from './health-checker.js';
import { ListenError, describeListenError, RUN_FLAGS, type ListenFlags } from './listen-error.js';
import { listenSpecs, type HostPort, type ListenOverride } from './listen-specs.js';

/** A contention round not answered by every worker within this is settled without them (lease-ledger.ts). */
const LEASE_ROUND_MS = 1_000;

export interface RunOptions {
  readonly configPath: string;
  readonly listen: ListenOverride | null;
  readonly workers: number;
  readonly admin: HostPort | null;
  readonly settings: Partial<ProxySettings>;
  /** --session-key-file; null or absent: the default place (session-keys.ts) */
  readonly sessionKeyFile?: string | null;
  readonly pidFile?: string | null;
  readonly workerScript: string;
  readonly workerArgs: readonly string[];
  /** access log on/off and sampling, for every worker's life (default: on, every request) */
  readonly accessLog?: AccessLogSpec;
  /** active HTTP health checks (--health-path and friends); absent or null: none */
  readonly healthCheck?: HealthCheckFlags | null;
  /** --dns-server host:port: resolve ServiceEntry host names there only; absent or null: the system's resolvers */
  readonly dnsServer?: string | null;
}

/** how long a draining worker keeps idle keep-alive sockets open before closing them (docs/reliability.md, Draining a worker) */
const DRAIN_IDLE_GRACE_MS = 1_000;
const HEARTBEAT_INTERVAL_MS = 1_000;
const HEARTBEAT_TIMEOUT_MS = 5_000;
/** how long a stopping primary waits for its last sd_notify helper (STOPPING=1) to finish */
const NOTIFY_SETTLE_MS = 2_000;

export async function runPrimary(opts: RunOptions, signals: { onHup(fn: () => void): void }): Promise<void> {
  setLogBase({ role: 'primary', pid: process.pid });
  const notifier = new Notifier();
  const builder = new TableBuilder();
  const dns = new DnsResolver(buildResolve(opts.dnsServer ?? null));
  let first: Snapshot;
  try {
    const prepared = await prepareResolving(builder, dns, opts.configPath, opts.settings, 1, opts.sessionKeyFile ?? null);
    for (const w of prepared.warnings) log('warn', 'config warning', { where: formatIssue(w) });
    first = prepared.snapshot;
  } catch (err) {
    dns.stop();
    await builder.close();
    throw err;
  }
  const listen = listenSpecs(first, opts.listen);
  let reloader: Reloader | null = null;
  const statusLine = (): string => {
    const last = reloader?.last;
    const err = last && !last.ok ? `; last reload failed: ${last.error}` : '';
    return `generation ${reloader?.generation ?? first.epoch}, ${supervisor.workers().filter((w) => w.listening && !w.retiring).length} workers${err}`;
  };
  const startedAt = Date.now();
  const collector = new StatsCollector();
  const health = new HealthMonitor(
    opts.healthCheck ? resolveHealthCheck(opts.healthCheck) : null,
    (generation, unhealthy) => supervisor.setHealth(generation, unhealthy),
  );
  const leases = new LeaseLedger({ workers: () => supervisor.reachable(), send: (id, m) => supervisor.tell(id, m) });
  let leaseRoundTimer: NodeJS.Timeout | null = null;
  const onLease = (id: number, m: LeaseFromWorker): void => {
    if (m.act === 'leaseWant') leases.want(id, m.key, m.limit, m.n);
    else if (m.act === 'leaseCancel') leases.cancel(id, m.key, m.n);
    else leases.giveBack(id, m.key, m.n, m.round);
    armLeaseRound();
  };
  /** Any ledger call may open a contention round: it is settled within LEASE_ROUND_MS whoever answers. */
  const armLeaseRound = (): void => {
    if (!leases.awaiting || leaseRoundTimer !== null) return;
    leaseRoundTimer = setTimeout(() => { leaseRoundTimer = null; leases.expireRounds(); armLeaseRound(); }, LEASE_ROUND_MS);
    leaseRoundTimer.unref();
  };
  const supervisor = new Supervisor({
    onLease,
    onSnapshot: (s) => health.update(s),
    onOutcomes: (m) => health.observe(m.outcomes),
    count: opts.workers, listen, workerScript: opts.workerScript, workerArgs: opts.workerArgs,
    ...(opts.accessLog ? { accessLog: opts.accessLog } : {}),
    onFinalStats: (id, stats) => collector.final(id, stats),
    onExit: (id) => { collector.exited(id); leases.exited(id); armLeaseRound(); },
  });
  reloader = new Reloader({
    configPath: opts.configPath, settings: opts.settings, sessionKeyFile: opts.sessionKeyFile ?? null, builder, supervisor, listen: opts.listen, dns,
    onStart: () => { void notifier.reloading(); },
    onDone: () => { void notifier.ready(statusLine()); },
  });
  const rl = reloader;

  let admin: Awaited<ReturnType<typeof startAdmin>> | null = null;
  try {
    await supervisor.start(first);
    if (opts.admin) {
      const routes = buildAdminRoutes({ supervisor, reloader: rl, scrape: () => collector.collect(supervisor), health, startedAt, dns, leases });
      admin = await startAdminListener(opts.admin, routes);
    }
  } catch (err) {
    // Nothing served yet: take the workers and the build threads down, then say why (cli.ts).
    health.stop();
    dns.stop();
    await supervisor.abort();
    await builder.close();
    throw err;
  }
  reloader.setApplied(first);
  dns.onChange = () => { void rl.requestEndpoints(); };
  // only now: a SIGHUP queued during startup reloads on top of the first generation
  signals.onHup(() => { void rl.request(); });
  supervisor.startHeartbeat(HEARTBEAT_INTERVAL_MS, HEARTBEAT_TIMEOUT_MS);

  if (opts.pidFile) await writeFile(opts.pidFile, `${process.pid}\n`);

  let restarting = false;
  process.on('SIGUSR2', () => {
    if (restarting) return;
    restarting = true;
    log('info', 'rolling worker restart');
    supervisor.rollingRestart(DRAIN_IDLE_GRACE_MS, first.settings.drainTimeoutMs)
      .then(() => log('info', 'rolling worker restart done', { workers: supervisor.workers().map((w) => w.pid) }))
      .catch((err) => log('error', 'rolling worker restart failed', { err }))
      .finally(() => { restarting = false; });
  });

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    const drainMs = first.settings.drainTimeoutMs;
    log('info', 'draining', { signal, drainTimeoutMs: drainMs });
    notifier.stopWatchdog();
    health.stop();
    dns.stop();
    void notifier.stopping();
    admin?.server.close();
    admin?.server.closeAllConnections();
    supervisor.stop(Math.min(DRAIN_IDLE_GRACE_MS, drainMs), drainMs)
      .then(() => builder.close())
      .then(() => (opts.pidFile ? rm(opts.pidFile, { force: true }) : undefined))
      // a helper still running when we exit would be SIGKILLed by systemd with the rest of the cgroup
      .then(() => notifier.settled(NOTIFY_SETTLE_MS))
      .then(() => { log('info', 'stopped', { signal }); process.exit(0); })
      .catch((err) => { log('error', 'stop failed', { err }); process.exit(1); });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  const addresses = supervisor.workers()[0]?.addresses ?? listen;
  log('info', 'ready', {
    epoch: first.epoch,
    workers: supervisor.workers().map((w) => w.pid),
    listen: addresses.map((a) => `${a.host}:${a.port}`),
    listenPorts: addresses.map((a) => a.port),
    admin: admin ? `${opts.admin?.host}:${admin.port}` : null,
    adminPort: admin?.port ?? null,
  });
  await notifier.ready(statusLine());
  notifier.startWatchdog(() => supervisor.healthy(HEARTBEAT_TIMEOUT_MS));
}

async function startAdminListener(at: HostPort, routes: Parameters<typeof startAdmin>[2]): ReturnType<typeof startAdmin> {
  try {
    return await startAdmin(at.host, at.port, routes);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code === 'string' && e.syscall === 'listen') throw new ListenError('admin', e.code, at.host, at.port, e.message);
    throw err;
  }
}

/** What `stickyd run` (and the demo, with its own flags) prints when startup fails: one line per item. */
export function describeStartupError(err: unknown, flags: ListenFlags = RUN_FLAGS): string[] {
  if (err instanceof ListenError) return [describeListenError(err, flags)];
  if (err instanceof ConfigError) return err.issues.map(formatIssue);
  if (err instanceof Error) return [err.message];
  return [String(err)];
}
