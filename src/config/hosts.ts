// Host names as Istio writes them: "*", "*.example.com" or an exact name, optionally prefixed
// with a namespace ("./host", "default/host", "*/host") that stickyd, having one namespace, drops.
import { at, type IssueSink, type Place } from './issues.js';
import { readList, readString } from './fields.js';

const LABEL = '[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?';
const HOST = new RegExp(`^(\\*|(\\*\\.)?${LABEL}(\\.${LABEL})*)$`);

/** "ns/name" -> "name" (Gateway hosts, VirtualService gateways) */
export function stripNamespace(ref: string): string {
  const slash = ref.indexOf('/');
  return slash === -1 ? ref : ref.slice(slash + 1);
}

export function isWildcard(host: string): boolean {
  return host.startsWith('*');
}

/** true when `pattern` ("*", "*.a.com" or exact) covers `host` (which may itself be a wildcard) */
export function covers(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) {
    if (host === '*') return false;
    return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  }
  return pattern === host;
}

/** The hosts both patterns serve: the more specific one, or null when they are disjoint. */
export function intersectHosts(a: string, b: string): string | null {
  if (covers(a, b)) return b;
  if (covers(b, a)) return a;
  return null;
}

/**
 * A list of host patterns, lower-cased, namespace prefix removed when `allowNamespace`,
 * duplicates dropped. Invalid entries are reported and skipped.
 */
export function readHosts(sink: IssueSink, place: Place, v: unknown, allowNamespace: boolean): string[] {
  const list = readList(sink, place, v);
  if (list === null) return [];
  const out: string[] = [];
  list.forEach((item, i) => {
    const raw = readString(sink, at(place, i), item);
    if (raw === null) return;
    const host = (allowNamespace ? stripNamespace(raw) : raw).toLowerCase();
    if (!HOST.test(host)) {
      sink.error(at(place, i), `"${raw}" is not a host name, "*" or "*.domain"`);
      return;
    }
    if (!out.includes(host)) out.push(host);
  });
  return out;
}
