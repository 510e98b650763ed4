// Which of a route's mirrors a request is copied to, and to which endpoint of each: decided with
// the request's routing, against the same snapshot and health view, so a mirror subset balances
// and sticks by its own DestinationRule as a route destination does. Sending the copies is
// upstream/mirror.ts.
import type { RequestHead } from '../downstream/request-head.js';
import type { HealthView } from './health-state.js';
import type { RuntimeRoute, RuntimeSnapshot, RuntimeSubset } from './runtime-snapshot.js';
import { selectEndpoint } from './select-endpoint.js';
import { readRequestHashKey } from './sticky.js';

export interface MirrorTarget {
  readonly subset: RuntimeSubset;
  /** index into subset.endpoints; -1 when none of them is available */
  readonly index: number;
}

/**
 * The mirrors this request goes to, each drawn at its percentage (Envoy's runtime_fraction, one
 * draw per mirror); null when none. A mirror never mints a session: a request without the mirror
 * subset's key is balanced by its picker.
 */
export function selectMirrorTargets(rt: RuntimeSnapshot, route: RuntimeRoute, req: RequestHead, health: HealthView): MirrorTarget[] | null {
  const mirrors = route.mirrors;
  if (mirrors === null) return null;
  let out: MirrorTarget[] | null = null;
  for (const m of mirrors) {
    if (m.percent < 100 && rt.random() * 100 >= m.percent) continue;
    const subset = m.subset;
    const key = subset.hashKey === null ? null : readRequestHashKey(subset.hashKey, req, rt.settings.maxKeyLength);
    const index = selectEndpoint(rt, subset, key, health.down[subset.id] ?? null);
    (out ??= []).push({ subset, index });
  }
  return out;
}
