// SIGHUP reloads: re-read the same config path, validate, build tables off the main thread and
// publish to every worker. Reloads that arrive while one runs are coalesced into one more run,
// never lost; a config that fails keeps the old generation serving.
import type { ReloaderStatus, ReloadResult } from '../daemon-view.js';
import { ConfigError, formatIssue } from '../errors.js';
import { log } from '../log.js';
import type { ProxySettings, Snapshot } from '../snapshot/types.js';
import type { TableBuilder } from './builder.js';
import type { Supervisor } from './supervisor.js';
import { listenSpecs, type ListenOverride } from './listen-specs.js';

export interface ReloaderDeps {
  readonly configPath: string;
  readonly settings: Partial<ProxySettings>;
  /** --session-key-file, re-read on every reload (rotation: a new first key, the old kept); null = the default place */
  readonly sessionKeyFile?: string | null;
  /** only what a reload uses, so the unit tests can pass fakes */
  readonly builder: Pick<TableBuilder, 'prepare'>;
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

  constructor(deps: ReloaderDeps) { this.#deps = deps; }

  setApplied(s: Snapshot): void { this.#applied = s; }
  get last(): ReloadResult | null { return this.#last; }
  get generation(): number { return this.#applied?.epoch ?? 0; }
  /** the snapshot every worker was given last (null before the first) */
  get applied(): Snapshot | null { return this.#applied; }

  /** Asks for a reload; returns the promise of the run that will include this request. */
  request(): Promise<void> {
    this.#requests++;
    if (this.#running) { this.#again = true; return this.#running; }
    this.#running = this.#loop().finally(() => { this.#running = null; });
    return this.#running;
  }

  async #loop(): Promise<void> {
    this.#deps.onStart?.();
    do {
      this.#again = false;
      await this.#once();
    } while (this.#again);
    this.#deps.onDone?.();
  }

  async #once(): Promise<void> {
    const covers = this.#requests;
    const prev = this.#applied;
    const epoch = (prev?.epoch ?? 0) + 1;
    const at = new Date().toISOString();
    log('info', 'reload started', { epoch });
    try {
      const prepared = await this.#deps.builder.prepare(this.#deps.configPath, this.#deps.settings, epoch, this.#deps.sessionKeyFile ?? null);
      for (const w of prepared.warnings) log('warn', 'config warning', { where: formatIssue(w) });
      const next = prepared.snapshot;
      const describe = (s: typeof next): string => listenSpecs(s, this.#deps.listen).map((l) => `${l.host}:${l.port}${l.tls === 'off' ? '' : ` (TLS${l.tls === 'mutual' ? ', client certificates' : ''})`}`).join(',');
      const want = describe(next);
      const have = prev ? describe(prev) : want;
      if (want !== have) throw new Error(`the Gateway ports changed (${have} -> ${want}); listeners change only on restart`);
      await this.#deps.supervisor.publish(next);
      this.#applied = next;
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
