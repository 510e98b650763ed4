// DestinationRule trafficPolicy (and subsets[].trafficPolicy): loadBalancer, outlierDetection,
// connectionPool and tls (client-tls.ts), and portLevelSettings with the same four per service port.
import type { ConnectionPoolPolicy, CookieAttribute, HashKey, LbPolicy, OutlierPolicy } from '../../snapshot/types.js';
import { at, type IssueSink, type Place } from '../issues.js';
import { isAbsent, NOT_IMPLEMENTED, readBool, readInt, readList, readObject, readPort, readString, requireString } from '../fields.js';
import { readDurationMs } from '../duration.js';
import { readOutlierDetection } from './outlier-detection.js';
import { readConnectionPool } from './connection-pool.js';
import { readClientTls } from './client-tls.js';
import type { TlsContext } from './gateway-tls.js';
import type { ClientTlsRes } from '../resources.js';
import type { PortPolicy } from '../resources.js';

const TRAFFIC_POLICY_FIELDS = {
  known: ['loadBalancer', 'outlierDetection', 'connectionPool', 'tls', 'portLevelSettings'],
  ignored: Object.fromEntries(
    ['tunnel', 'proxyProtocol', 'retryBudget'].map((k) => [k, 'not implemented by stickyd yet; ignored']),
  ),
};

// Istio's TrafficPolicy.PortTrafficPolicy: the same policies, for one service port.
const PORT_POLICY_FIELDS = { known: ['port', 'loadBalancer', 'connectionPool', 'outlierDetection', 'tls'] };

const LB_FIELDS = {
  known: ['simple', 'consistentHash'],
  ignored: { localityLbSetting: NOT_IMPLEMENTED, warmupDurationSecs: NOT_IMPLEMENTED, warmup: NOT_IMPLEMENTED },
};

const HASH_KEYS = ['httpCookie', 'httpHeaderName', 'useSourceIp', 'httpQueryParameterName'] as const;

const HASH_FIELDS = { known: [...HASH_KEYS, 'ringHash', 'maglev', 'minimumRingSize'] };

// Without a Path attribute a browser scopes the cookie to the request's directory (RFC 6265
// §5.1.4), splitting one visitor into several sessions; "/" keeps one session per site.
const COOKIE_PATH_DEFAULT = '/';
// Envoy MaglevLbConfig.table_size: "must be prime number limited to 5000011"
const MAGLEV_MAX_TABLE_SIZE = 5_000_011;
// Envoy RingHashLbConfig.maximum_ring_size default 8M: a larger minimum could never be met
const MAX_MINIMUM_RING_SIZE = 8_388_608;

export interface TrafficPolicy {
  /** loadBalancer as an LbPolicy; null when absent or invalid */
  readonly lb: LbPolicy | null;
  /** outlierDetection; null when absent */
  readonly outlier: OutlierPolicy | null;
  /** connectionPool; null when absent */
  readonly pool: ConnectionPoolPolicy | null;
  /** tls; null when absent or invalid */
  readonly tls: ClientTlsRes | null;
  /** portLevelSettings, in order, the first of each port number only (Istio applies the first match) */
  readonly ports: readonly PortPolicy[];
}

/** trafficPolicy -> its loadBalancer, outlierDetection, connectionPool, tls and portLevelSettings. */
export function readTrafficPolicy(sink: IssueSink, place: Place, value: unknown, ctx: TlsContext): TrafficPolicy {
  const tp = readObject(sink, place, value, TRAFFIC_POLICY_FIELDS);
  if (tp === null) return { lb: null, outlier: null, pool: null, tls: null, ports: [] };
  return {
    lb: readLoadBalancer(sink, at(place, 'loadBalancer'), tp.loadBalancer),
    outlier: readOutlierDetection(sink, at(place, 'outlierDetection'), tp.outlierDetection),
    pool: readConnectionPool(sink, at(place, 'connectionPool'), tp.connectionPool),
    tls: readClientTls(sink, at(place, 'tls'), tp.tls, ctx),
    ports: readPortLevelSettings(sink, at(place, 'portLevelSettings'), tp.portLevelSettings, ctx),
  };
}

