// ServiceEntry endpoints for one service port: inline endpoints or the WorkloadEntries its
// workloadSelector picks, each resolved to the target port, identified as "address:port".
import type { DnsSource, Endpoint } from '../../snapshot/types.js';
import { at, describePlace, type IssueSink, type Place } from '../issues.js';
import type { EndpointSpec, ServiceEntryRes, ServicePort, WorkloadEntryRes } from '../resources.js';
import { compareStrings } from './order.js';
import { DRAIN_LABEL } from '../validate/endpoint-spec.js';

export function endpointId(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** true when every selector label is on the endpoint (Kubernetes label selector semantics) */
export function labelsMatch(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v);
}

export function readEndpointSpecs(se: ServiceEntryRes, workloads: readonly WorkloadEntryRes[]): EndpointSpec[] {
  const selector = se.selector;
  if (selector === null) return [...(se.endpoints ?? [])];
  return workloads.filter((w) => labelsMatch(selector, w.endpoint.labels)).map((w) => w.endpoint);
}

/** The endpoints of one service port: IP endpoints, and host names (resolution DNS) with what their addresses become. */
export interface PortEndpoints {
  readonly endpoints: Endpoint[];
  readonly sources: DnsSource[];
}

/**
 * The endpoints serving `port` of `se`, sorted by id, and its host-name endpoints as DnsSources
 * (sorted by name). Weight-0 endpoints are left out (warned at validation). Two specs resolving
 * to the same id are an error naming both: a duplicate would silently double an endpoint's share.
 * A host name under resolution STATIC is an error.
 */
export function buildPortEndpoints(sink: IssueSink, se: ServiceEntryRes, port: ServicePort, specs: readonly EndpointSpec[]): PortEndpoints {
  const byId = new Map<string, { endpoint: Endpoint; place: Place }>();
  const sources = new Map<string, DnsSource>();
  for (const spec of specs) {
    if (spec.weight === 0) continue;
    const target = spec.ports[port.name] ?? port.targetPort ?? port.number;
    if (spec.hostname) {
      if (se.resolution === 'STATIC') {
        sink.error(at(spec.place, 'address'), `"${spec.address}" is not an IP address: ServiceEntry/${se.name} has resolution STATIC, which needs IPs (use resolution DNS for host names)`);
        continue;
      }
      const key = `${spec.address}:${target}`;
      if (!sources.has(key)) sources.set(key, { name: spec.address.replace(/\.$/, ''), mode: se.resolution, port: target, weight: spec.weight, labels: sortedLabels(spec.labels) });
      continue;
    }
    const id = endpointId(spec.address, target);
    const first = byId.get(id);
    if (first !== undefined) {
      const where = Object.hasOwn(spec.ports, port.name) ? at(spec.place, 'ports', port.name) : at(spec.place, 'address');
      sink.error(where, `endpoint ${id} of ${se.name} port ${port.number} is listed twice: also at ${describePlace(first.place)}`);
      continue;
    }
    const draining = spec.labels[DRAIN_LABEL] === 'true';
    const labels = sortedLabels(spec.labels);
    const endpoint: Endpoint = { id, address: spec.address, port: target, weight: spec.weight, labels, ...(draining ? { draining } : {}) };
    byId.set(id, { endpoint, place: at(spec.place, 'address') });
  }
  return {
    endpoints: [...byId.values()].map((v) => v.endpoint).sort((a, b) => compareStrings(a.id, b.id)),
    sources: [...sources.entries()].sort(([a], [b]) => compareStrings(a, b)).map(([, s]) => s),
  };
}

/** the same labels with keys in code-unit order, so equal configs serialise identically */
function sortedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort(compareStrings)) out[k] = labels[k] as string;
  return out;
}
