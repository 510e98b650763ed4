// The WorkloadEntry spec, used inline as ServiceEntry endpoints[] and as WorkloadEntry.spec.
import { isIP } from 'node:net';
import { at, type IssueSink, type Place } from '../issues.js';
import { isAbsent, readInt, readObject, readPortMap, readStringMap, requireString } from '../fields.js';
import type { EndpointSpec } from '../resources.js';

const FIELDS = {
  known: ['address', 'ports', 'labels', 'weight'],
  ignored: {
    network: 'ignored: stickyd reaches every endpoint directly',
    locality: 'not implemented by stickyd (no locality load balancing); ignored',
    serviceAccount: 'ignored: applies to mesh identity only',
  },
};

/** stickyd's drain label: "true" takes the endpoint out of new sessions and keeps its existing ones */
export const DRAIN_LABEL = 'stickyd.io/drain';
const DEFAULT_WEIGHT = 1; // Istio WorkloadEntry: an unset weight is 1
const MAX_WEIGHT = 4_294_967_295; // uint32 in the Istio API

export function readEndpointSpec(sink: IssueSink, place: Place, value: unknown): EndpointSpec | null {
  const e = readObject(sink, place, value, FIELDS);
  if (e === null) {
    if (isAbsent(value)) sink.error(place, 'empty endpoint');
    return null;
  }
  const address = requireString(sink, at(place, 'address'), e.address);
  const hostname = address !== null && isIP(address) === 0;
  // A host name is checked here; whether its ServiceEntry resolves it is checked where it is used
  // (compile/endpoints.ts): a WorkloadEntry does not know which entries select it.
  if (hostname && !isHostName(address)) {
    sink.error(at(place, 'address'), `"${address}" is neither an IP address nor a host name`);
  }
  const ports = readPortMap(sink, at(place, 'ports'), e.ports) ?? {};
  const labels = readStringMap(sink, at(place, 'labels'), e.labels) ?? {};
  const drain = labels[DRAIN_LABEL];
  if (drain !== undefined && drain !== 'true' && drain !== 'false') sink.error(at(place, 'labels', DRAIN_LABEL), `"${drain}" must be "true" (take no new sessions, keep existing ones) or "false"`);
  const weight = readInt(sink, at(place, 'weight'), e.weight, 0, MAX_WEIGHT) ?? DEFAULT_WEIGHT;
  if (weight === 0) sink.warn(at(place, 'weight'), 'weight 0: this endpoint takes no traffic and is left out');
  if (address === null || (hostname && !isHostName(address))) return null;
  // lower-case so an IPv6 address spelled in capitals still gets one canonical endpoint id
  return { address: address.toLowerCase(), hostname, ports, labels, weight, place };
}

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, at most 253 characters. */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

export function isHostName(name: string): boolean {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  return trimmed.length > 0 && trimmed.length <= 253 && trimmed.split('.').every((l) => LABEL.test(l));
}
