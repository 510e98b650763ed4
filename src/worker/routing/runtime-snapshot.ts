// Compiles a Snapshot once, when it arrives, into what the per-request path reads: RegExp objects,
// host tables, listeners by port, pickers, the kernel lookup, cumulative route weights and the
// Set-Cookie halves. The worker swaps its `current` RuntimeSnapshot in one assignment; a request
// keeps the one it started with.
import type { Dispatcher } from 'undici';
import { BlockList } from 'node:net';
import type { Hasher } from '../../balancing/hash.js';
import { createPicker, type Picker } from '../../balancing/weighted.js';
import { StickydError } from '../../errors.js';
import type { Kernel } from '../../kernel/index.js';
import type {
  BalancerTable, Endpoint, HashKey, RendezvousTable, HeaderOp, OutlierPolicy, ProxySettings, RetryPolicy, Route, RouteMatch, Snapshot, StringMatch, Subset,
  UpstreamTls,
} from '../../snapshot/types.js';
import { buildMatchCut, buildRoutePlans, type RoutePlans } from './route-plans.js';
import { buildHostTable, type HostTable } from '../downstream/host-table.js';
import { buildRuntimeServers, type RuntimeServers } from '../downstream/gateway-servers.js';
import { SessionCache, type CacheCounters } from './session-cache.js';
import { buildSnapshotMeter, buildSubsetMeter, buildTargetMeter, type SnapshotMeter, type SubsetMeter, type TargetMeter } from '../telemetry/stats.js';
import { buildSetCookieParts } from '../downstream/set-cookie.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { buildPlacement, type Placement } from './placement-table.js';
import type { PinRuntime } from './pin-runtime.js';
import { PinCache, type PinCacheCounters } from '../../session/pin-cache.js';
import { buildPinTable } from '../../session/pin-table.js';
import { readPinCarrier, sameHashKey } from '../../session/hash-key.js';

export type CompiledStringMatch =
  | { readonly kind: 'exact' | 'prefix'; readonly value: string }
  | { readonly kind: 'regex'; readonly value: string; readonly regex: RegExp };

export interface CompiledNamedMatch {
  readonly name: string;
  readonly match: CompiledStringMatch;
}

export interface CompiledRouteMatch {
  readonly uri: CompiledStringMatch | null;
  /** ignoreUriCase on an exact/prefix uri: the path is lower-cased before comparing (the value already is) */
  readonly uriLower: boolean;
  readonly method: CompiledStringMatch | null;
  readonly authority: CompiledStringMatch | null;
  readonly headers: readonly CompiledNamedMatch[];
  /** withoutHeaders: any of these matching fails the match */
  readonly withoutHeaders: readonly CompiledNamedMatch[];
  readonly queryParams: readonly CompiledNamedMatch[];
  /** how much of the path this match matched, for prefix rewrites (route-plans.ts) */
  readonly cut: number;
}

export interface RuntimeSubset {
  readonly id: number;
  readonly name: string;
  readonly host: string;
  readonly endpoints: readonly Endpoint[];
  /** upstream connection pool per endpoint, same order; empty when built without one (unit tests) */
  readonly pools: readonly Pick<Dispatcher, 'dispatch'>[];
  /** this worker's share of the subset's connectionPool limits; null when it sets none */
  readonly breaker: CircuitBreaker | null;
  /** DestinationRule tls: the SNI and verification the pools use; null = plaintext */
  readonly tls: UpstreamTls | null;
  /** the hash key of a 'hash' policy, else null */
  readonly hashKey: HashKey | null;
  /** the policy's picker; for 'hash' policies the weighted-random fallback for keyless requests */
  readonly picker: Picker;
  /** whether a request without a valid key gets a freshly minted cookie */
  readonly mintsCookie: boolean;
  readonly setCookiePrefix: string;
  readonly setCookieSuffix: string;
  /** this snapshot's counters for the subset (stats.ts) */
  readonly meter: SubsetMeter;
  /** the balancer table of a 'hash' policy (the health walk reads it), else null */
  readonly table: BalancerTable | null;
  /** outlierDetection: when set, upstream outcomes are reported to the primary */
  readonly outlier: OutlierPolicy | null;
  /** drain labels and the load bound: where new sessions may go (placement.ts) */
  readonly placement: Placement;
  /** a persistent subset's pin table, cache and cookie; null otherwise */
  readonly pins: PinRuntime | null;
  /** an all-zero mask over the endpoints, for walks with nothing excluded */
  readonly noneDown: Uint8Array;
}

