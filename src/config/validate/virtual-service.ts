// VirtualService: hosts, the Gateways it binds to, and its http routes (first match wins).
import { at, type IssueSink, type Place } from '../issues.js';
import { isAbsent, isEmptyList, NOT_IMPLEMENTED, readList, readObject, readString } from '../fields.js';
import { readDurationMs } from '../duration.js';
import { readHosts, stripNamespace } from '../hosts.js';
import { readDestinations } from './route-destination.js';
import { readRouteMatch } from './match.js';
import { readRetries } from './retries.js';
import type { DelegateRef, GatewayRef, HttpRouteRes, MatchRes, VirtualServiceRes } from '../resources.js';
import { readHeaders } from './headers.js';
import { readCorsPolicy, readFault } from './fault-cors.js';
import { readDirectResponse, readRedirect, readRewrite } from './route-actions.js';
import { readMirrors } from './mirror.js';

const SPEC_FIELDS = {
  known: ['hosts', 'gateways', 'http'],
  ignored: { tcp: NOT_IMPLEMENTED, tls: NOT_IMPLEMENTED, exportTo: 'ignored: stickyd has no namespaces' },
};

const HTTP_FIELDS = {
  known: ['name', 'match', 'route', 'timeout', 'retries', 'headers', 'rewrite', 'redirect', 'directResponse', 'fault', 'corsPolicy',
    'mirror', 'mirrorPercentage', 'mirrorPercent', 'mirror_percent', 'mirrors', 'delegate'],
};

export function validateVirtualService(sink: IssueSink, root: Place, name: string, specValue: unknown): VirtualServiceRes {
  const place = at(root, 'spec');
  const spec = readObject(sink, place, specValue, SPEC_FIELDS) ?? {};
  const hosts = readHosts(sink, at(place, 'hosts'), spec.hosts, false);
  // Istio: a VirtualService without hosts is a delegate, reached only through a root's http[].delegate
  const isDelegate = isAbsent(spec.hosts) || (Array.isArray(spec.hosts) && spec.hosts.length === 0);
  const http: HttpRouteRes[] = [];
  const matchGateways: GatewayRef[] = [];
  readList(sink, at(place, 'http'), spec.http)?.forEach((item, i) => {
    const route = readHttpRoute(sink, at(place, 'http', i), item, `${name}/http[${i}]`);
    if (route === null) return;
    http.push(route);
    route.matches.forEach((m, j) => m.gateways?.forEach((g) => matchGateways.push({ name: g, place: at(place, 'http', i, 'match', j, 'gateways') })));
  });
  if (isDelegate && !isAbsent(spec.gateways)) sink.warn(at(place, 'gateways'), 'ignored: a delegate VirtualService (no hosts) is served through its root\'s Gateways');
  const gateways = isDelegate ? [] : readGatewayRefs(sink, at(place, 'gateways'), spec.gateways, matchGateways);
  if (isEmptyList(spec.http)) sink.warn(at(place, 'http'), 'no http routes: this VirtualService routes nothing');
  return { name, place: root, hosts, gateways, http };
}

/**
 * The top-level gateways plus those named by matches: Istio binds a VirtualService to both
 * (its getGatewayNames), and each match then applies only where it says (compile/routes.ts).
 */
function readGatewayRefs(sink: IssueSink, place: Place, value: unknown, fromMatches: readonly GatewayRef[]): GatewayRef[] {
  const out: GatewayRef[] = [];
  readList(sink, place, value)?.forEach((item, i) => {
    const ref = readString(sink, at(place, i), item);
    if (ref === null) return;
    const gw = stripNamespace(ref);
    if (gw === 'mesh') sink.warn(at(place, i), 'ignored: "mesh" binds sidecars, and stickyd is an ingress');
    else if (gw === '') sink.error(at(place, i), 'empty gateway name');
    else if (!out.some((g) => g.name === gw)) out.push({ name: gw, place: at(place, i) });
  });
  for (const ref of fromMatches) {
    if (ref.name !== 'mesh' && !out.some((g) => g.name === ref.name)) out.push(ref);
  }
  if (out.length === 0) {
    sink.warn(place, 'no Gateway: in Istio this VirtualService applies only to the mesh, so stickyd binds it to no listener');
  }
  return out;
}