const PORT_POLICIES = ['loadBalancer', 'connectionPool', 'outlierDetection', 'tls'] as const;

/**
 * portLevelSettings as Istio validates them: each names a port and sets at least one policy. A
 * port listed twice is warned: Istio applies the first entry for a port and never the later ones.
 */
function readPortLevelSettings(sink: IssueSink, place: Place, value: unknown, ctx: TlsContext): PortPolicy[] {
  const out: PortPolicy[] = [];
  readList(sink, place, value)?.forEach((item, i) => {
    const p = at(place, i);
    const entry = readObject(sink, p, item, PORT_POLICY_FIELDS);
    if (entry === null) {
      if (isAbsent(item)) sink.error(p, 'an empty port traffic policy');
      return;
    }
    const sel = readObject(sink, at(p, 'port'), entry.port, { known: ['number'] });
    const port = sel === null ? null : readPort(sink, at(p, 'port', 'number'), sel.number);
    if (sel === null || isAbsent(sel.number)) sink.error(at(p, 'port'), 'a port traffic policy needs port.number (Istio)');
    if (PORT_POLICIES.every((k) => isAbsent(entry[k]))) sink.error(p, `a port traffic policy must set at least one of ${PORT_POLICIES.join(', ')} (Istio)`);
    const lb = readLoadBalancer(sink, at(p, 'loadBalancer'), entry.loadBalancer);
    const outlier = readOutlierDetection(sink, at(p, 'outlierDetection'), entry.outlierDetection);
    const pool = readConnectionPool(sink, at(p, 'connectionPool'), entry.connectionPool);
    const tls = readClientTls(sink, at(p, 'tls'), entry.tls, ctx);
    if (port === null) return;
    if (out.some((o) => o.port === port)) {
      sink.warn(at(p, 'port', 'number'), `port ${port} already has a port traffic policy earlier in this list: Istio applies only the first, so this one is ignored`);
      return;
    }
    out.push({ port, lb, outlier, pool, tls, place: at(p, 'port', 'number') });
  });
  return out;
}

function readLoadBalancer(sink: IssueSink, place: Place, value: unknown): LbPolicy | null {
  const lb = readObject(sink, place, value, LB_FIELDS);
  if (lb === null) return null;
  const hasSimple = !isAbsent(lb.simple);
  const hasHash = !isAbsent(lb.consistentHash);
  if (hasSimple && hasHash) {
    sink.error(place, 'set only one of simple or consistentHash');
    return null;
  }
  if (hasHash) return readConsistentHash(sink, at(place, 'consistentHash'), lb.consistentHash);
  if (hasSimple) return readSimple(sink, at(place, 'simple'), lb.simple);
  return null;
}

function readSimple(sink: IssueSink, place: Place, value: unknown): LbPolicy | null {
  const simple = readString(sink, place, value);
  switch (simple) {
    case null:
      return null;
    case 'ROUND_ROBIN':
      return { kind: 'roundRobin' };
    case 'LEAST_REQUEST':
    case 'UNSPECIFIED': // Istio: "the default", which is LEAST_REQUEST
      return { kind: 'leastRequest' };
    case 'LEAST_CONN':
      sink.warn(place, 'LEAST_CONN is a deprecated alias of LEAST_REQUEST');
      return { kind: 'leastRequest' };
    case 'RANDOM':
      return { kind: 'random' };
    case 'PASSTHROUGH':
      sink.error(place, 'PASSTHROUGH is not implemented: stickyd always picks an endpoint itself');
      return null;
    default:
      sink.error(place, `unknown load balancer "${simple}": use ROUND_ROBIN, LEAST_REQUEST or RANDOM, or consistentHash`);
      return null;
  }
}