/** A route paired with one of its destination subsets: what selectRoute returns, prebuilt. */
export interface RouteTarget {
  readonly route: RuntimeRoute;
  readonly subset: RuntimeSubset;
  /** this snapshot's request counters for the pair, one row per endpoint (stats.ts) */
  readonly meter: TargetMeter;
  /** header edits for this destination, in Envoy's order (snapshot HeaderOp); null for none */
  readonly requestEdits: readonly HeaderOp[] | null;
  readonly responseEdits: readonly HeaderOp[] | null;
  /** the Host to send upstream instead of the client's; null keeps it */
  readonly authority: string | null;
}

export interface RuntimeRoute {
  readonly name: string;
  /** empty: the route matches every request */
  readonly matches: readonly CompiledRouteMatch[];
  readonly targets: readonly RouteTarget[];
  /** cumulative[i] = sum of weights of destinations 0..i */
  readonly cumulative: Float64Array;
  readonly totalWeight: number;
  /** set when one destination carries all the weight: no random draw needed */
  readonly sole: RouteTarget | null;
  readonly timeoutMs: number | null;
  readonly retries: RetryPolicy | null;
  /** rewrite, redirect or direct answer, fault, CORS (route-plans.ts) */
  readonly plans: RoutePlans;
  /** http[].mirror / mirrors[]: where copies of a forwarded request go (upstream/mirror.ts); null for none */
  readonly mirrors: readonly RuntimeMirror[] | null;
  /** set when the destination follows the session key (session-split.ts); null: chosen at random */
  readonly split: RuntimeSplit | null;
}

export interface RuntimeMirror {
  readonly subset: RuntimeSubset;
  /** 0 < percent <= 100 */
  readonly percent: number;
}

/** A route's session split (session-split.ts selects with it), built once per snapshot. */
export interface RuntimeSplit {
  readonly key: HashKey;
  readonly table: RendezvousTable;
  /** per target: whether its subset hashes on the deciding key (then the same value picks its endpoint) */
  readonly sameKey: readonly boolean[];
  /**
   * per target: whose Set-Cookie a value minted for it carries: its own subset when that mints
   * the deciding cookie, else the first carrying subset that does; null everywhere when none mints
   */
  readonly minter: readonly (RuntimeSubset | null)[];
  /** whether a request without the deciding key gets one minted */
  readonly mints: boolean;
  /**
   * a persistent target subset whose pin travels in the deciding key, or null: the split then
   * decides by an authentic pin's session id (the pin's text changes whenever it is re-issued),
   * and a value it mints becomes the new pin's session id (resolve-session.ts)
   */
  readonly pinSubset: RuntimeSubset | null;
}

export interface RuntimeVirtualHost {
  readonly name: string;
  readonly routes: readonly RuntimeRoute[];
}

export interface RuntimeListener {
  readonly port: number;
  readonly protocol: 'HTTP' | 'HTTPS';
  /** the Gateway servers: redirect and 421 checks, and the TLS contexts of an HTTPS port */
  readonly servers: RuntimeServers;
  readonly gatewayHosts: HostTable<true>;
  readonly virtualHosts: HostTable<RuntimeVirtualHost>;
}

export interface RuntimeSnapshot {
  readonly epoch: number;
  readonly configHash: string;
  readonly settings: ProxySettings;
  readonly listeners: ReadonlyMap<number, RuntimeListener>;
  readonly subsets: readonly RuntimeSubset[];
  readonly sessions: SessionCache;
  /** every meter of this snapshot, for reports and folding after a reload (stats.ts) */
  readonly meter: SnapshotMeter;
  /** key hashing for the health walk, which needs the hash the session cache does not keep */
  readonly hasher: Hasher;
  /** settings.trustedProxies compiled once; null when none are configured */
  readonly trustedPeers: BlockList | null;
  /** uniform [0, 1): weighted route choice and pickers; injectable for tests */
  readonly random: () => number;
}

