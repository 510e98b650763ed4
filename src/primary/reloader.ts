// SIGHUP reloads: re-read the same config path, validate, build tables off the main thread and
// publish to every worker. Reloads that arrive while one runs are coalesced into one more run,
// never lost; a config that fails keeps the old generation serving.
import type { ReloaderStatus, ReloadResult } from '../daemon-view.js';
import { ConfigError, formatIssue } from '../errors.js';
import { log } from '../log.js';
import type { ProxySettings, Snapshot } from '../snapshot/types.js';
import { prepareResolving, type NameSource, type TableBuilder } from './builder.js';
import { applyResolved, readDnsNames } from '../config/compile/dns-endpoints.js';
import type { Supervisor } from './supervisor.js';
import { listenSpecs, type ListenOverride } from './listen-specs.js';

/** after a DNS rebuild that failed (a build error, a worker refusing the generation), the next try */
const DNS_REBUILD_RETRY_MS = 5_000;

export interface ReloaderDeps {
  readonly configPath: string;
  readonly settings: Partial<ProxySettings>;
  /** --session-key-file, re-read on every reload (rotation: a new first key, the old kept); null = the default place */
  readonly sessionKeyFile?: string | null;
  /** only what a reload uses, so the unit tests can pass fakes */
  readonly builder: Pick<TableBuilder, 'prepare' | 'build'>;
  /** ServiceEntry host names (dns-resolver.ts); absent: a config with host names fails to load */
  readonly dns?: (NameSource & { track(names: readonly string[]): void }) | null;
  readonly supervisor: Pick<Supervisor, 'publish' | 'allReady' | 'workers' | 'restarts' | 'crashLoop'>;
  readonly listen: ListenOverride | null;
  /** sd_notify hooks: RELOADING=1 when a run starts, READY=1 with STATUS when it ends */
  readonly onStart?: () => void;
  readonly onDone?: () => void;
}

export class Reloader {
  readonly #deps: ReloaderDeps;
  #applied: Snapshot | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #last: ReloadResult | null = null;
  #okCount = 0;
  #requests = 0;
  #failCount = 0;
  /** a config reload is asked for (SIGHUP); else a run only rebuilds DNS subsets */
  #wantConfig = false;
  #wantDns = false;
  #dnsRebuilds = 0;

