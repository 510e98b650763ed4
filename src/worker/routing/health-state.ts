// Endpoint health beside the RuntimeSnapshot, never inside it (pingora, Envoy): the primary sends
// the unhealthy endpoint ids in a small `health` message and the worker turns them into one
// availability mask per subset of the snapshot it serves. Tables are never rebuilt for health;
// selection walks past unavailable endpoints (balancing/walk.ts).
import type { RuntimeSnapshot } from './runtime-snapshot.js';

export interface HealthView {
  /**
   * Per subset id: null when every endpoint may take traffic (the fast path, no lookup), else a
   * mask over the subset's endpoints where 1 = unhealthy. A subset in panic (fewer healthy than
   * its outlierDetection.minHealthPercent) gets null: Envoy then balances over every endpoint.
   */
  readonly down: readonly (Uint8Array | null)[];
}

const ALL_HEALTHY: HealthView = { down: [] };

export class HealthState {
  #generation = 0;
  #unhealthy: ReadonlySet<string> = new Set();
  #viewFor: RuntimeSnapshot | null = null;
  #view: HealthView = ALL_HEALTHY;

  get generation(): number {
    return this.#generation;
  }

  get unhealthy(): ReadonlySet<string> {
    return this.#unhealthy;
  }

  /** Adopts a health message; false (ignored) when it is older than what the worker holds. */
  apply(generation: number, unhealthy: readonly string[]): boolean {
    if (generation < this.#generation) return false;
    this.#generation = generation;
    this.#unhealthy = new Set(unhealthy);
    this.#viewFor = null;
    return true;
  }

  /** The masks for `rt`, built once per (snapshot, health generation); one compare per request after. */
  view(rt: RuntimeSnapshot): HealthView {
    if (this.#viewFor === rt) return this.#view;
    this.#view = this.#unhealthy.size === 0 ? ALL_HEALTHY : buildView(rt, this.#unhealthy);
    this.#viewFor = rt;
    return this.#view;
  }
}

function buildView(rt: RuntimeSnapshot, unhealthy: ReadonlySet<string>): HealthView {
  const down = rt.subsets.map((s) => {
    const mask = new Uint8Array(s.endpoints.length);
    let healthy = 0;
    s.endpoints.forEach((e, i) => {
      if (unhealthy.has(e.id)) mask[i] = 1;
      else healthy++;
    });
    if (healthy === s.endpoints.length) return null;
    const panicBelow = s.outlier?.minHealthPercent ?? 0;
    return healthy * 100 < panicBelow * s.endpoints.length ? null : mask;
  });
  return { down };
}
