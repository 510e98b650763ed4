// Passive outlier detection (Istio outlierDetection, Envoy's consecutive_5xx and
// consecutive_gateway_failure): workers report per-endpoint outcomes in batches, the primary
// keeps one count per endpoint across every worker and decides ejections, so an endpoint is
// ejected once, not once per worker. An ejected endpoint stays out baseEjectionTime x the number
// of times it has been ejected, and is let back in at the first sweep after that.
import type { EndpointOutcomes } from '../protocol.js';
import type { OutlierPolicy, Snapshot, Subset } from '../snapshot/types.js';

/** Envoy's max_ejection_time default: the multiplier stops growing there (or at baseEjectionTime, if longer). */
export const MAX_EJECTION_TIME_MS = 300_000;

/** Failure times kept per endpoint and kind: enough for any threshold a config sets in practice. */
const MAX_TIMES = 1_024;

interface EndpointState {
  /** the latest success any worker reported (wall-clock ms), and the failures seen after it: the streaks */
  lastOkAt: number;
  fails5xx: number[];
  failsGateway: number[];
  /** Date.now() until which the endpoint is ejected; 0 when it is not */
  ejectedUntil: number;
  /** times ejected; decays by one per sweep interval spent healthy (Envoy) */
  ejections: number;
  /** times ejected since the daemon started (metrics) */
  total: number;
}

export type EjectionChange = (id: string, ejected: boolean, reason: string) => void;

export class OutlierDetector {
  readonly #onChange: EjectionChange;
  readonly #now: () => number;
  readonly #state = new Map<string, EndpointState>();
  #snapshot: Snapshot | null = null;
  #sweep: NodeJS.Timeout | null = null;
  #sweepMs = 0;

  constructor(onChange: EjectionChange, now: () => number = Date.now) {
    this.#onChange = onChange;
    this.#now = now;
  }