export interface RuntimeDeps {
  readonly kernel: Kernel;
  readonly hasher: Hasher;
  /** the upstream connection pool for an endpoint of a subset; omitted in unit tests */
  readonly poolFor?: ((endpoint: Endpoint, subset: Subset, breaker: CircuitBreaker | null) => Pick<Dispatcher, 'dispatch'>) | undefined;
  /** the subset's circuit breaker (connectionPool limits), null for none; omitted: none */
  readonly breakerFor?: ((subset: Subset) => CircuitBreaker | null) | undefined;
  readonly random?: (() => number) | undefined;
  /** shared session-cache hit/miss totals */
  readonly counters?: CacheCounters | undefined;
  /** shared verified-pin cache hit/miss totals */
  readonly pinCounters?: PinCacheCounters | undefined;
}

/** Throws StickydError (STICKYD_ERR_RELOAD) when the snapshot cannot be compiled. */
export function buildRuntimeSnapshot(snapshot: Snapshot, deps: RuntimeDeps): RuntimeSnapshot {
  const random = deps.random ?? Math.random;
  const persistentCount = snapshot.subsets.filter((s) => s.persistent != null).length;
  const pinCacheSize = snapshot.settings.pinCacheSize ?? DEFAULT_PIN_CACHE_SIZE;
  const pinCache = new PinCache(pinCacheSize === 0 ? 0 : Math.max(1, Math.floor(pinCacheSize / Math.max(1, persistentCount))), deps.pinCounters);
  const subsets = snapshot.subsets.map((s) => buildSubset(s, deps, random, buildPins(s, snapshot.sessionKeys, pinCache)));
  const listeners = new Map<number, RuntimeListener>();
  for (const l of snapshot.listeners) {
    if (listeners.has(l.port)) continue;
    listeners.set(l.port, {
      port: l.port,
      protocol: l.protocol,
      servers: buildRuntimeServers(l),
      gatewayHosts: buildHostTable(l.gatewayHosts.map((h) => [h, true] as const)),
      virtualHosts: buildHostTable(
        l.virtualHosts.flatMap((vh) => {
          const compiled: RuntimeVirtualHost = { name: vh.name, routes: vh.routes.map((r) => buildRoute(r, subsets)) };
          return vh.hosts.map((h) => [h, compiled] as const);
        }),
      ),
    });
  }
  let lookup;
  try {
    lookup = deps.kernel.load(snapshot.subsets);
  } catch (err) {
    throw new StickydError('STICKYD_ERR_RELOAD', `epoch ${snapshot.epoch}: the kernel rejected the balancer tables: ${String(err)}`, { cause: err });
  }
  const hashSubsets = snapshot.subsets.filter((x) => x.policy.kind === 'hash').length;
  const sessions = new SessionCache(lookup, deps.hasher, snapshot.settings.sessionCacheSize, deps.counters, hashSubsets);
  const trustedPeers = buildTrustedPeers(snapshot.settings.trustedProxies ?? []);
  const meter = buildSnapshotMeter(reachableTargets(listeners.values()), subsets.map((s) => s.meter));
  return {
    epoch: snapshot.epoch,
    configHash: snapshot.configHash,
    settings: snapshot.settings,
    listeners,
    subsets,
    sessions,
    meter,
    hasher: deps.hasher,
    trustedPeers,
    random,
  };
}

/** The meter of every route target reachable from a listener, once each (a route under several hosts counts once). */
function reachableTargets(listeners: Iterable<RuntimeListener>): TargetMeter[] {
  const seen = new Set<RouteTarget>();
  for (const l of listeners) {
    const vhosts = [...l.virtualHosts.exact.values(), ...l.virtualHosts.wildcards.map((w) => w.value)];
    if (l.virtualHosts.any !== null) vhosts.push(l.virtualHosts.any);
    for (const vh of vhosts) for (const r of vh.routes) for (const t of r.targets) seen.add(t);
  }
  return [...seen].map((t) => t.meter);
}

/** verified-pin cache entries per worker when the snapshot's settings carry none (config/settings.ts) */
const DEFAULT_PIN_CACHE_SIZE = 100_000;

