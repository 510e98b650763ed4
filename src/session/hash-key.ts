// Comparing and naming session keys (snapshot HashKey), shared by the config compiler (which
// warns when a weighted route's destinations hash on different keys) and the worker (which reuses
// the route's key inside a destination that hashes on the same one).
import type { HashKey, PersistentSession } from '../snapshot/types.js';

/** Same key source: a cookie's path and ttl only say how it is minted. */
export function sameHashKey(a: HashKey, b: HashKey): boolean {
  if (a.kind === 'sourceIp' || b.kind === 'sourceIp') return a.kind === b.kind;
  return a.kind === b.kind && a.name === b.name;
}

export function describeHashKey(key: HashKey): string {
  switch (key.kind) {
    case 'cookie':
      return `cookie "${key.name}"`;
    case 'header':
      return `header "${key.name}"`;
    case 'query':
      return `query parameter "${key.name}"`;
    case 'sourceIp':
      return 'the source IP';
  }
}

/** The key a persistent session's pin travels in: its cookie (never minted as a plain key) or header. */
export function readPinCarrier(p: PersistentSession): HashKey {
  return p.kind === 'cookie' ? { kind: 'cookie', name: p.name, path: p.path, ttlSec: null } : { kind: 'header', name: p.name };
}
