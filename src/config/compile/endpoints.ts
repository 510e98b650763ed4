// ServiceEntry endpoints for one service port: inline endpoints or the WorkloadEntries its
// workloadSelector picks, each resolved to the target port, identified as "address:port".
import type { Endpoint } from '../../snapshot/types.js';
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

/**
 * The endpoints serving `port` of `se`, sorted by id. Weight-0 endpoints are left out (warned at
 * validation). Two specs resolving to the same id are an error naming both: a duplicate would
 * silently double an endpoint's share.
 */
export function buildPortEndpoints(sink: IssueSink, se: ServiceEntryRes, port: ServicePort, specs: readonly EndpointSpec[]): Endpoint[] {
  const byId = new Map<string, { endpoint: Endpoint; place: Place }>();
  for (const spec of specs) {
    if (spec.weight === 0) continue;
    const target = spec.ports[port.name] ?? port.targetPort ?? port.number;
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
  return [...byId.values()].map((v) => v.endpoint).sort((a, b) => compareStrings(a.id, b.id));
}

/** the same labels with keys in code-unit order, so equal configs serialise identically */
function sortedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort(compareStrings)) out[k] = labels[k] as string;
  return out;
}