function buildPins(s: Subset, keys: readonly string[] | undefined, cache: PinCache): PinRuntime | null {
  const p = s.persistent;
  if (p == null) return null;
  if (keys === undefined || keys.length === 0) throw new StickydError('STICKYD_ERR_RELOAD', `subset ${s.name} has persistent sessions but the snapshot carries no session key`);
  const carrier = readPinCarrier(p);
  const own = s.policy.kind === 'hash' ? s.policy.key : null;
  const placeBy = own === null || sameHashKey(own, carrier) ? null : own;
  const parts = buildSetCookieParts(p.name, p.path, p.maxAge ? p.lifetimeSec : 0, p.attributes);
  return { table: buildPinTable(p, s.endpoints, keys), cache, carrier, placeBy, cookiePrefix: parts.prefix, cookieSuffix: parts.suffix };
}

/** Counts a balanced subset's active requests per endpoint beside what its picker does with them. */
function countActive(picker: Picker, active: Int32Array | null): Picker {
  if (active === null) return picker;
  return {
    pick: () => picker.pick(),
    start(i: number): void {
      active[i]!++;
      picker.start(i);
    },
    finish(i: number): void {
      if (active[i]! > 0) active[i]!--;
      picker.finish(i);
    },
  };
}

function buildSubset(s: Subset, deps: RuntimeDeps, random: () => number, pins: PinRuntime | null): RuntimeSubset {
  if (s.endpoints.length === 0) throw new StickydError('STICKYD_ERR_RELOAD', `subset ${s.name} has no endpoints`);
  const policy = s.policy;
  const hashKey = policy.kind === 'hash' ? policy.key : null;
  if (hashKey !== null && s.table === null) throw new StickydError('STICKYD_ERR_RELOAD', `subset ${s.name} has a hash policy but no balancer table`);
  // Envoy's ring/Maglev balancers pick at random when a request yields no hash; so do we.
  const placement = buildPlacement(s);
  const picker = countActive(createPicker(policy.kind === 'hash' ? 'random' : policy.kind, s.endpoints, random), placement.active);
  // a persistent subset's cookie is its pin: the policy's own cookie of the same name is not minted beside it
  const mintsCookie = pins === null && hashKey !== null && hashKey.kind === 'cookie' && hashKey.ttlSec !== null;
  const parts = mintsCookie ? buildSetCookieParts(hashKey.name, hashKey.path, hashKey.ttlSec ?? 0, hashKey.attributes) : null;
  const poolFor = deps.poolFor;
  const breaker = deps.breakerFor?.(s) ?? null;
  return {
    id: s.id,
    name: s.name,
    host: s.host,
    endpoints: s.endpoints,
    pools: poolFor === undefined ? [] : s.endpoints.map((e) => poolFor(e, s, breaker)),
    breaker,
    tls: s.tls ?? null,
    hashKey,
    picker,
    mintsCookie,
    setCookiePrefix: parts?.prefix ?? '',
    setCookieSuffix: parts?.suffix ?? '',
    table: s.table,
    outlier: s.outlier ?? null,
    meter: buildSubsetMeter(s.name, s.endpoints),
    placement,
    pins,
    noneDown: new Uint8Array(s.endpoints.length),
  };
}

function buildRoute(r: Route, subsets: readonly RuntimeSubset[]): RuntimeRoute {
  // Mutable while built because each target points back at its route.
  const route: { -readonly [K in keyof RuntimeRoute]: RuntimeRoute[K] } = {
    name: r.name,
    matches: r.matches.map(buildRouteMatch),
    targets: [],
    cumulative: new Float64Array(r.destinations.length),
    totalWeight: 0,
    sole: null,
    timeoutMs: r.timeoutMs,
    retries: r.retries ?? null,
    plans: buildRoutePlans(r),
    mirrors: r.mirrors === undefined || r.mirrors.length === 0
      ? null
      : r.mirrors.map((m) => ({ subset: subsetOf(subsets, r.name, m.subset), percent: m.percent })),
    split: null,
  };
  const targets: RouteTarget[] = [];
  let carrying = 0;
  for (let i = 0; i < r.destinations.length; i++) {
    const d = r.destinations[i]!;
    const subset = subsetOf(subsets, r.name, d.subset);
    const target: RouteTarget = {
      route,
      subset,
      meter: buildTargetMeter(r.name, subset.meter),
      requestEdits: d.requestHeaders?.length ? d.requestHeaders : null,
      responseEdits: d.responseHeaders?.length ? d.responseHeaders : null,
      authority: d.authority ?? null,
    };
    targets.push(target);
    if (d.weight > 0) {
      route.totalWeight += d.weight;
      carrying++;
      route.sole = target;
    }
    route.cumulative[i] = route.totalWeight;
  }
  if (route.totalWeight <= 0 && route.plans.answer === null) throw new StickydError('STICKYD_ERR_RELOAD', `route ${r.name} has no destination with weight > 0`);
  if (carrying !== 1) route.sole = null;
  route.targets = targets;
  route.split = buildSplit(r, targets);
  return route;
}

