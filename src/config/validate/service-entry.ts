// ServiceEntry: a host, its ports, and its endpoints (inline, or WorkloadEntries picked by labels).
// resolution STATIC: endpoints are IP addresses; DNS and DNS_ROUND_ROBIN: an endpoint address may
// be a host name and, with no endpoints, the entry's hosts are resolved (by the primary:
// primary/dns-resolver.ts). NONE (Istio's default) would forward to the address the client
// dialled, which an ingress does not have, so it stays an error.
import { at, type IssueSink, type Place } from '../issues.js';
import { isAbsent, isEmptyList, readList, readObject, readPort, readString, readStringMap, requireString } from '../fields.js';
import { isWildcard, readHosts } from '../hosts.js';
import { readEndpointSpec } from './endpoint-spec.js';
import type { EndpointSpec, ServiceEntryRes, ServicePort } from '../resources.js';
import { readPersistentSession, type Metadata } from './metadata.js';

const SPEC_FIELDS = {
  known: ['hosts', 'ports', 'resolution', 'endpoints', 'workloadSelector'],
  ignored: {
    location: 'ignored: stickyd treats every entry as a destination it proxies to',
    exportTo: 'ignored: stickyd has no namespaces',
    addresses: 'ignored: stickyd routes by host, not by virtual IP',
    subjectAltNames: 'ignored: upstream TLS is not implemented',
  },
};

export function validateServiceEntry(sink: IssueSink, root: Place, name: string, specValue: unknown, meta: Metadata | null = null): ServiceEntryRes {
  const place = at(root, 'spec');
  const spec = readObject(sink, place, specValue, SPEC_FIELDS) ?? {};
  const hosts = readHosts(sink, at(place, 'hosts'), spec.hosts, false);
  if (isEmptyList(spec.hosts)) sink.error(at(place, 'hosts'), 'required: at least one host');
  hosts.forEach((h) => {
    if (isWildcard(h)) sink.error(at(place, 'hosts'), `wildcard host "${h}" needs resolution NONE, which is not implemented`);
  });
  const resolution = readResolution(sink, at(place, 'resolution'), spec.resolution);
  const ports = readPorts(sink, at(place, 'ports'), spec.ports);
  const hasEndpoints = !isAbsent(spec.endpoints);
  const hasSelector = !isAbsent(spec.workloadSelector);
  if (hasEndpoints && hasSelector) sink.error(place, 'set only one of endpoints or workloadSelector');
  const endpoints: EndpointSpec[] = [];
  readList(sink, at(place, 'endpoints'), spec.endpoints)?.forEach((item, i) => {
    const e = readEndpointSpec(sink, at(place, 'endpoints', i), item);
    if (e !== null) endpoints.push(e);
  });
  const selPlace = at(place, 'workloadSelector');
  const sel = readObject(sink, selPlace, spec.workloadSelector, { known: ['labels'] });
  const selector = sel === null ? null : readStringMap(sink, at(selPlace, 'labels'), sel.labels) ?? {};
  const persistent = meta === null ? null : readPersistentSession(sink, meta);
  // Istio's validation: "there must only be one endpoint for resolution mode DNS_ROUND_ROBIN"
  if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) sink.error(at(place, 'endpoints'), 'resolution DNS_ROUND_ROBIN allows one endpoint (Istio); use resolution DNS for several');
  return { name, place: root, hosts: hosts.filter((h) => !isWildcard(h)), ports, resolution: resolution ?? 'STATIC', endpoints: hasSelector ? null : endpoints, selector, persistent };
}

function readResolution(sink: IssueSink, place: Place, value: unknown): 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | null {
  const resolution = readString(sink, place, value);
  if (resolution === 'STATIC' || resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') return resolution;
  if (resolution === null && !isAbsent(value)) return null; // wrong type, already reported
  const shown = resolution ?? 'NONE (the default)';
  sink.error(place, `resolution ${shown} is not implemented: set resolution STATIC (IP endpoints), DNS or DNS_ROUND_ROBIN (host names)`);
  return null;
}

function readPorts(sink: IssueSink, place: Place, value: unknown): ServicePort[] {
  if (isEmptyList(value)) sink.error(place, 'required: at least one port');
  const out: ServicePort[] = [];
  readList(sink, place, value)?.forEach((item, i) => {
    const p = readServicePort(sink, at(place, i), item);
    if (p === null) return;
    if (out.some((o) => o.number === p.number)) sink.error(at(place, i, 'number'), `port ${p.number} is listed twice`);
    else if (out.some((o) => o.name === p.name)) sink.error(at(place, i, 'name'), `port name "${p.name}" is used twice`);
    else out.push(p);
  });
  return out;
}

function readServicePort(sink: IssueSink, place: Place, value: unknown): ServicePort | null {
  const p = readObject(sink, place, value, { known: ['number', 'name', 'protocol', 'targetPort'] });
  if (p === null) {
    if (isAbsent(value)) sink.error(place, 'empty port');
    return null;
  }
  const number = readPort(sink, at(place, 'number'), p.number);
  if (isAbsent(p.number)) sink.error(at(place, 'number'), 'required');
  const name = requireString(sink, at(place, 'name'), p.name);
  const protocol = readString(sink, at(place, 'protocol'), p.protocol);
  // stickyd speaks HTTP/1.1 in cleartext to endpoints; anything else would be a silent mismatch.
  if (protocol !== null && protocol.toUpperCase() !== 'HTTP') {
    sink.error(at(place, 'protocol'), `protocol ${protocol} is not implemented: stickyd proxies to endpoints over plain HTTP/1.1`);
  }
  const targetPort = readPort(sink, at(place, 'targetPort'), p.targetPort);
  return number === null || name === null ? null : { number, name, targetPort };
}
