// VirtualService http[] -> Routes, in order (first match wins), destinations as subset ids.
import type { Route } from '../../snapshot/types.js';
import type { HttpRouteRes, VirtualServiceRes } from '../resources.js';
import type { SubsetCollector } from './subsets.js';

/** Routes with subset keys, before subset ids exist. */
export interface PendingRoute {
  readonly route: HttpRouteRes;
  readonly keys: readonly string[];
}

/** Resolves every destination of a VirtualService; null for a route with an unresolvable one. */
export function resolveRoutes(vs: VirtualServiceRes, subsets: SubsetCollector): (PendingRoute | null)[] {
  return vs.http.map((route) => {
    const keys = route.destinations.map((d) => subsets.resolve(d));
    return keys.every((k): k is string => k !== null) ? { route, keys } : null;
  });
}

export function buildRoute(p: PendingRoute, ids: ReadonlyMap<string, number>): Route {
  const destinations = p.route.destinations.map((d, i) => ({ subset: ids.get(p.keys[i] as string) as number, weight: d.weight }));
  return {
    name: p.route.name,
    matches: p.route.matches,
    destinations,
    totalWeight: destinations.reduce((sum, d) => sum + d.weight, 0),
    timeoutMs: p.route.timeoutMs,
    retries: p.route.retries,
  };
}
