// Route destinations -> Subsets: one per distinct (host, subset, port), with the ServiceEntry
// endpoints its DestinationRule labels select and the policy that applies. Ids follow (name,
// port) order, so every instance numbers the same config the same way whatever the file order.
import type { LbPolicy, PersistentSession, Subset } from '../../snapshot/types.js';
import { HASH_BALANCE_FACTOR_ANNOTATION } from '../validate/metadata.js';
import type { PersistentSessionRes } from '../resources.js';
import { at, describePlace, type IssueSink } from '../issues.js';
import { covers, isWildcard } from '../hosts.js';
import type { DestinationRef, DestinationRuleRes, Resources, ServiceEntryRes, ServicePort } from '../resources.js';
import { buildPortEndpoints, labelsMatch, readEndpointSpecs, type PortEndpoints } from './endpoints.js';
import { compareStrings } from './order.js';
import type { CertificateLoader } from '../certificates.js';
import { mergeTrafficPolicy } from './traffic-policy.js';

const DEFAULT_POLICY: LbPolicy = { kind: 'leastRequest' }; // Istio's default simple policy since 1.14

/** Builds subsets as destinations are resolved; `resolve` returns a key, `finish` assigns ids. */
export class SubsetCollector {
  readonly #sink: IssueSink;
  readonly #res: Resources;
  readonly #byHost = new Map<string, ServiceEntryRes>();
  readonly #rules: DestinationRuleRes[] = [];
  readonly #endpoints = new Map<string, PortEndpoints>();
  readonly #subsets = new Map<string, Omit<Subset, 'id'>>();
  readonly #failed = new Set<string>();
  readonly #certs: CertificateLoader;

  constructor(sink: IssueSink, res: Resources, certs: CertificateLoader) {
    this.#sink = sink;
    this.#res = res;
    this.#certs = certs;
    this.#indexServiceEntries();
    this.#indexRules();
  }

  /** the subset key of a destination, or null when it cannot be resolved (error reported) */
  resolve(d: DestinationRef): string | null {
    const se = this.#byHost.get(d.host);
    if (se === undefined) {
      this.#sink.error(at(d.place, 'host'), `no ServiceEntry defines host "${d.host}"`);
      return null;
    }
    const port = this.#pickPort(d, se);
    const dr = findRule(this.#rules, d.host);
    const sub = d.subset === null ? null : dr?.subsets.find((s) => s.name === d.subset);
    if (d.subset !== null && sub === undefined) {
      const why = dr === null ? `no DestinationRule is defined for host "${d.host}"` : `DestinationRule/${dr.name} defines ${dr.subsets.length === 0 ? 'no subsets' : `subsets ${dr.subsets.map((s) => s.name).join(', ')}`}`;
      this.#sink.error(at(d.place, 'subset'), `unknown subset "${d.subset}": ${why}`);
      return null;
    }
    if (port === null) return null;
    const name = d.subset === null ? d.host : `${d.host}/${d.subset}`;
    const key = `${name}\n${port.number}`;
    if (this.#failed.has(key)) return null;
    if (this.#subsets.has(key)) return key;
    const selector = sub?.labels ?? {};
    const all = this.#portEndpoints(se, port, d.host);
    const endpoints = all.endpoints.filter((e) => labelsMatch(selector, e.labels));
    const sources = all.sources.filter((s) => labelsMatch(selector, s.labels));
    // Names are resolved by the primary after the compile (dns-endpoints.ts): a subset of names only is not empty.
    if (endpoints.length === 0 && sources.length === 0) {
      const labels = Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',') || '(none)';
      this.#sink.error(d.place, `${name} port ${port.number} has no endpoints: none of ServiceEntry/${se.name} carries labels ${labels}`);
      this.#failed.add(key);
      return null;
    }
    // Istio: a subset's policies override the rule's one by one (a connectionPool whole, not field by
    // field), and a port-level entry replaces its level's policies for that port (traffic-policy.ts).
    const merged = mergeTrafficPolicy(dr, sub ?? null, port.number);
    const policy = merged.lb ?? DEFAULT_POLICY;
    const outlier = merged.outlier;
    const connectionPool = merged.pool;
    // tls is one message in Istio too: a subset's replaces the rule's whole (its DISABLE included).
    const tls = merged.tls === null ? null : this.#certs.loadUpstream(merged.tls);
    const persistent = se.persistent === null ? null : buildPersistentSession(this.#sink, se.persistent, policy, d.host);
    const balanceFactor = dr?.balanceFactor ?? null;
    if (balanceFactor !== null && policy.kind !== 'hash' && persistent === null) {
      this.#sink.warn(d.place, `DestinationRule/${dr?.name} sets ${HASH_BALANCE_FACTOR_ANNOTATION}, but ${name} neither hashes nor pins sessions: the factor bounds only where new sessions are placed, so it does nothing here`);
    }
    const dns = sources.length === 0 ? null : { sources, fixed: endpoints };
    this.#subsets.set(key, {
      name, host: d.host, subsetName: d.subset, port: port.number, endpoints, policy, table: null, outlier, connectionPool, tls, dns,
      ...(persistent !== null ? { persistent } : {}),
      ...(balanceFactor !== null ? { balanceFactor } : {}),
    });
    return key;
  }

  /** the subsets in (name, port) order with their ids, and key -> id */
  finish(): { subsets: Subset[]; ids: Map<string, number> } {
    const sorted = [...this.#subsets.entries()].sort(([, a], [, b]) => compareStrings(a.name, b.name) || a.port - b.port);
    const ids = new Map(sorted.map(([key], id) => [key, id]));
    return { subsets: sorted.map(([, s], id) => ({ id, ...s })), ids };
  }

  #indexServiceEntries(): void {
    for (const se of this.#res.serviceEntries) {
      for (const host of se.hosts) {
        const other = this.#byHost.get(host);
        if (other === undefined) this.#byHost.set(host, se);
        else this.#sink.error(at(se.place, 'spec', 'hosts'), `host "${host}" is also defined by ServiceEntry/${other.name} at ${describePlace(at(other.place, 'spec', 'hosts'))}`);
      }
    }
  }

  #indexRules(): void {
    for (const dr of this.#res.destinationRules) {
      const other = this.#rules.find((r) => r.host === dr.host);
      if (other === undefined) this.#rules.push(dr);
      else this.#sink.error(at(dr.place, 'spec', 'host'), `host "${dr.host}" already has DestinationRule/${other.name} at ${describePlace(at(other.place, 'spec', 'host'))}`);
      this.#warnUnknownPorts(dr);
    }
  }

