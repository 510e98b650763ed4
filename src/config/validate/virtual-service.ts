// VirtualService: hosts, the Gateways it binds to, and its http routes (first match wins).
import type { RouteMatch } from '../../snapshot/types.js';
import { at, type IssueSink, type Place } from '../issues.js';
import { isAbsent, isEmptyList, NOT_IMPLEMENTED, readList, REFUSED, readObject, readString } from '../fields.js';
import { readDurationMs } from '../duration.js';
import { readHosts, stripNamespace } from '../hosts.js';
import { readDestinations } from './route-destination.js';
import { readRouteMatch } from './match.js';
import { readRetries } from './retries.js';
import type { GatewayRef, HttpRouteRes, VirtualServiceRes } from '../resources.js';

const SPEC_FIELDS = {
  known: ['hosts', 'gateways', 'http'],
  ignored: { tcp: NOT_IMPLEMENTED, tls: NOT_IMPLEMENTED, exportTo: 'ignored: stickyd has no namespaces' },
};

const HTTP_FIELDS = {
  known: ['name', 'match', 'route', 'timeout', 'retries'],
  unsupported: Object.fromEntries(
    ['fault', 'mirror', 'mirrorPercent', 'mirrorPercentage', 'mirrors', 'rewrite', 'redirect', 'directResponse', 'corsPolicy', 'headers', 'delegate'].map(
      (k) => [k, REFUSED],
    ),
  ),
};

export function validateVirtualService(sink: IssueSink, root: Place, name: string, specValue: unknown): VirtualServiceRes {
  const place = at(root, 'spec');
  const spec = readObject(sink, place, specValue, SPEC_FIELDS) ?? {};
  const hosts = readHosts(sink, at(place, 'hosts'), spec.hosts, false);
  if (isEmptyList(spec.hosts)) sink.error(at(place, 'hosts'), 'required: at least one host');
  const gateways = readGatewayRefs(sink, at(place, 'gateways'), spec.gateways);
  const http: HttpRouteRes[] = [];
  readList(sink, at(place, 'http'), spec.http)?.forEach((item, i) => {
    const route = readHttpRoute(sink, at(place, 'http', i), item, `${name}/http[${i}]`);
    if (route !== null) http.push(route);
  });
  if (isEmptyList(spec.http)) sink.warn(at(place, 'http'), 'no http routes: this VirtualService routes nothing');
  return { name, place: root, hosts, gateways, http };
}

function readGatewayRefs(sink: IssueSink, place: Place, value: unknown): GatewayRef[] {
  const out: GatewayRef[] = [];
  readList(sink, place, value)?.forEach((item, i) => {
    const ref = readString(sink, at(place, i), item);
    if (ref === null) return;
    const gw = stripNamespace(ref);
    if (gw === 'mesh') sink.warn(at(place, i), 'ignored: "mesh" binds sidecars, and stickyd is an ingress');
    else if (gw === '') sink.error(at(place, i), 'empty gateway name');
    else if (!out.some((g) => g.name === gw)) out.push({ name: gw, place: at(place, i) });
  });
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
  const matches: RouteMatch[] = [];
  readList(sink, at(place, 'match'), r.match)?.forEach((m, i) => matches.push(readRouteMatch(sink, at(place, 'match', i), m)));
  const timeout = readDurationMs(sink, at(place, 'timeout'), r.timeout);
  const retries = readRetries(sink, at(place, 'retries'), r.retries);
  const destinations = readDestinations(sink, at(place, 'route'), r.route);
  if (destinations === null) return null;
  // Envoy reads a 0 route timeout as "no timeout"; sub-millisecond values round up, never to 0.
  return { name, matches, destinations, timeoutMs: timeout === null || timeout === 0 ? null : Math.ceil(timeout), retries };
}
