// Active HTTP health checks, run once by the primary for every endpoint of the snapshot (not once
// per worker), with HAProxy's hysteresis: an endpoint goes down after `fall` consecutive failed
// checks and comes back after `rise` consecutive good ones (HAProxy `inter`/`fall`/`rise`). An
// endpoint shared by several subsets is checked once: health belongs to "address:port". An
// endpoint whose subset speaks TLS (DestinationRule tls) is checked over TLS with the same trust,
// client certificate and SNI as the workers' requests (upstream-tls.ts): a check over plaintext
// would fail against a TLS-only backend, or pass for one whose certificate requests would refuse.
import http from 'node:http';
import https from 'node:https';
import type { Snapshot, UpstreamTls } from '../snapshot/types.js';
import { buildUpstreamTlsOptionsOnce, readUpstreamServername } from '../upstream-tls.js';

export interface HealthCheckOptions {
  /** request path, e.g. /healthz */
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** consecutive good checks that bring a down endpoint back */
  readonly rise: number;
  /** consecutive failed checks that take an up endpoint down */
  readonly fall: number;
}

/** HAProxy's defaults: inter 2s, rise 2, fall 3; a check may not outlive its interval. */
export const DEFAULT_HEALTH_INTERVAL_MS = 2_000;
export const DEFAULT_HEALTH_TIMEOUT_MS = 1_000;
export const DEFAULT_HEALTH_RISE = 2;
export const DEFAULT_HEALTH_FALL = 3;

/** What `stickyd run --health-*` gives: a path, and whichever of the rest were set. */
export interface HealthCheckFlags {
  readonly path: string;
  readonly intervalMs?: number | undefined;
  readonly timeoutMs?: number | undefined;
  readonly rise?: number | undefined;
  readonly fall?: number | undefined;
}

/** Fills in HAProxy's defaults; a check's timeout never exceeds its interval (HAProxy: timeout check <= inter). */
export function resolveHealthCheck(flags: HealthCheckFlags): HealthCheckOptions {
  const intervalMs = flags.intervalMs ?? DEFAULT_HEALTH_INTERVAL_MS;
  return {
    path: flags.path.startsWith('/') ? flags.path : `/${flags.path}`,
    intervalMs,
    timeoutMs: Math.min(flags.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS, intervalMs),
    rise: flags.rise ?? DEFAULT_HEALTH_RISE,
    fall: flags.fall ?? DEFAULT_HEALTH_FALL,
  };
}

interface Target {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  /** Host header: the service host of the first subset that names the endpoint */
  readonly host: string;
  /** the first subset's tls, refreshed on every update (a reload may change it) */
  tls: UpstreamTls | null;
  up: boolean;
  /** consecutive results against the current state (failures while up, successes while down) */
  streak: number;
  timer: NodeJS.Timeout | null;
  request: http.ClientRequest | null;
  lastError: string | null;
}

export class HealthChecker {
  readonly #opts: HealthCheckOptions;
  readonly #onChange: (id: string, up: boolean, reason: string) => void;
  readonly #targets = new Map<string, Target>();
  #stopped = false;

  /** `onChange` runs on every up/down transition. */
  constructor(opts: HealthCheckOptions, onChange: (id: string, up: boolean, reason: string) => void) {
    this.#opts = opts;
    this.#onChange = onChange;
  }

  /** Endpoint ids currently failing their checks. */
  down(): Set<string> {
    const out = new Set<string>();
    for (const t of this.#targets.values()) if (!t.up) out.add(t.id);
    return out;
  }

  /**
   * Checks every endpoint of `snapshot`: new endpoints start up (as HAProxy's servers do, so a
   * start or reload never refuses traffic before the first round) and keep their state across
   * reloads; endpoints that left stop being checked.
   */
  update(snapshot: Snapshot): void {
    const wanted = new Map<string, { address: string; port: number; host: string; tls: UpstreamTls | null }>();
    for (const s of snapshot.subsets) {
      for (const e of s.endpoints) if (!wanted.has(e.id)) wanted.set(e.id, { address: e.address, port: e.port, host: s.host, tls: s.tls ?? null });
    }
    for (const [id, t] of this.#targets) {
      const w = wanted.get(id);
      if (w !== undefined) {
        t.tls = w.tls;
        continue;
      }
      this.#cancel(t);
      this.#targets.delete(id);
    }
    let i = 0;
    for (const [id, w] of wanted) {
      if (this.#targets.has(id)) continue;
      const t: Target = { id, ...w, up: true, streak: 0, timer: null, request: null, lastError: null };
      this.#targets.set(id, t);
      // Spread the first round over one interval so N endpoints are not checked in one burst.
      this.#schedule(t, Math.floor((this.#opts.intervalMs * i++) / Math.max(1, wanted.size)));
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#targets.values()) this.#cancel(t);
  }

  status(): { id: string; up: boolean; lastError: string | null }[] {
    return [...this.#targets.values()].map((t) => ({ id: t.id, up: t.up, lastError: t.lastError }));
  }

  #schedule(t: Target, delayMs: number): void {
    if (this.#stopped) return;
    t.timer = setTimeout(() => this.#check(t), delayMs);
    t.timer.unref();
  }

  #check(t: Target): void {
    t.timer = null;
    let settled = false;
    const done = (ok: boolean, reason: string): void => {
      if (settled) return;
      settled = true;
      t.request = null;
      if (this.#targets.get(t.id) !== t) return; // removed meanwhile
      this.#record(t, ok, reason);
      this.#schedule(t, this.#opts.intervalMs);
    };
    const options = {
      host: t.address, port: t.port, path: this.#opts.path, method: 'GET', agent: false,
      headers: { host: t.host, 'user-agent': 'stickyd-health-check', connection: 'close' },
    } as const;
    const tls = t.tls;
    const req = tls === null
      ? http.request(options)
      : https.request({ ...options, ...buildUpstreamTlsOptionsOnce(tls), servername: readUpstreamServername(tls, t.host) });
    t.request = req;
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${this.#opts.timeoutMs} ms`)), this.#opts.timeoutMs);
    req.on('response', (res) => {
      clearTimeout(timer);
      res.resume();
      const status = res.statusCode ?? 0;
      // HAProxy's httpchk: 2xx and 3xx pass.
      done(status >= 200 && status < 400, `HTTP ${status}`);
      req.destroy();
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      done(false, (err as NodeJS.ErrnoException).code ?? err.message);
    });
    req.end();
  }

  #record(t: Target, ok: boolean, reason: string): void {
    if (!ok) t.lastError = reason;
    if (ok === t.up) {
      t.streak = 0;
      return;
    }
    t.streak++;
    if (t.streak < (t.up ? this.#opts.fall : this.#opts.rise)) return;
    t.up = !t.up;
    t.streak = 0;
    this.#onChange(t.id, t.up, reason);
  }

  #cancel(t: Target): void {
    if (t.timer !== null) clearTimeout(t.timer);
    t.timer = null;
    t.request?.destroy();
    t.request = null;
  }
}
