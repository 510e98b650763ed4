// The Gateway servers of one listener as a worker uses them, built once per snapshot: which
// server a host (or a TLS handshake's SNI) belongs to, and for HTTPS each server's SecureContext
// made from the PEMs in the snapshot. Selection is the Gateway host rule: exact, then the longest
// "*.suffix", then "*".
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { Listener, ListenerServer, ServerTls } from '../../snapshot/types.js';
import { buildHostTable, lookupHost, type HostTable } from './host-table.js';

export interface RuntimeServer {
  readonly name: string;
  readonly httpsRedirect: boolean;
  readonly tls: ServerTls | null;
  /** HTTPS only */
  readonly context: SecureContext | null;
}

export interface RuntimeServers {
  readonly byHost: HostTable<RuntimeServer>;
  /** the server a handshake without SNI gets: the first HTTPS server in Gateway order */
  readonly fallback: RuntimeServer | null;
  /** some server on this port redirects: the request path checks only then */
  readonly anyRedirect: boolean;
  /** some server on this port asks for client certificates */
  readonly anyMutual: boolean;
}

export function buildRuntimeServers(listener: Listener): RuntimeServers {
  const servers = listener.servers.map(buildServer);
  const byHost = buildHostTable(servers.flatMap((s, i) => (listener.servers[i] as ListenerServer).hosts.map((h) => [h, s] as const)));
  return {
    byHost,
    fallback: servers.find((s) => s.context !== null) ?? null,
    anyRedirect: servers.some((s) => s.httpsRedirect),
    anyMutual: servers.some((s) => s.tls !== null && s.tls.mode !== 'SIMPLE'),
  };
}

/** The options Node's TLS layer takes for one server (also the default context: no SNI). */
export function secureContextOptions(tls: ServerTls): SecureContextOptions {
  return {
    cert: tls.certificatePem,
    key: tls.privateKeyPem,
    ...(tls.caPem !== null ? { ca: tls.caPem } : {}),
    minVersion: tls.minVersion,
    maxVersion: tls.maxVersion,
    ...(tls.ciphers !== null ? { ciphers: tls.ciphers } : {}),
  };
}

function buildServer(s: ListenerServer): RuntimeServer {
  return { name: s.name, httpsRedirect: s.httpsRedirect, tls: s.tls, context: s.tls === null ? null : createSecureContext(secureContextOptions(s.tls)) };
}

/**
 * The server a handshake belongs to: by SNI, or the fallback when the client sent none (curl to
 * an IP address). An SNI no server claims gets null: the handshake is refused, as Envoy refuses a
 * name that matches no filter chain.
 */
export function selectServerForSni(servers: RuntimeServers, servername: string | false | undefined | null): RuntimeServer | null {
  if (servername === undefined || servername === null || servername === false || servername === '') return servers.fallback;
  return lookupHost(servers.byHost, servername.toLowerCase());
}

export function selectServerForHost(servers: RuntimeServers, host: string): RuntimeServer | null {
  return lookupHost(servers.byHost, host);
}