  constructor(deps: ReloaderDeps) { this.#deps = deps; }

  setApplied(s: Snapshot): void {
    this.#applied = s;
    this.#deps.dns?.track(readDnsNames(s));
  }
  get last(): ReloadResult | null { return this.#last; }
  get generation(): number { return this.#applied?.epoch ?? 0; }
  /** the snapshot every worker was given last (null before the first) */
  get applied(): Snapshot | null { return this.#applied; }

  /** Asks for a reload; returns the promise of the run that will include this request. */
  request(): Promise<void> {
    this.#requests++;
    this.#wantConfig = true;
    return this.#kick();
  }

  /**
   * A tracked host name's addresses changed: rebuild the applied snapshot's DNS subsets as a new
   * generation (tables off-thread), without reading the config again. Coalesced like reloads; a
   * config reload in the same run covers it (it uses the current answers).
   */
  requestEndpoints(): Promise<void> {
    this.#wantDns = true;
    return this.#kick();
  }

  #kick(): Promise<void> {
    if (this.#running) { this.#again = true; return this.#running; }
    this.#running = this.#loop().finally(() => { this.#running = null; });
    return this.#running;
  }

  async #loop(): Promise<void> {
    // RELOADING=1 / READY=1 (systemd) frame config reloads only: a DNS answer that moved is not a
    // reload the operator asked for, and `systemctl status` should not flap through "reloading".
    let started = false;
    do {
      this.#again = false;
      if (this.#wantConfig) {
        this.#wantConfig = false;
        this.#wantDns = false;
        if (!started) this.#deps.onStart?.();
        started = true;
        await this.#once();
      } else if (this.#wantDns) {
        this.#wantDns = false;
        await this.#rebuildEndpoints();
      }
    } while (this.#again);
    if (started) this.#deps.onDone?.();
  }

  async #once(): Promise<void> {
    const covers = this.#requests;
    const prev = this.#applied;
    const epoch = (prev?.epoch ?? 0) + 1;
    const at = new Date().toISOString();
    log('info', 'reload started', { epoch });
    try {
      const d = this.#deps;
      const prepared = await prepareResolving(d.builder, d.dns ?? null, d.configPath, d.settings, epoch, d.sessionKeyFile ?? null);
      for (const w of prepared.warnings) log('warn', 'config warning', { where: formatIssue(w) });
      const next = prepared.snapshot;
      const describe = (s: typeof next): string => listenSpecs(s, this.#deps.listen).map((l) => `${l.host}:${l.port}${l.tls === 'off' ? '' : ` (TLS${l.tls === 'mutual' ? ', client certificates' : ''})`}`).join(',');
      const want = describe(next);
      const have = prev ? describe(prev) : want;
      if (want !== have) throw new Error(`the Gateway ports changed (${have} -> ${want}); listeners change only on restart`);
      await this.#deps.supervisor.publish(next);
      this.setApplied(next);
      this.#okCount++;
      this.#last = { ok: true, epoch, at, error: null, covers };
      log('info', 'reload applied', { epoch, configHash: next.configHash, parseMs: Math.round(prepared.parseMs), buildMs: Math.round(prepared.buildMs) });
    } catch (err) {
      this.#failCount++;
      const error = err instanceof ConfigError ? err.issues.map(formatIssue).join('; ') : err instanceof Error ? err.message : String(err);
      this.#last = { ok: false, epoch: prev?.epoch ?? 0, at, error, covers };
      log('error', 'reload failed; the previous generation keeps serving', { epoch: prev?.epoch, error });
    }
  }

  async #rebuildEndpoints(): Promise<void> {
    const prev = this.#applied;
    const dns = this.#deps.dns;
    if (prev === null || dns == null) return;
    const epoch = prev.epoch + 1;
    const changed = applyResolved(prev, dns.resolved(), epoch);
    if (changed === null) return; // the answers moved back, or only for names no subset uses
    try {
      const next = await this.#deps.builder.build(changed);
      await this.#deps.supervisor.publish(next);
      this.#applied = next;
      this.#dnsRebuilds++;
      const subsets = next.subsets.filter((s, i) => s.dns != null && s.endpoints !== prev.subsets[i]?.endpoints);
      log('info', 'dns endpoints applied', { epoch, subsets: subsets.map((s) => ({ subset: s.name, endpoints: s.endpoints.map((e) => e.id) })) });
    } catch (err) {
      // the resolver reports a change once: without a retry here the new addresses would wait for the next change
      log('error', 'dns endpoint rebuild failed; the previous generation keeps serving, retrying', {
        epoch: prev.epoch, retryMs: DNS_REBUILD_RETRY_MS, error: err instanceof Error ? err.message : String(err),
      });
      setTimeout(() => { void this.requestEndpoints(); }, DNS_REBUILD_RETRY_MS).unref();
    }
  }

  /** generations built because a host name's addresses changed */
  get dnsRebuilds(): number { return this.#dnsRebuilds; }

  status(): ReloaderStatus {
    const s = this.#deps.supervisor;
    return {
      generation: this.#applied?.epoch ?? 0,
      configPath: this.#deps.configPath,
      configHash: this.#applied?.configHash ?? null,
      ready: s.allReady(),
      workers: s.workers().map((w) => ({ pid: w.pid, epoch: w.epoch, listening: w.listening, uptimeSec: Math.round((Date.now() - w.startedAt) / 1000) })),
      workerRestarts: s.restarts,
      crashLoop: s.crashLoop(),
      reloads: { ok: this.#okCount, failed: this.#failCount, requested: this.#requests },
      lastReload: this.#last,
    };
  }
}