  /** Endpoint ids ejected now. */
  ejected(): Set<string> {
    const out = new Set<string>();
    for (const [id, s] of this.#state) if (s.ejectedUntil !== 0) out.add(id);
    return out;
  }

  /** Adopts a snapshot: endpoints that left are forgotten; the sweep runs at the shortest policy interval. */
  update(snapshot: Snapshot): void {
    this.#snapshot = snapshot;
    const present = new Set<string>();
    let interval = Infinity;
    for (const s of snapshot.subsets) {
      if (s.outlier) interval = Math.min(interval, s.outlier.intervalMs);
      for (const e of s.endpoints) present.add(e.id);
    }
    for (const id of this.#state.keys()) if (!present.has(id)) this.#state.delete(id);
    const ms = Number.isFinite(interval) ? interval : 0;
    if (ms !== this.#sweepMs) {
      if (this.#sweep !== null) clearInterval(this.#sweep);
      this.#sweep = ms > 0 ? setInterval(() => this.sweep(), ms) : null;
      this.#sweep?.unref();
      this.#sweepMs = ms;
    }
  }

  /** One worker's batch. Reports from another epoch than the current snapshot are dropped. */
  observe(outcomes: readonly EndpointOutcomes[]): void {
    const snapshot = this.#snapshot;
    if (snapshot === null) return;
    for (const o of outcomes) {
      const subset = snapshot.subsets[o.subset];
      if (o.epoch !== snapshot.epoch || subset === undefined || !subset.outlier) continue;
      const s = this.#stateOf(o.endpoint);
      this.#merge(s, o.ok > 0 ? o.okAt : 0, o.at5xx, o.atGateway);
      if (s.ejectedUntil !== 0) continue;
      const p = subset.outlier;
      if (p.consecutive5xxErrors > 0 && s.fails5xx.length >= p.consecutive5xxErrors) this.#eject(o.endpoint, s, subset, p, `${s.fails5xx.length} consecutive 5xx`);
      else if (p.consecutiveGatewayErrors > 0 && s.failsGateway.length >= p.consecutiveGatewayErrors) this.#eject(o.endpoint, s, subset, p, `${s.failsGateway.length} consecutive gateway errors`);
    }
  }

  /**
   * Orders a timed report against what other workers reported: the streak is every failure seen
   * after the latest success anyone saw, so a success one worker saw before another's failures
   * does not end them (batches from different workers arrive in any order).
   */
  #merge(s: EndpointState, okAt: number, at5xx: readonly number[], atGateway: readonly number[]): void {
    if (okAt > s.lastOkAt) {
      s.lastOkAt = okAt;
      s.fails5xx = s.fails5xx.filter((t) => t > okAt);
      s.failsGateway = s.failsGateway.filter((t) => t > okAt);
    }
    const after = s.lastOkAt;
    for (const t of at5xx) if (t > after) s.fails5xx.push(t);
    for (const t of atGateway) if (t > after) s.failsGateway.push(t);
    if (s.fails5xx.length > MAX_TIMES) s.fails5xx = s.fails5xx.sort((a, b) => a - b).slice(-MAX_TIMES);
    if (s.failsGateway.length > MAX_TIMES) s.failsGateway = s.failsGateway.sort((a, b) => a - b).slice(-MAX_TIMES);
  }

  /** Lets back every endpoint whose ejection ran out; decays the multiplier of healthy ones. */
  sweep(): void {
    const now = this.#now();
    for (const [id, s] of this.#state) {
      if (s.ejectedUntil === 0) {
        if (s.ejections > 0) s.ejections--;
      } else if (now >= s.ejectedUntil) {
        s.ejectedUntil = 0;
        // the streak starts over at the return: failures reported late from before it do not count
        s.lastOkAt = Math.max(s.lastOkAt, now);
        s.fails5xx = [];
        s.failsGateway = [];
        this.#onChange(id, false, 'ejection time elapsed');
      }
    }
  }

  totalEjections(id: string): number {
    return this.#state.get(id)?.total ?? 0;
  }

  stop(): void {
    if (this.#sweep !== null) clearInterval(this.#sweep);
    this.#sweep = null;
    this.#sweepMs = 0;
  }

  status(): { id: string; ejectedForMs: number; ejections: number; consecutive5xx: number; consecutiveGateway: number }[] {
    const now = this.#now();
    return [...this.#state].map(([id, s]) => ({
      id,
      ejectedForMs: s.ejectedUntil === 0 ? 0 : Math.max(0, s.ejectedUntil - now),
      ejections: s.ejections,
      consecutive5xx: s.fails5xx.length,
      consecutiveGateway: s.failsGateway.length,
    }));
  }

  /**
   * The share ejected after this ejection may not exceed maxEjectionPercent, except that one
   * endpoint may always go (Envoy: "defaults to 10% but will eject at least one host regardless
   * of the value"); 0 % ejects nothing.
   */
  #eject(id: string, s: EndpointState, subset: Subset, p: OutlierPolicy, reason: string): void {
    let ejected = 0;
    for (const e of subset.endpoints) if ((this.#state.get(e.id)?.ejectedUntil ?? 0) !== 0) ejected++;
    const within = (ejected + 1) * 100 <= p.maxEjectionPercent * subset.endpoints.length;
    if (p.maxEjectionPercent === 0 || (!within && ejected > 0)) return;
    s.ejections++;
    s.total++;
    s.ejectedUntil = this.#now() + Math.min(Math.max(MAX_EJECTION_TIME_MS, p.baseEjectionTimeMs), p.baseEjectionTimeMs * s.ejections);
    this.#onChange(id, true, `${reason} via ${subset.name}`);
  }

  #stateOf(id: string): EndpointState {
    let s = this.#state.get(id);
    if (s === undefined) {
      s = { lastOkAt: 0, fails5xx: [], failsGateway: [], ejectedUntil: 0, ejections: 0, total: 0 };
      this.#state.set(id, s);
    }
    return s;
  }
}