  /** A port-level entry for a port the service does not have applies to nothing: likely a typo or a port since removed. */
  #warnUnknownPorts(dr: DestinationRuleRes): void {
    const se = this.#byHost.get(dr.host);
    if (se === undefined) return;
    const ports = se.ports.map((p) => p.number);
    for (const p of [...dr.ports, ...dr.subsets.flatMap((s) => s.ports)]) {
      if (!ports.includes(p.port)) this.#sink.warn(p.place, `ServiceEntry/${se.name} has no port ${p.port} (it has ${ports.join(', ') || 'none'}): this port traffic policy applies to nothing`);
    }
  }

  #pickPort(d: DestinationRef, se: ServiceEntryRes): ServicePort | null {
    if (d.port === null) {
      if (se.ports.length === 1) return se.ports[0] as ServicePort;
      this.#sink.error(at(d.place, 'port'), `required: ServiceEntry/${se.name} has ports ${se.ports.map((p) => p.number).join(', ') || '(none)'}`);
      return null;
    }
    const port = se.ports.find((p) => p.number === d.port);
    if (port === undefined) this.#sink.error(at(d.place, 'port', 'number'), `ServiceEntry/${se.name} has no port ${d.port}`);
    return port ?? null;
  }

  /** `host`: the destination's, resolved itself when a DNS entry lists no endpoints (Istio: each host is its own cluster) */
  #portEndpoints(se: ServiceEntryRes, port: ServicePort, host: string): PortEndpoints {
    const byHost = se.resolution !== 'STATIC' && se.selector === null && (se.endpoints ?? []).length === 0;
    const key = byHost ? `${se.name}\n${port.number}\n${host}` : `${se.name}\n${port.number}`;
    let list = this.#endpoints.get(key);
    if (list === undefined) {
      const specs = byHost
        ? [{ address: host, hostname: true, ports: {}, labels: {}, weight: 1, place: at(se.place, 'spec', 'hosts') }]
        : readEndpointSpecs(se, this.#res.workloadEntries);
      list = buildPortEndpoints(this.#sink, se, port, specs);
      this.#endpoints.set(key, list);
    }
    return list;
  }
}

/**
 * A pin's lifetime when no DestinationRule httpCookie with a ttl names the same cookie: one day,
 * re-issued (sliding) once half is used, so an active session never expires. Istio's own
 * persistent-session cookie carries no lifetime at all; a proxy-enforced expiry needs one.
 */
export const DEFAULT_PIN_LIFETIME_SEC = 86_400;

/**
 * The ServiceEntry's persistent-session labels with the DestinationRule's httpCookie (ttl, path,
 * attributes) when it names the same cookie: a ttl > 0 is the pin's lifetime and the cookie's
 * Max-Age; ttl 0 or none makes a browser session cookie whose pin lives DEFAULT_PIN_LIFETIME_SEC.
 * The label's path wins over the rule's; the attributes (SameSite, Secure, Partitioned, ...) go on
 * every pin's Set-Cookie as they go on a minted cookie.
 */
function buildPersistentSession(sink: IssueSink, p: PersistentSessionRes, policy: LbPolicy, host: string): PersistentSession {
  const key = policy.kind === 'hash' ? policy.key : null;
  const cookie = key !== null && key.kind === 'cookie' && p.kind === 'cookie' && key.name === p.name ? key : null;
  if (key !== null && key.kind === 'cookie' && cookie === null && p.kind === 'cookie') {
    sink.warn(p.place, `the DestinationRule hashes on cookie "${key.name}", not on the persistent-session cookie "${p.name}": new sessions are placed by the hash of "${key.name}" when a request carries it`);
  }
  const ttl = cookie?.ttlSec ?? null;
  const lifetimeSec = ttl !== null && ttl > 0 ? ttl : DEFAULT_PIN_LIFETIME_SEC;
  return {
    kind: p.kind,
    name: p.name,
    path: p.path ?? cookie?.path ?? '/',
    lifetimeSec,
    maxAge: ttl !== null && ttl > 0,
    ...(cookie?.attributes !== undefined && cookie.attributes.length > 0 ? { attributes: cookie.attributes } : {}),
    scope: `${p.kind}:${p.name}\0${host}`,
  };
}

/** The DestinationRule for a host: exact host first, then the longest wildcard covering it. */
function findRule(rules: readonly DestinationRuleRes[], host: string): DestinationRuleRes | null {
  const exact = rules.find((r) => r.host === host);
  if (exact !== undefined) return exact;
  const wild = rules.filter((r) => isWildcard(r.host) && covers(r.host, host)).sort((a, b) => b.host.length - a.host.length || compareStrings(a.host, b.host));
  return wild[0] ?? null;
}
