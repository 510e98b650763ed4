// Request -> (route, subset): listener by port, Gateway host filter, VirtualService by host
// (exact, longest "*.suffix", "*"), first route whose matches accept the request, then a weighted
// destination. Reads only the RuntimeSnapshot the caller holds; allocates nothing on success.
import { findQueryParam, readRequestQuery, readRequestHost, type RequestHead } from '../downstream/request-head.js';
import { lookupHost } from '../downstream/host-table.js';
import type { CompiledNamedMatch, CompiledRouteMatch, CompiledStringMatch, RouteTarget, RuntimeRoute, RuntimeSnapshot } from './runtime-snapshot.js';

export type RouteFailure = 'STICKYD_ERR_NO_HOST' | 'STICKYD_ERR_NO_ROUTE';

/**
 * The first route whose matches accept the request. `path` is the request's path without query,
 * normalised (normalize-path.ts). A forwarding route then takes a destination (selectDestination);
 * one with an answer (redirect, direct response) is answered by the caller. `host`: the request's
 * (readRequestHost), when the caller has read it already.
 */
export function selectRoute(
  rt: RuntimeSnapshot,
  listenerPort: number,
  req: RequestHead,
  path: string,
  host = readRequestHost(req.headers),
): RuntimeRoute | RouteFailure {
  const listener = rt.listeners.get(listenerPort);
  if (listener === undefined) return 'STICKYD_ERR_NO_HOST';
  if (lookupHost(listener.gatewayHosts, host) === null) return 'STICKYD_ERR_NO_HOST';
  const vhost = lookupHost(listener.virtualHosts, host);
  if (vhost === null) return 'STICKYD_ERR_NO_HOST';
  const url = req.url ?? '/';
  const routes = vhost.routes;
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i]!;
    if (routeAccepts(route, req, url, path)) return route;
  }
  return 'STICKYD_ERR_NO_ROUTE';
}

function routeAccepts(route: RuntimeRoute, req: RequestHead, url: string, path: string): boolean {
  const matches = route.matches;
  if (matches.length === 0) return true;
  for (let i = 0; i < matches.length; i++) {
    if (matchAccepts(matches[i]!, req, url, path)) return true;
  }
  return false;
}

/**
 * How much of the path the route's first accepting match matched (for prefix rewrites). Asked
 * only by routes whose plans need it, so plain routes never pay for the second pass.
 */
export function readMatchCut(route: RuntimeRoute, req: RequestHead, path: string): number {
  const matches = route.matches;
  const url = req.url ?? '/';
  for (let i = 0; i < matches.length; i++) {
    if (matchAccepts(matches[i]!, req, url, path)) return matches[i]!.cut;
  }
  return 1; // no match list: Envoy's prefix "/"
}

function matchAccepts(m: CompiledRouteMatch, req: RequestHead, url: string, path: string): boolean {
  return readMatchFailure(m, req, url, path) === MATCHED;
}

/** readMatchFailure's answer when every condition holds */
export const MATCHED = -1;
/** the condition that failed: these, or HEADER_FAILED + i, WITHOUT_HEADER_FIRED + i, QUERY_FAILED + i for the i-th entry */
export const URI_FAILED = 0;
export const METHOD_FAILED = 1;
export const AUTHORITY_FAILED = 2;
export const HEADER_FAILED = 1000;
export const WITHOUT_HEADER_FIRED = 2000;
export const QUERY_FAILED = 3000;

/**
 * Every present field must match (AND); absent headers and parameters never match. Answers
 * MATCHED, or which condition failed first (a number, so the request path allocates nothing;
 * `stickyd explain` names it: commands/explain.ts).
 */
export function readMatchFailure(m: CompiledRouteMatch, req: RequestHead, url: string, path: string): number {
  if (m.uri !== null && !matchString(m.uri, m.uriLower ? path.toLowerCase() : path)) return URI_FAILED;
  if (m.method !== null && !matchString(m.method, req.method ?? '')) return METHOD_FAILED;
  if (m.authority !== null && !matchString(m.authority, req.headers.host ?? '')) return AUTHORITY_FAILED;
  const headers = m.headers;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    const raw = req.headers[h.name];
    const value = typeof raw === 'string' ? raw : raw?.[0];
    if (value === undefined || !matchString(h.match, value)) return HEADER_FAILED + i;
  }
  const without = m.withoutHeaders;
  for (let i = 0; i < without.length; i++) {
    if (headerFires(without[i]!, req)) return WITHOUT_HEADER_FIRED + i;
  }
  const params = m.queryParams;
  if (params.length > 0) {
    // Parsed only for routes that ask: most requests never touch the query string.
    const query = readRequestQuery(url);
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      const value = findQueryParam(query, p.name);
      if (value === null || !matchString(p.match, value)) return QUERY_FAILED + i;
    }
  }
  return MATCHED;
}

/**
 * A withoutHeaders condition (Envoy: invert_match, treat_missing_header_as_empty unless it is a
 * presence match): a missing header counts as "", except that "present" never fires on it.
 */
function headerFires(h: CompiledNamedMatch, req: RequestHead): boolean {
  const raw = req.headers[h.name];
  const value = typeof raw === 'string' ? raw : raw?.[0];
  if (value === undefined) return !(h.match.kind === 'prefix' && h.match.value === '') && matchString(h.match, '');
  return matchString(h.match, value);
}

export function matchString(m: CompiledStringMatch, s: string): boolean {
  switch (m.kind) {
    case 'exact':
      return s === m.value;
    case 'prefix':
      return s.startsWith(m.value);
    case 'regex':
      return m.regex.test(s);
  }
}

/** Weighted choice over cumulative weights; a weight-0 destination is never chosen. */
export function selectDestination(route: RuntimeRoute, random: () => number): RouteTarget {
  if (route.sole !== null) return route.sole;
  const x = random() * route.totalWeight;
  const cumulative = route.cumulative;
  const last = cumulative.length - 1;
  for (let i = 0; i < last; i++) {
    // Strictly greater: a zero-weight destination repeats its predecessor's sum and is skipped.
    if (cumulative[i]! > x) return route.targets[i]!;
  }
  // The last carrying destination; the loop above only misses it for x at the top of the range.
  for (let i = last; i > 0; i--) {
    if (cumulative[i]! > cumulative[i - 1]!) return route.targets[i]!;
  }
  return route.targets[0]!;
}