function readConsistentHash(sink: IssueSink, place: Place, value: unknown): LbPolicy | null {
  const ch = readObject(sink, place, value, HASH_FIELDS);
  if (ch === null) return null;
  const set = HASH_KEYS.filter((k) => !isAbsent(ch[k]) && ch[k] !== false);
  if (set.length !== 1) {
    sink.error(place, set.length === 0 ? `must set one of ${HASH_KEYS.join(', ')}` : `must set only one of ${HASH_KEYS.join(', ')}, got ${set.join(', ')}`);
    return null;
  }
  const key = readHashKey(sink, place, ch, set[0] as (typeof HASH_KEYS)[number]);
  const table = readTable(sink, place, ch);
  if (key === null || table === null) return null;
  return { kind: 'hash', key, ...table };
}

function readHashKey(sink: IssueSink, place: Place, ch: Record<string, unknown>, which: (typeof HASH_KEYS)[number]): HashKey | null {
  const p = at(place, which);
  switch (which) {
    case 'httpCookie':
      return readCookie(sink, p, ch.httpCookie);
    case 'httpHeaderName': {
      const name = requireString(sink, p, ch.httpHeaderName);
      return name === null ? null : { kind: 'header', name: name.toLowerCase() };
    }
    case 'useSourceIp':
      return readBool(sink, p, ch.useSourceIp) === true ? { kind: 'sourceIp' } : null;
    case 'httpQueryParameterName': {
      const name = requireString(sink, p, ch.httpQueryParameterName);
      return name === null ? null : { kind: 'query', name };
    }
  }
}

function readCookie(sink: IssueSink, place: Place, value: unknown): HashKey | null {
  const c = readObject(sink, place, value, { known: ['name', 'path', 'ttl', 'attributes'] });
  if (c === null) return null;
  const attributes = readCookieAttributes(sink, at(place, 'attributes'), c.attributes);
  const name = requireString(sink, at(place, 'name'), c.name);
  const path = readString(sink, at(place, 'path'), c.path) ?? COOKIE_PATH_DEFAULT;
  const ttlMs = readDurationMs(sink, at(place, 'ttl'), c.ttl);
  if (name === null || (ttlMs === null && !isAbsent(c.ttl))) return null;
  // Max-Age counts whole seconds; round a fractional ttl up so it never becomes a session cookie.
  const ttlSec = ttlMs === null ? null : Math.ceil(ttlMs / 1000);
  if (ttlMs !== null && ttlSec !== ttlMs / 1000) sink.warn(at(place, 'ttl'), `rounded up to ${ttlSec}s: cookie lifetimes are whole seconds`);
  if (attributes === null) return null;
  return { kind: 'cookie', name, path, ttlSec, ...(attributes.length > 0 ? { attributes } : {}) };
}

// Attributes another field sets: two Path or Max-Age attributes leave the browser to pick one
// (RFC 6265 §5.3: the last wins), and an Expires beside Max-Age is ignored by it, so each is an error.
const COOKIE_ATTRIBUTES_OWNED: Readonly<Record<string, string>> = { path: 'httpCookie.path', 'max-age': 'httpCookie.ttl', expires: 'httpCookie.ttl' };
// RFC 9110 token characters: the attribute name becomes `; <name>=<value>` in Set-Cookie.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// A cookie attribute value is any CHAR except CTLs and ";" (RFC 6265 §4.1.1 cookie-av).
const ATTRIBUTE_VALUE = /^[\x20-\x3a\x3c-\x7e]*$/;
const SAME_SITE = ['Strict', 'Lax', 'None'];

