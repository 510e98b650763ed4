// ServiceEntry resolution DNS / DNS_ROUND_ROBIN: the endpoints a subset's host names stand for.
// The compiler keeps each subset's names (DnsSource) beside its IP endpoints, so the primary can
// turn a new answer into new endpoint lists without reading the config again
// (primary/dns-resolver.ts decides when; primary/reloader.ts rebuilds the tables).
import type { DnsSource, Endpoint, Snapshot, Subset } from '../../snapshot/types.js';
import { endpointId } from './endpoints.js';
import { compareStrings } from './order.js';

/** name -> addresses, as the primary last resolved them */
export type ResolvedNames = Readonly<Record<string, readonly string[]>>;

/**
 * `fixed` (the subset's IP endpoints) plus one endpoint per address of each source (DNS), or one
 * (DNS_ROUND_ROBIN: the address in `current` while the answer still holds it, so a server that
 * rotates its answers does not move the endpoint at every refresh; else the first), sorted by
 * id. An address already present keeps its first endpoint: two names answering the same address
 * must not double its share.
 */
export function expandDnsEndpoints(
  fixed: readonly Endpoint[], sources: readonly DnsSource[], resolved: ResolvedNames, current: readonly Endpoint[] = [],
): Endpoint[] {
  const byId = new Map<string, Endpoint>(fixed.map((e) => [e.id, e]));
  const have = new Set(current.map((e) => e.id));
  for (const src of sources) {
    const answer = resolved[src.name] ?? [];
    const kept = answer.find((a) => have.has(endpointId(a, src.port)));
    const addresses = src.mode === 'DNS' ? answer : kept !== undefined ? [kept] : answer.slice(0, 1);
    for (const address of addresses) {
      const id = endpointId(address, src.port);
      if (!byId.has(id)) byId.set(id, { id, address, port: src.port, weight: src.weight, labels: src.labels });
    }
  }
  return [...byId.values()].sort((a, b) => compareStrings(a.id, b.id));
}

/** every name the snapshot's subsets resolve, sorted */
export function readDnsNames(snapshot: Pick<Snapshot, 'subsets'>): string[] {
  const names = new Set<string>();
  for (const s of snapshot.subsets) for (const src of s.dns?.sources ?? []) names.add(src.name);
  return [...names].sort(compareStrings);
}

/**
 * The snapshot with every DNS subset's endpoints recomputed from `resolved`, and its table cleared
 * when they changed (the builder fills it again); null when no subset's endpoints changed.
 */
export function applyResolved(snapshot: Snapshot, resolved: ResolvedNames, epoch: number): Snapshot | null {
  let changed = false;
  const subsets = snapshot.subsets.map((s): Subset => {
    if (s.dns == null) return s;
    const endpoints = expandDnsEndpoints(s.dns.fixed, s.dns.sources, resolved, s.endpoints);
    if (endpoints.length === 0 || sameIds(endpoints, s.endpoints)) return s;
    changed = true;
    return { ...s, endpoints, table: null };
  });
  return changed ? { ...snapshot, epoch, subsets } : null;
}

function sameIds(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  return a.length === b.length && a.every((e, i) => e.id === b[i]!.id);
}
