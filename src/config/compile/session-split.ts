// Which key decides a weighted route's destination (stickyd's extension beyond Istio: README,
// Sticky semantics). A route whose carrying destinations are several, and at least one of whose
// subsets hashes on a key, takes its destination from that key by weighted rendezvous, so a
// session stays on one version across a canary split. The deciding key is the hash key of the
// first carrying destination (VirtualService order) whose subset hashes; `check` warns when the
// destinations disagree, naming the key that decides.
import type { HashKey, RouteDestination, SessionSplit, Subset } from '../../snapshot/types.js';
import { describeHashKey, readPinCarrier, sameHashKey } from '../../session/hash-key.js';
import type { IssueSink } from '../issues.js';
import type { DestinationRef } from '../resources.js';

/** The route's split, or null when its destination needs no key (one carrying destination, or none hashing). */
export function buildSessionSplit(destinations: readonly RouteDestination[], subsets: readonly Subset[]): SessionSplit | null {
  const carrying = destinations.filter((d) => d.weight > 0);
  if (carrying.length < 2) return null;
  const decider = destinations.findIndex((d) => d.weight > 0 && hashKeyOf(subsets[d.subset]) !== null);
  if (decider < 0) return null;
  const key = hashKeyOf(subsets[destinations[decider]!.subset]) as HashKey;
  return { key, decider, table: null };
}

/**
 * Warnings for one VirtualService route (once, not per listener): destinations hashing on
 * different keys, or on one cookie minted with different attributes.
 */
export function checkSessionSplit(
  sink: IssueSink, refs: readonly DestinationRef[], destinations: readonly RouteDestination[], subsets: readonly Subset[],
): void {
  const split = buildSessionSplit(destinations, subsets);
  const first = refs[0];
  if (split === null || first === undefined) return;
  const place = { doc: first.place.doc, path: first.place.path.slice(0, -2) }; // http[i].route
  const decider = subsets[destinations[split.decider]!.subset]!;
  const others: string[] = [];
  const attributes: string[] = [];
  for (const d of destinations) {
    if (d.weight <= 0) continue;
    const s = subsets[d.subset]!;
    const key = hashKeyOf(s);
    if (key === null) others.push(`${s.name} (no hash key: its endpoint is chosen by its own policy)`);
    else if (!sameHashKey(key, split.key)) others.push(`${s.name} (${describeHashKey(key)}: used for its endpoint when the request carries it, else the deciding key)`);
    else if (key.kind === 'cookie' && split.key.kind === 'cookie' && (key.path !== split.key.path || key.ttlSec !== split.key.ttlSec || JSON.stringify(key.attributes ?? []) !== JSON.stringify(split.key.attributes ?? []))) {
      attributes.push(s.name);
    }
  }
  const decides = `${describeHashKey(split.key)} (of ${decider.name}) decides the destination`;
  if (others.length > 0) sink.warn(place, `the weighted destinations hash on different keys; ${decides}; ${others.join('; ')}`);
  if (attributes.length > 0) {
    sink.warn(place, `the weighted destinations mint ${describeHashKey(split.key)} with different path, ttl or attributes; ${decides}, and a minted cookie gets the attributes of the destination it chose, or when that one mints none, of the first that does (${attributes.join(', ')} differ from ${decider.name})`);
  }
}

/** A persistent subset's session is its pin (its carrier decides); otherwise the hash policy's key. */
function hashKeyOf(subset: Subset | undefined): HashKey | null {
  if (subset === undefined) return null;
  const p = subset.persistent;
  if (p != null) return readPinCarrier(p);
  return subset.policy.kind === 'hash' ? subset.policy.key : null;
}
