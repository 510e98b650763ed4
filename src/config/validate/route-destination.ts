// VirtualService http[].route[]: weighted destinations. Istio assumes weight 100 for a lone
// destination and requires weights when there are several; 0 means "takes no traffic".
import { at, type IssueSink, type Place } from '../issues.js';
import { describe, isAbsent, isEmptyList, readList, readObject, readPort, requireString, readString } from '../fields.js';
import type { DestinationRef } from '../resources.js';
import { readHeaders } from './headers.js';

const LONE_WEIGHT = 100; // Istio: "If there is only one destination in a rule, the weight value is assumed to be 100"

/** The destinations, or null when the route cannot be used (errors reported). */
export function readDestinations(sink: IssueSink, place: Place, value: unknown): DestinationRef[] | null {
  const list = readList(sink, place, value);
  if (isEmptyList(value)) {
    sink.error(place, 'required: at least one destination, or a redirect or directResponse');
    return null;
  }
  if (list === null) return null;
  const out: DestinationRef[] = [];
  let ok = true;
  list.forEach((item, i) => {
    const d = readDestination(sink, at(place, i), item, list.length);
    if (d === null) ok = false;
    else out.push(d);
  });
  if (ok && out.every((d) => d.weight === 0)) {
    sink.error(place, 'every destination has weight 0: the route would take no traffic');
    return null;
  }
  return ok ? out : null;
}

function readDestination(sink: IssueSink, place: Place, value: unknown, count: number): DestinationRef | null {
  const r = readObject(sink, place, value, { known: ['destination', 'weight', 'headers'] });
  if (r === null) {
    if (isAbsent(value)) sink.error(place, 'empty route destination');
    return null;
  }
  const weight = readWeight(sink, at(place, 'weight'), r.weight, count);
  const headers = readHeaders(sink, at(place, 'headers'), r.headers);
  const target = readDestinationTarget(sink, at(place, 'destination'), r.destination);
  if (target === null || weight === null) return null;
  return { ...target, weight, headers };
}

/** An Istio `Destination {host, subset, port}` (route[].destination, mirror, mirrors[].destination); null when unusable. */
export function readDestinationTarget(sink: IssueSink, dPlace: Place, value: unknown): Omit<DestinationRef, 'weight' | 'headers'> | null {
  const d = readObject(sink, dPlace, value, { known: ['host', 'subset', 'port'] });
  if (d === null) {
    if (isAbsent(value)) sink.error(dPlace, 'required');
    return null;
  }
  const host = requireString(sink, at(dPlace, 'host'), d.host);
  const subset = readString(sink, at(dPlace, 'subset'), d.subset);
  if (subset === '') sink.error(at(dPlace, 'subset'), 'must not be empty');
  const p = readObject(sink, at(dPlace, 'port'), d.port, { known: ['number'] });
  const port = p === null ? null : readPort(sink, at(dPlace, 'port', 'number'), p.number);
  if (p !== null && isAbsent(p.number)) sink.error(at(dPlace, 'port', 'number'), 'required');
  if (host === null || subset === '') return null;
  return { host: host.toLowerCase(), subset, port, place: dPlace };
}

function readWeight(sink: IssueSink, place: Place, value: unknown, count: number): number | null {
  if (isAbsent(value)) {
    if (count === 1) return LONE_WEIGHT;
    sink.error(place, 'required when a route has several destinations');
    return null;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    sink.error(place, `must be an integer >= 0, got ${describe(value)}`);
    return null;
  }
  return value;
}
