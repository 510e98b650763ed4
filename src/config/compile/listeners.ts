// Gateways + VirtualServices -> Listeners: one per Gateway port, serving the union of its servers'
// hosts, with the VirtualServices bound to those Gateways whose hosts intersect them. Virtual hosts
// are in VirtualService name order and servers in Gateway name order, so file and document order
// never change the snapshot.
import type { Listener, ListenerServer, Route, VirtualHost } from '../../snapshot/types.js';
import { at, describePlace, type IssueSink } from '../issues.js';
import { intersectHosts } from '../hosts.js';
import type { GatewayRes, GatewayServer, Resources, VirtualServiceRes } from '../resources.js';
import type { CertificateLoader } from '../certificates.js';
import { compareStrings } from './order.js';
import type { ListenerContext } from './routes.js';

interface PortState {
  readonly protocol: GatewayServer['protocol'];
  readonly first: GatewayServer;
  readonly hosts: Set<string>;
  readonly servers: ListenerServer[];
  /** host -> the server that claimed it first on this port */
  readonly owners: Map<string, GatewayServer>;
  /** VirtualService name -> hosts it serves on this port */
  readonly bound: Map<string, string[]>;
  /** VirtualService name -> the Gateways it is served through on this port (for per-match gateways) */
  readonly via: Map<string, Set<string>>;
}

export function buildListeners(
  sink: IssueSink,
  res: Resources,
  routesOf: (vs: VirtualServiceRes, ctx: ListenerContext) => Route[],
  certs: CertificateLoader,
): Listener[] {
  const gateways = new Map(res.gateways.map((g) => [g.name, g]));
  const ports = new Map<number, PortState>();
  for (const g of [...res.gateways].sort((a, b) => compareStrings(a.name, b.name))) {
    for (const s of g.servers) addServer(sink, ports, s, certs);
  }
  const used = new Set<string>();
  const byName = [...res.virtualServices].sort((a, b) => compareStrings(a.name, b.name));
  for (const vs of byName) bindVirtualService(sink, vs, gateways, ports, used);
  for (const g of res.gateways) {
    if (!used.has(g.name) && g.servers.length > 0) sink.warn(g.place, `no VirtualService binds this Gateway: port ${g.servers.map((s) => s.port).join(', ')} will answer 404`);
  }
  const vsByName = new Map(res.virtualServices.map((vs) => [vs.name, vs]));
  return [...ports.entries()]
    .sort(([a], [b]) => a - b)
    .map(([port, state]) => {
      const virtualHosts = [...state.bound.entries()].map(([name, hosts]): VirtualHost => {
        const ctx = { port, scheme: state.protocol === 'HTTPS' ? 'https' : 'http', gateways: state.via.get(name) ?? new Set<string>() };
        return { name, hosts, routes: routesOf(vsByName.get(name) as VirtualServiceRes, ctx) };
      });
      warnSharedHosts(sink, port, virtualHosts, vsByName);
      return { port, protocol: state.protocol, gatewayHosts: [...state.hosts].sort(compareStrings), virtualHosts, servers: state.servers };
    });
}

/**
 * One port speaks one protocol, and on it each host belongs to one server: on HTTPS the host
 * picks the certificate (SNI), on HTTP whether to redirect, so two claims would be ambiguous
 * (Istio rejects duplicate hosts across servers on a port too).
 */
function addServer(sink: IssueSink, ports: Map<number, PortState>, s: GatewayServer, certs: CertificateLoader): void {
  let state = ports.get(s.port);
  if (state === undefined) {
    state = { protocol: s.protocol, first: s, hosts: new Set(), servers: [], owners: new Map(), bound: new Map(), via: new Map() };
    ports.set(s.port, state);
  } else if (state.protocol !== s.protocol) {
    sink.error(at(s.place, 'port', 'protocol'), `port ${s.port} is already ${state.protocol} at ${describePlace(at(state.first.place, 'port', 'protocol'))}: one port serves one protocol`);
    return;
  }
  for (const [i, h] of s.hosts.entries()) {
    const owner = state.owners.get(h);
    // Plain HTTP servers sharing a host are one server to a request, unless they disagree on redirecting.
    const clash = owner !== undefined && (s.protocol === 'HTTPS' || owner.httpsRedirect !== s.httpsRedirect);
    if (clash) sink.error(at(s.place, 'hosts', i), `host "${h}" on port ${s.port} is already served by ${describePlace(owner.place)}${s.protocol === 'HTTPS' ? ' with its own certificate' : ' with another httpsRedirect'}: each host belongs to one server of a port`);
    else if (owner === undefined) state.owners.set(h, s);
    state.hosts.add(h);
  }
  const tls = s.tls === null ? null : certs.load(s, s.tls);
  if (s.tls !== null && tls === null) return;
  state.servers.push({ name: s.label, hosts: s.hosts, httpsRedirect: s.httpsRedirect, tls });
}

function bindVirtualService(sink: IssueSink, vs: VirtualServiceRes, gateways: Map<string, GatewayRes>, ports: Map<number, PortState>, used: Set<string>): void {
  for (const ref of vs.gateways) {
    const g = gateways.get(ref.name);
    if (g === undefined) {
      sink.error(ref.place, `unknown Gateway "${ref.name}"`);
      continue;
    }
    used.add(g.name);
    let served = false;
    for (const server of g.servers) {
      const state = ports.get(server.port) as PortState;
      const hosts = state.bound.get(vs.name) ?? [];
      for (const vh of vs.hosts) {
        for (const gh of server.hosts) {
          const h = intersectHosts(vh, gh);
          if (h === null) continue;
          served = true;
          if (!hosts.includes(h)) hosts.push(h);
        }
      }
      if (hosts.length > 0) {
        state.bound.set(vs.name, hosts);
        const via = state.via.get(vs.name) ?? new Set<string>();
        if (vs.hosts.some((vh) => server.hosts.some((gh) => intersectHosts(vh, gh) !== null))) via.add(g.name);
        state.via.set(vs.name, via);
      }
    }
    if (!served && g.servers.length > 0) sink.warn(ref.place, `no host of this VirtualService matches the hosts of Gateway "${g.name}": nothing is served through it`);
  }
}

/** Istio merges VirtualServices sharing a gateway host; stickyd does not, so say so. */
function warnSharedHosts(sink: IssueSink, port: number, vhs: readonly VirtualHost[], vsByName: Map<string, VirtualServiceRes>): void {
  const owner = new Map<string, string>();
  for (const vh of vhs) {
    for (const h of vh.hosts) {
      const first = owner.get(h);
      const vs = vsByName.get(vh.name) as VirtualServiceRes;
      if (first === undefined) owner.set(h, vh.name);
      else sink.warn(at(vs.place, 'spec', 'hosts'), `host "${h}" on port ${port} is also served by VirtualService/${first}, which comes first by name: stickyd does not merge VirtualServices, so these routes may never be reached`);
    }
  }
}
