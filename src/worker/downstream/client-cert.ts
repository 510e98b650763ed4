// Client certificate checks for MUTUAL and OPTIONAL_MUTUAL Gateway servers, after the TLS
// handshake and before a byte of HTTP is read. Fails closed: anything but a certificate that
// chains to the server's CA and passes every configured check ends the connection.
import { createHash, type X509Certificate } from 'node:crypto';
import type { ServerTls } from '../../snapshot/types.js';

/** What the check reads from a TLSSocket; a plain object can fake it in unit tests. */
export interface PeerView {
  readonly authorized: boolean;
  getPeerX509Certificate(): X509Certificate | undefined;
}

export type ClientCertFailure = 'no_client_certificate' | 'client_certificate_untrusted' | 'client_san_mismatch' | 'client_certificate_pin_mismatch';

/** null when the connection may proceed. */
export function verifyClientCertificate(tls: ServerTls, peer: PeerView): ClientCertFailure | null {
  if (tls.mode === 'SIMPLE') return null;
  const cert = peer.getPeerX509Certificate();
  if (cert === undefined) return tls.mode === 'MUTUAL' ? 'no_client_certificate' : null;
  // OPTIONAL_MUTUAL: no certificate is fine, a certificate that does not verify is not (Envoy).
  if (!peer.authorized) return 'client_certificate_untrusted';
  if (tls.subjectAltNames.length > 0 && !matchesSan(cert, tls.subjectAltNames)) return 'client_san_mismatch';
  const pins = tls.verifyCertificateSpki.length + tls.verifyCertificateHash.length;
  // Envoy: with both lists set, a match in either accepts the certificate.
  if (pins > 0 && !matchesPin(cert, tls)) return 'client_certificate_pin_mismatch';
  return null;
}

/** Envoy's match_subject_alt_names with exact matchers: any SAN value of any type equals one entry. */
function matchesSan(cert: X509Certificate, wanted: readonly string[]): boolean {
  return readSans(cert).some((v) => wanted.includes(v));
}

/** "DNS:a, URI:spiffe://x, IP Address:1.2.3.4" -> [type, value] pairs; quoted values (with commas) are unquoted. */
function parseSans(cert: X509Certificate): [string, string][] {
  const raw = cert.subjectAltName ?? '';
  const out: [string, string][] = [];
  const re = /(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (let m = re.exec(raw); m !== null; m = re.exec(raw)) {
    const v = m[2] ?? '';
    out.push([m[1] ?? '', v.startsWith('"') ? (JSON.parse(v) as string) : v]);
  }
  return out;
}

export function readSans(cert: X509Certificate): string[] {
  return parseSans(cert).map(([, v]) => v);
}

function matchesPin(cert: X509Certificate, tls: ServerTls): boolean {
  if (tls.verifyCertificateHash.length > 0) {
    const hash = createHash('sha256').update(cert.raw).digest('hex');
    if (tls.verifyCertificateHash.includes(hash)) return true;
  }
  if (tls.verifyCertificateSpki.length > 0) {
    const spki = createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    if (tls.verifyCertificateSpki.includes(spki)) return true;
  }
  return false;
}

/**
 * Envoy's x-forwarded-client-cert element for a verified client certificate:
 * By (the server certificate's URI SAN, when it has one), Hash (hex SHA-256 of the DER),
 * Subject (quoted), URI and DNS SANs. Values with `,;="` are quoted with `"` escaped, as Envoy does.
 */
export function buildXfcc(client: X509Certificate, server: X509Certificate | null): string {
  const parts: string[] = [];
  const by = server === null ? [] : sansOfType(server, 'URI');
  if (by[0] !== undefined) parts.push(`By=${quoteXfcc(by[0])}`);
  parts.push(`Hash=${createHash('sha256').update(client.raw).digest('hex')}`);
  parts.push(`Subject="${client.subject.split('\n').filter((x) => x !== '').reverse().join(',').replaceAll('"', '\\"')}"`);
  for (const uri of sansOfType(client, 'URI')) parts.push(`URI=${quoteXfcc(uri)}`);
  for (const dns of sansOfType(client, 'DNS')) parts.push(`DNS=${quoteXfcc(dns)}`);
  return parts.join(';');
}

function sansOfType(cert: X509Certificate, type: string): string[] {
  return parseSans(cert).filter(([t]) => t === type).map(([, v]) => v);
}

function quoteXfcc(v: string): string {
  return /[,;="]/.test(v) ? `"${v.replaceAll('"', '\\"')}"` : v;
}