/** httpCookie.attributes (Istio 1.28): [{name, value}] appended to the Set-Cookie stickyd mints. */
function readCookieAttributes(sink: IssueSink, place: Place, value: unknown): CookieAttribute[] | null {
  if (isAbsent(value)) return [];
  const list = readList(sink, place, value);
  if (list === null) return null;
  const out: CookieAttribute[] = [];
  const seen = new Set<string>();
  let ok = true;
  list.forEach((item, i) => {
    const p = at(place, i);
    const a = readObject(sink, p, item, { known: ['name', 'value'] });
    const name = a === null ? null : requireString(sink, at(p, 'name'), a.name);
    const v = a === null ? null : isAbsent(a.value) ? '' : readString(sink, at(p, 'value'), a.value);
    if (name === null || v === null) { ok = false; return; }
    const lower = name.toLowerCase();
    const owner = COOKIE_ATTRIBUTES_OWNED[lower];
    const problem = !TOKEN.test(name) ? `attribute name ${JSON.stringify(name)} is not a token`
      : owner !== undefined ? `${name} is set by ${owner}: set it there`
      : seen.has(lower) ? `${name} is given twice`
      : !ATTRIBUTE_VALUE.test(v) ? `the value of ${name} must be visible ASCII or spaces, without ";" (it ends up in a Set-Cookie line)`
      : lower === 'samesite' && !SAME_SITE.some((x) => x.toLowerCase() === v.toLowerCase()) ? `SameSite must be one of ${SAME_SITE.join(', ')}, got ${JSON.stringify(v)}`
      : null;
    if (problem !== null) {
      sink.error(at(p, problem.startsWith('the value') || problem.startsWith('SameSite') ? 'value' : 'name'), problem);
      ok = false;
      return;
    }
    seen.add(lower);
    out.push({ name, value: v });
  });
  if (!ok) return null;
  const has = (n: string): boolean => seen.has(n);
  const none = out.some((a) => a.name.toLowerCase() === 'samesite' && a.value.toLowerCase() === 'none');
  // Browsers drop these cookies outright: a session that could never hold is worth a warning.
  if (none && !has('secure')) sink.warn(place, 'SameSite=None without Secure: browsers reject the cookie');
  if (has('partitioned') && !has('secure')) sink.warn(place, 'Partitioned without Secure: browsers reject the cookie');
  return out;
}

type Table = { table: 'ring' | 'maglev'; minimumRingSize: number | null; maglevTableSize: number | null };

function readTable(sink: IssueSink, place: Place, ch: Record<string, unknown>): Table | null {
  const ring = readObject(sink, at(place, 'ringHash'), ch.ringHash, { known: ['minimumRingSize'] });
  const maglev = readObject(sink, at(place, 'maglev'), ch.maglev, { known: ['tableSize'] });
  const legacy = readInt(sink, at(place, 'minimumRingSize'), ch.minimumRingSize, 1, MAX_MINIMUM_RING_SIZE);
  if (legacy !== null) sink.warn(at(place, 'minimumRingSize'), 'deprecated in Istio: use ringHash.minimumRingSize (honoured the same way)');
  const chosen = [ring && 'ringHash', maglev && 'maglev', legacy !== null && 'minimumRingSize'].filter(Boolean);
  if (chosen.length > 1) {
    sink.error(place, `set only one of ringHash, maglev or minimumRingSize, got ${chosen.join(', ')}`);
    return null;
  }
  if (maglev !== null) {
    const size = readInt(sink, at(place, 'maglev', 'tableSize'), maglev.tableSize, 2, MAGLEV_MAX_TABLE_SIZE);
    if (size !== null && !isPrime(size)) {
      sink.error(at(place, 'maglev', 'tableSize'), `${size} is not a prime: a Maglev table size must be prime`);
      return null;
    }
    if (size === null && !isAbsent(maglev.tableSize)) return null;
    return { table: 'maglev', minimumRingSize: null, maglevTableSize: size };
  }
  const min = ring === null ? legacy : readInt(sink, at(place, 'ringHash', 'minimumRingSize'), ring.minimumRingSize, 1, MAX_MINIMUM_RING_SIZE);
  return { table: 'ring', minimumRingSize: min, maglevTableSize: null };
}

export function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}
