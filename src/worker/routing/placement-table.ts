// A subset's new-session placement state, built once per snapshot beside its other tables
// (runtime-snapshot.ts); placement.ts reads it per request. Apart from placement.ts so the
// runtime snapshot can hold it without importing the select side.

/** Per-subset placement state built once per snapshot (RuntimeSubset.placement). */
export interface Placement {
  /** 1 = labelled draining; null when no endpoint of the subset drains */
  readonly draining: Uint8Array | null;
  /** stickyd.io/hash-balance-factor in percent; 0 = unbounded */
  readonly balanceFactor: number;
  /** active requests per endpoint in this worker (picker start/finish); null when unbounded */
  readonly active: Int32Array | null;
  /** down | draining, memoised for the last health mask seen (health masks change per generation) */
  lastDown: Uint8Array | null | undefined;
  lastMask: Uint8Array | null;
}

export function buildPlacement(subset: { readonly endpoints: readonly { readonly draining?: boolean }[]; readonly balanceFactor?: number | null }): Placement {
  const n = subset.endpoints.length;
  const anyDraining = subset.endpoints.some((e) => e.draining === true);
  const factor = subset.balanceFactor ?? 0;
  return {
    draining: anyDraining ? Uint8Array.from(subset.endpoints, (e) => (e.draining === true ? 1 : 0)) : null,
    balanceFactor: factor,
    active: factor > 0 ? new Int32Array(n) : null,
    lastDown: undefined,
    lastMask: null,
  };
}

