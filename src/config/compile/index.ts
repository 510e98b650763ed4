// Validated resources -> the routing part of a Snapshot (listeners and subsets, tables null).
import type { Listener, Route, Subset } from '../../snapshot/types.js';
import type { IssueSink } from '../issues.js';
import type { CertificateLoader } from '../certificates.js';
import type { Resources, VirtualServiceRes } from '../resources.js';
import { buildListeners } from './listeners.js';
import { buildDestinations, buildRoute, resolveRoutes, type ListenerContext, type PendingRoute } from './routes.js';
import { checkSessionSplit } from './session-split.js';
import { SubsetCollector } from './subsets.js';
import { mergeDelegates } from './delegates.js';

export interface Compiled {
  readonly listeners: Listener[];
  readonly subsets: Subset[];
}

export function compileResources(sink: IssueSink, given: Resources, configPath: string, certs: CertificateLoader): Compiled {
  // delegate VirtualServices are merged into their roots first: from here on there are only roots
  const res: Resources = { ...given, virtualServices: mergeDelegates(sink, given.virtualServices) };
  const collector = new SubsetCollector(sink, res, certs);
  const pending = new Map<VirtualServiceRes, (PendingRoute | null)[]>(res.virtualServices.map((vs) => [vs, resolveRoutes(vs, collector)]));
  const { subsets, ids } = collector.finish();
  for (const routes of pending.values()) {
    for (const p of routes) if (p !== null) checkSessionSplit(sink, p.route.destinations, buildDestinations(p, ids), subsets);
  }
  const routesOf = (vs: VirtualServiceRes, ctx: ListenerContext): Route[] =>
    (pending.get(vs) ?? []).filter((p): p is PendingRoute => p !== null).flatMap((p) => buildRoute(p, ids, subsets, ctx) ?? []);
  const listeners = buildListeners(sink, res, routesOf, certs);
  if (res.gateways.length === 0) sink.errorGlobal(configPath, 'no Gateway: stickyd would listen on no port');
  return { listeners, subsets };
}
