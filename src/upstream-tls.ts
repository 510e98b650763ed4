// A subset's DestinationRule tls (snapshot/types.ts UpstreamTls) as Node TLS client options, shared
// by the worker's undici pools and WebSocket upstream and the primary's health checks, so all
// three verify an endpoint the same way. The secure context is built once per settings (parsing
// a system CA bundle per handshake would cost milliseconds); callers keep what this returns.
import { isIP } from 'node:net';
import { checkServerIdentity, createSecureContext, type PeerCertificate, type SecureContext } from 'node:tls';
import type { UpstreamTls } from './snapshot/types.js';

export interface UpstreamTlsOptions {
  readonly secureContext: SecureContext;
  readonly rejectUnauthorized: boolean;
  readonly checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
  /** Envoy's upstream default floor, as the Gateway side's */
  readonly minVersion: 'TLSv1.2';
}

/** Node TLS client options for `tls` (build once per snapshot and settings, not per connection). */
export function buildUpstreamTlsOptions(tls: UpstreamTls): UpstreamTlsOptions {
  const secureContext = createSecureContext({
    ...(tls.caPem !== null ? { ca: tls.caPem } : {}),
    ...(tls.certificatePem !== null && tls.privateKeyPem !== null ? { cert: tls.certificatePem, key: tls.privateKeyPem } : {}),
    minVersion: 'TLSv1.2',
  });
  return {
    secureContext,
    rejectUnauthorized: !tls.insecureSkipVerify,
    checkServerIdentity: buildIdentityCheck(tls),
    minVersion: 'TLSv1.2',
  };
}

const built = new WeakMap<UpstreamTls, UpstreamTlsOptions>();

/** buildUpstreamTlsOptions once per snapshot object: for callers that hold the snapshot's UpstreamTls. */
export function buildUpstreamTlsOptionsOnce(tls: UpstreamTls): UpstreamTlsOptions {
  let options = built.get(tls);
  if (options === undefined) {
    options = buildUpstreamTlsOptions(tls);
    built.set(tls, options);
  }
  return options;
}

/**
 * What the endpoint's certificate must say. subjectAltNames: one of its DNS, URI or IP SANs
 * equals one of them (Envoy's exact SAN matchers, as Istio configures them); otherwise it must
 * cover the name connected to (the SNI, or the endpoint address when there is none), which is
 * Istio's automatic SAN validation against the automatic SNI.
 */
export function buildIdentityCheck(tls: UpstreamTls): (host: string, cert: PeerCertificate) => Error | undefined {
  if (tls.insecureSkipVerify) return () => undefined;
  if (tls.subjectAltNames.length === 0) return checkServerIdentity;
  const wanted = new Set(tls.subjectAltNames);
  return (_host, cert) => {
    const sans = readSubjectAltNames(cert.subjectaltname ?? '');
    if (sans.some((san) => wanted.has(san))) return undefined;
    const err = new Error(`the endpoint's certificate (SANs ${sans.join(', ') || 'none'}) matches none of subjectAltNames ${tls.subjectAltNames.join(', ')}`) as Error & { code: string };
    err.code = 'ERR_TLS_CERT_ALTNAME_INVALID';
    return err;
  };
}

/** "DNS:a, URI:spiffe://x, IP Address:10.0.0.1" -> ["a", "spiffe://x", "10.0.0.1"] */
export function readSubjectAltNames(text: string): string[] {
  const out: string[] = [];
  for (const entry of text.split(', ')) {
    const colon = entry.indexOf(':');
    if (colon < 0) continue;
    const kind = entry.slice(0, colon);
    if (kind === 'DNS' || kind === 'URI' || kind === 'IP Address') out.push(entry.slice(colon + 1));
  }
  return out;
}

/**
 * The SNI for a request to a TLS subset: the rule's `sni`, else the Host sent upstream without its
 * port (Istio's automatic SNI). An IP address is never sent as SNI (RFC 6066 §3): '' then, and
 * the certificate is checked against the endpoint's address.
 */
export function readUpstreamServername(tls: UpstreamTls, upstreamHost: string | undefined): string {
  if (tls.sni !== null) return tls.sni;
  if (upstreamHost === undefined || upstreamHost === '') return '';
  let host = upstreamHost;
  if (host.startsWith('[')) return '';
  const colon = host.lastIndexOf(':');
  if (colon >= 0) host = host.slice(0, colon);
  return isIP(host) !== 0 ? '' : host.toLowerCase();
}
