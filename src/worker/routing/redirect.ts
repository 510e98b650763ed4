// The Location of a redirect route, built as Envoy's RedirectAction does with what Istio sets.
// The parts taken from the request (Host, path, query) have been validated by the request guard
// and Node's parser (no CR, LF or space); the Location is always absolute, so no path, however
// it starts ("//evil.example"), can make a client read it as another host.
import type { RedirectPlan } from '../../snapshot/types.js';

const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: ':80', https: ':443' };
/** visible ASCII only: anything else in the request target is percent-encoded in the Location */
const UNSAFE = /[^\x21-\x7e]/g;

export interface RedirectFacts {
  /** the request's scheme on this listener */
  readonly scheme: string;
  /** the request's Host, as sent (may carry a port) */
  readonly host: string;
  readonly path: string;
  /** "" or "?..." */
  readonly query: string;
  /** how much of the path the route's match matched (rewrite-path.ts) */
  readonly cut: number;
}

export function buildLocation(plan: RedirectPlan, f: RedirectFacts): string {
  const scheme = plan.scheme ?? f.scheme;
  let host: string;
  if (plan.authority !== null) host = plan.authority;
  else host = requestHost(f.host, scheme, f.scheme, plan.port !== null);
  if (plan.port !== null && plan.port > 0) host = `${stripPort(host)}:${plan.port}`;
  else if (plan.port === 0) host = stripPort(host);
  let target: string;
  if (plan.uri !== null) target = plan.uri.includes('?') ? plan.uri : plan.uri + f.query;
  else if (plan.prefixRewrite !== null) target = plan.prefixRewrite + f.path.slice(Math.max(f.cut, 0)) + f.query;
  else target = f.path + f.query;
  return `${scheme}://${host}${target.replace(UNSAFE, percentEncode)}`;
}

/** Envoy's processRequestHost: the request's port goes when a port is given, or the scheme changes away from its default port. */
function requestHost(host: string, scheme: string, requestScheme: string, portGiven: boolean): string {
  if (portGiven) return stripPort(host);
  if (scheme !== requestScheme && host.endsWith(DEFAULT_PORTS[requestScheme] ?? '\0')) return stripPort(host);
  return host;
}

function stripPort(host: string): string {
  const close = host.lastIndexOf(']');
  const colon = host.lastIndexOf(':');
  return colon > close ? host.slice(0, colon) : host;
}

/** Node hands the request target over as latin1, one char per byte: encode that byte. */
function percentEncode(c: string): string {
  return `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
}