function readHttpRoute(sink: IssueSink, place: Place, value: unknown, defaultName: string): HttpRouteRes | null {
  const r = readObject(sink, place, value, HTTP_FIELDS);
  if (r === null) {
    if (isAbsent(value)) sink.error(place, 'empty http route');
    return null;
  }
  const name = readString(sink, at(place, 'name'), r.name) ?? defaultName;
  const delegate = readDelegate(sink, at(place, 'delegate'), r.delegate);
  const matches: MatchRes[] = [];
  readList(sink, at(place, 'match'), r.match)?.forEach((m, i) => matches.push(readRouteMatch(sink, at(place, 'match', i), m)));
  const timeout = readDurationMs(sink, at(place, 'timeout'), r.timeout);
  const retries = readRetries(sink, at(place, 'retries'), r.retries);
  const headers = readHeaders(sink, at(place, 'headers'), r.headers);
  const rewrite = readRewrite(sink, at(place, 'rewrite'), r.rewrite);
  const redirect = readRedirect(sink, at(place, 'redirect'), r.redirect);
  const directResponse = readDirectResponse(sink, at(place, 'directResponse'), r.directResponse);
  const fault = readFault(sink, at(place, 'fault'), r.fault);
  const cors = readCorsPolicy(sink, at(place, 'corsPolicy'), r.corsPolicy);
  const mirrors = readMirrors(sink, place, r);
  const answered = !isAbsent(r.redirect) || !isAbsent(r.directResponse) || !isAbsent(r.delegate);
  if (!checkActions(sink, place, r)) return null;
  if (!isAbsent(r.delegate) && delegate === null) return null;
  const destinations = answered ? [] : readDestinations(sink, at(place, 'route'), r.route);
  if (destinations === null) return null;
  if (answered && (redirect === null && directResponse === null && delegate === null)) return null;
  if (answered && delegate === null && mirrors.length > 0) sink.warn(at(place, isAbsent(r.mirror) ? 'mirrors' : 'mirror'), 'a route that redirects or answers directly forwards nothing, so nothing is mirrored (Istio mirrors only forwarded requests)');
  if (redirect?.prefixRewrite != null) checkPrefixMatches(sink, at(place, 'redirect', 'prefixRewrite'), matches);
  // Envoy reads a 0 route timeout as "no timeout"; sub-millisecond values round up, never to 0.
  return {
    name,
    matches,
    destinations,
    timeoutMs: timeout === null || timeout === 0 ? null : Math.ceil(timeout),
    retries,
    headers,
    rewrite,
    redirect,
    directResponse,
    fault,
    cors,
    mirrors: answered && delegate === null ? [] : mirrors,
    delegate,
    declared: new Set(Object.keys(r).filter((k) => !isAbsent(r[k]))),
    place,
  };
}

/**
 * Istio: a route forwards (route), redirects, answers directly or delegates, one of these; rewrite
 * only with route or delegate (the delegate's routes inherit it).
 */
function checkActions(sink: IssueSink, place: Place, r: Record<string, unknown>): boolean {
  const set = (['route', 'redirect', 'directResponse', 'delegate'] as const).filter((k) => !isAbsent(r[k]) && !(k === 'route' && Array.isArray(r[k]) && r[k].length === 0));
  if (set.length > 1) {
    sink.error(at(place, set[1]!), `a route sets only one of route, redirect, directResponse and delegate; this one sets ${set.join(' and ')}`);
    return false;
  }
  if (set.length === 0) {
    sink.error(at(place, 'route'), 'required: at least one destination, or a redirect, directResponse or delegate');
    return false;
  }
  if (set[0] !== 'route' && set[0] !== 'delegate' && !isAbsent(r.rewrite)) {
    sink.error(at(place, 'rewrite'), `rewrite applies to forwarded requests and cannot be used with ${set[0]}`);
    return false;
  }
  return true;
}

/** redirect.prefixRewrite replaces the matched prefix, so every match must be a uri prefix match. */
function checkPrefixMatches(sink: IssueSink, place: Place, matches: readonly MatchRes[]): void {
  if (matches.length === 0 || matches.some((m) => m.match.uri?.kind !== 'prefix')) {
    sink.error(place, 'prefixRewrite needs every match of the route to be a uri prefix match (Istio)');
  }
}

/** http[].delegate {name, namespace}; null when absent or unusable (errors reported). */
function readDelegate(sink: IssueSink, place: Place, value: unknown): DelegateRef | null {
  const d = readObject(sink, place, value, { known: ['name'], ignored: { namespace: 'ignored: stickyd has no namespaces, the delegate is found by name' } });
  if (d === null) return null;
  const name = readString(sink, at(place, 'name'), d.name);
  if (name === null || name === '') {
    sink.error(at(place, 'name'), 'required');
    return null;
  }
  return { name, place: at(place, 'name') };
}