function subsetOf(subsets: readonly RuntimeSubset[], route: string, id: number): RuntimeSubset {
  const subset = subsets[id];
  if (subset === undefined) throw new StickydError('STICKYD_ERR_RELOAD', `route ${route} points at missing subset ${id}`);
  return subset;
}

function buildSplit(r: Route, targets: readonly RouteTarget[]): RuntimeSplit | null {
  const split = r.sessionSplit;
  if (split === undefined || split === null) return null;
  if (split.table === null) throw new StickydError('STICKYD_ERR_RELOAD', `route ${r.name} splits by session key but has no rendezvous table`);
  const key = split.key;
  const sameKey = targets.map((t) => t.subset.hashKey !== null && sameHashKey(t.subset.hashKey, key));
  const minting = (i: number): boolean => sameKey[i]! && targets[i]!.subset.mintsCookie;
  const firstMinter = targets.find((_, i) => r.destinations[i]!.weight > 0 && minting(i))?.subset ?? null;
  const minter = targets.map((t, i) => (minting(i) ? t.subset : firstMinter));
  const pinSubset = targets.find((t, i) => r.destinations[i]!.weight > 0 && t.subset.pins !== null && sameHashKey(t.subset.pins.carrier, key))?.subset ?? null;
  return { key, table: split.table, sameKey, minter, mints: firstMinter !== null || pinSubset !== null, pinSubset };
}

function buildRouteMatch(m: RouteMatch): CompiledRouteMatch {
  // Istio: ignoreUriCase applies to exact and prefix uri matches only
  const uriLower = m.ignoreUriCase === true && m.uri !== null && m.uri.kind !== 'regex';
  const named = (h: { name: string; match: StringMatch }): CompiledNamedMatch => ({ name: h.name.toLowerCase(), match: buildStringMatch(h.match) });
  return {
    uri: m.uri === null ? null : buildStringMatch(uriLower ? { kind: m.uri.kind, value: m.uri.value.toLowerCase() } : m.uri),
    uriLower,
    method: m.method === null ? null : buildStringMatch(m.method),
    authority: m.authority === null ? null : buildStringMatch(m.authority),
    headers: m.headers.map(named),
    withoutHeaders: (m.withoutHeaders ?? []).map(named),
    queryParams: m.queryParams.map((q) => ({ name: q.name, match: buildStringMatch(q.match) })),
    cut: buildMatchCut(m),
  };
}

/** "10.0.0.0/8", "192.0.2.7", "::1" (validated by config/settings.ts) -> one BlockList. */
function buildTrustedPeers(list: readonly string[]): BlockList | null {
  if (list.length === 0) return null;
  const peers = new BlockList();
  for (const entry of list) {
    const [address = '', prefix] = entry.split('/');
    const type = address.includes(':') ? 'ipv6' : 'ipv4';
    if (prefix === undefined) peers.addAddress(address, type);
    else peers.addSubnet(address, Number(prefix), type);
  }
  return peers;
}

/** Istio regex matches are full matches (Envoy safe_regex), hence the anchors. */
export function buildStringMatch(m: StringMatch): CompiledStringMatch {
  if (m.kind !== 'regex') return { kind: m.kind, value: m.value };
  try {
    return { kind: 'regex', value: m.value, regex: new RegExp(`^(?:${m.value})$`) };
  } catch (err) {
    throw new StickydError('STICKYD_ERR_RELOAD', `invalid regex ${JSON.stringify(m.value)}: ${(err as Error).message}`, { cause: err });
  }
}
