// VirtualService http[] -> Routes, in order (first match wins), destinations as subset ids, once
// per listener: a match's port, scheme and gateways depend only on the listener, so they are
// decided here and a worker never sees them. Header edits are flattened into the order Envoy
// applies them, and redirect ports resolved, so a worker only applies what it is given.
import type { HeaderOp, RedirectPlan, Route, RouteDestination, StringMatch, Subset } from '../../snapshot/types.js';
import type { DestinationRef, HeaderBlock, HttpRouteRes, MatchRes, RedirectRes, VirtualServiceRes } from '../resources.js';
import { translateRe2 } from '../regex.js';
import type { SubsetCollector } from './subsets.js';
import { buildSessionSplit } from './session-split.js';

/** Routes with subset keys, before subset ids exist. */
export interface PendingRoute {
  readonly route: HttpRouteRes;
  readonly keys: readonly string[];
  /** the subset key of each mirror, in order */
  readonly mirrorKeys: readonly string[];
}

/** What a listener contributes to route matching. */
export interface ListenerContext {
  readonly port: number;
  /** "http" for plain listeners */
  readonly scheme: string;
  /** the Gateways serving this VirtualService on this port */
  readonly gateways: ReadonlySet<string>;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { http: 80, https: 443 };

/** Resolves every destination of a VirtualService; null for a route with an unresolvable one. */
/** The route's destinations with subset ids, as buildRoute makes them (for checks made once per route). */
export function buildDestinations(p: PendingRoute, ids: ReadonlyMap<string, number>): RouteDestination[] {
  return p.route.destinations.map((d, i) => buildDestination(d, ids.get(p.keys[i] as string) as number, p.route));
}

export function resolveRoutes(vs: VirtualServiceRes, subsets: SubsetCollector): (PendingRoute | null)[] {
  return vs.http.map((route) => {
    const keys = route.destinations.map((d) => subsets.resolve(d));
    // a mirror is resolved like a destination: its host, subset and port must exist
    const mirrorKeys = route.mirrors.map((m) => subsets.resolve({ ...m.target, weight: 0, headers: null }));
    const ok = (list: (string | null)[]): list is string[] => list.every((k) => k !== null);
    return ok(keys) && ok(mirrorKeys) ? { route, keys, mirrorKeys } : null;
  });
}

/** The route as this listener sees it, or null when none of its matches can apply here. */
export function buildRoute(p: PendingRoute, ids: ReadonlyMap<string, number>, subsets: readonly Subset[], ctx: ListenerContext): Route | null {
  const r = p.route;
  const matches = r.matches.filter((m) => appliesOn(m, ctx)).map((m) => m.match);
  if (r.matches.length > 0 && matches.length === 0) return null;
  const destinations = buildDestinations(p, ids);
  const route: Route = {
    name: r.name,
    matches,
    destinations,
    totalWeight: destinations.reduce((sum, d) => sum + d.weight, 0),
    timeoutMs: r.timeoutMs,
    retries: r.retries,
  };
  const responseHeaders = flatten(r.headers?.response ?? null);
  const sessionSplit = buildSessionSplit(destinations, subsets);
  return {
    ...route,
    ...(sessionSplit !== null ? { sessionSplit } : {}),
    ...(r.rewrite !== null && (r.rewrite.uri !== null || r.rewrite.regex !== null) ? { rewrite: { uri: r.rewrite.uri, regex: r.rewrite.regex } } : {}),
    ...(r.redirect !== null ? { redirect: buildRedirect(r.redirect, ctx) } : {}),
    ...(r.directResponse !== null ? { directResponse: r.directResponse } : {}),
    ...(r.fault !== null ? { fault: r.fault } : {}),
    ...(r.cors !== null ? { cors: r.cors } : {}),
    ...((r.redirect !== null || r.directResponse !== null) && responseHeaders.length > 0 ? { responseHeaders } : {}),
    ...(r.mirrors.length > 0 ? { mirrors: r.mirrors.map((m, i) => ({ subset: ids.get(p.mirrorKeys[i] as string) as number, percent: m.percent })) } : {}),
  };
}

/** Istio keeps a match on a gateway when its port, scheme and gateways (if set) all fit it. */
function appliesOn(m: MatchRes, ctx: ListenerContext): boolean {
  if (m.port !== null && m.port !== ctx.port) return false;
  if (m.scheme !== null && !matchStatic(m.scheme, ctx.scheme)) return false;
  if (m.gateways !== null && !m.gateways.some((g) => ctx.gateways.has(g))) return false;
  return true;
}

function matchStatic(m: StringMatch, value: string): boolean {
  if (m.kind === 'exact') return value === m.value;
  if (m.kind === 'prefix') return value.startsWith(m.value);
  const rx = translateRe2(m.value);
  // an untranslatable regex was reported by the validator; it matches nothing
  return typeof rx !== 'string' && new RegExp(`^(?:${rx.source})$`, rx.flags).test(value);
}

function buildDestination(d: DestinationRef, subset: number, r: HttpRouteRes): RouteDestination {
  const requestHeaders = [...flatten(d.headers?.request ?? null), ...flatten(r.headers?.request ?? null)];
  const responseHeaders = [...flatten(d.headers?.response ?? null), ...flatten(r.headers?.response ?? null)];
  const authority = r.rewrite?.authority ?? r.headers?.authority ?? d.headers?.authority ?? null;
  return {
    subset,
    weight: d.weight,
    ...(requestHeaders.length > 0 ? { requestHeaders } : {}),
    ...(responseHeaders.length > 0 ? { responseHeaders } : {}),
    ...(authority !== null ? { authority } : {}),
  };
}

/** Envoy evaluates one level's removals, then its additions (Istio: set's, then add's, each by name). */
function flatten(b: HeaderBlock | null): HeaderOp[] {
  if (b === null) return [];
  return [
    ...b.remove.map((name): HeaderOp => ({ op: 'remove', name, value: '' })),
    ...b.set.map(([name, value]): HeaderOp => ({ op: 'set', name, value })),
    ...b.add.map(([name, value]): HeaderOp => ({ op: 'add', name, value })),
  ];
}

/**
 * Istio's ApplyRedirect: FROM_REQUEST_PORT is the listener's port (Envoy cannot derive it; Istio
 * builds routes per port and does the same), and an explicit port that is the scheme's default
 * is left out of the Location.
 */
function buildRedirect(r: RedirectRes, ctx: ListenerContext): RedirectPlan {
  let port: number | null = r.port;
  if (r.derivePort === 'FROM_REQUEST_PORT') port = ctx.port;
  else if (r.derivePort === 'FROM_PROTOCOL_DEFAULT') port = 0;
  if (port !== null && port === DEFAULT_PORTS[r.scheme ?? ctx.scheme]) port = 0;
  return { code: r.code, scheme: r.scheme, authority: r.authority, port, uri: r.uri, prefixRewrite: r.prefixRewrite };
}

