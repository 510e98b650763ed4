// Istio/Envoy host selection: an exact host first, then the longest matching "*.suffix", then
// "*". Built once per snapshot; selecting is one Map lookup plus, on a miss, a short scan.

interface WildcardEntry<T> {
  /** ".example.com" for "*.example.com" */
  readonly suffix: string;
  readonly value: T;
}

export interface HostTable<T> {
  readonly exact: ReadonlyMap<string, T>;
  /** longest suffix first, so the first hit is the most specific */
  readonly wildcards: readonly WildcardEntry<T>[];
  readonly any: T | null;
}

/** `entries` in config order; when two claim the same host pattern, the first one keeps it. */
export function buildHostTable<T>(entries: Iterable<readonly [host: string, value: T]>): HostTable<T> {
  const exact = new Map<string, T>();
  const wildcards: WildcardEntry<T>[] = [];
  const seenSuffixes = new Set<string>();
  let any: T | null = null;
  for (const [rawHost, value] of entries) {
    const host = rawHost.toLowerCase();
    if (host === '*') {
      any ??= value;
    } else if (host.startsWith('*')) {
      const suffix = host.slice(1);
      if (!seenSuffixes.has(suffix)) {
        seenSuffixes.add(suffix);
        wildcards.push({ suffix, value });
      }
    } else if (!exact.has(host)) {
      exact.set(host, value);
    }
  }
  // Stable sort: equal lengths keep config order, which keeps the answer deterministic.
  wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
  return { exact, wildcards, any };
}

/** The value for `host` (lower-case, no port), or null. A wildcard never matches the empty label. */
export function lookupHost<T>(table: HostTable<T>, host: string): T | null {
  const hit = table.exact.get(host);
  if (hit !== undefined) return hit;
  const wildcards = table.wildcards;
  for (let i = 0; i < wildcards.length; i++) {
    const w = wildcards[i]!;
    if (host.length > w.suffix.length && host.endsWith(w.suffix)) return w.value;
  }
  return table.any;
}
