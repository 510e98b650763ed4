// Reads and checks the certificate, key and CA files Gateway servers name, once per load, in the
// primary (workers get the PEM text in the snapshot and never read files). What `check` reports
// is what `run` would meet: an unreadable file, a key that is not the certificate's, an expired
// certificate (errors), one expiring soon or not covering a server's hosts (warnings).
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { at, type IssueSink } from './issues.js';
import type { ClientTlsRes, FileRef, GatewayServer, ServerTlsRes } from './resources.js';
import type { CertificateInfo, ServerTls, UpstreamTls } from '../snapshot/types.js';

/** Reads a file's bytes; throws (an errno error) when it cannot. Injected so tests can use memory. */
export type FileReader = (path: string) => Buffer;

/** cert-manager renews at two thirds of a 90-day life (30 days left); two weeks is the last call */
export const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;
/** Envoy's default TLS 1.3 suites, in its order: Istio's cipherSuites never touch TLS 1.3 */
const TLS13_SUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
/** a label no real host has, to ask whether a wildcard certificate covers "*.domain" */
const WILDCARD_PROBE = 'stickyd-wildcard-probe';
/**
 * Where distributions keep the system trust store as one PEM bundle (Debian/Ubuntu first, then
 * Fedora/RHEL, openSUSE, Alpine): Node's own `ca` default is its bundled Mozilla list, not the
 * system's, and an operator who adds a company CA with update-ca-certificates expects it used.
 */
export const SYSTEM_CA_BUNDLES: readonly string[] = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/cert.pem',
];

export class CertificateLoader {
  readonly #sink: IssueSink;
  readonly #read: FileReader;
  readonly #now: number;
  /** one read per path and load: two servers sharing a file see the same bytes */
  readonly #cache = new Map<string, Buffer | Error>();
  /** one load per DestinationRule tls block: its subsets and ports share the result and its issues */
  readonly #upstream = new Map<ClientTlsRes, UpstreamTls | null>();
  #systemCa: { pem: string; file: string } | null | undefined;

  constructor(sink: IssueSink, read: FileReader, now: number) {
    this.#sink = sink;
    this.#read = read;
    this.#now = now;
  }

  /** The server's TLS ready for the snapshot, or null (errors reported) when it cannot serve. */
  load(server: GatewayServer, tls: ServerTlsRes): ServerTls | null {
    const chain = this.#certificates(tls.certificate, 'certificate');
    const key = this.#privateKey(tls.privateKey);
    const ca = tls.caCertificates === null ? null : this.#certificates(tls.caCertificates, 'CA certificate');
    if (chain === null || key === null || (tls.caCertificates !== null && ca === null)) return null;
    const leaf = chain.certs[0] as X509Certificate;
    if (!leaf.checkPrivateKey(key.object)) {
      this.#sink.error(tls.privateKey.place, `${tls.privateKey.path}: this private key does not belong to the certificate in ${tls.certificate.path}`);
      return null;
    }
    if (!this.#checkDates(leaf, tls.certificate, 'certificate')) return null;
    if (ca !== null) for (const c of ca.certs) this.#checkDates(c, tls.caCertificates as FileRef, 'CA certificate');
    this.#checkHosts(leaf, server, tls.certificate);
    return {
      mode: tls.mode,
      certificatePem: chain.pem,
      privateKeyPem: key.pem,
      privateKeyFile: tls.privateKey.path,
      certificate: describeCertificate(leaf, tls.certificate.path),
      caPem: ca?.pem ?? null,
      caFile: tls.caCertificates?.path ?? null,
      minVersion: tls.minVersion,
      maxVersion: tls.maxVersion,
      ciphers: tls.cipherSuites === null ? null : [...tls.cipherSuites, TLS13_SUITES].join(':'),
      subjectAltNames: tls.subjectAltNames,
      verifyCertificateSpki: tls.verifyCertificateSpki,
      verifyCertificateHash: tls.verifyCertificateHash,
    };
  }

  /** A DestinationRule's SIMPLE or MUTUAL tls ready for the snapshot, or null (errors reported). */
  loadUpstream(tls: ClientTlsRes): UpstreamTls | null {
    if (tls.mode === 'DISABLE') return null;
    if (this.#upstream.has(tls)) return this.#upstream.get(tls) ?? null;
    const got = this.#loadUpstream(tls, tls.mode);
    this.#upstream.set(tls, got);
    return got;
  }

  #loadUpstream(tls: ClientTlsRes, mode: 'SIMPLE' | 'MUTUAL'): UpstreamTls | null {
    let ca: { pem: string; file: string } | null = null;
    if (tls.caCertificates !== null) {
      const read = this.#certificates(tls.caCertificates, 'CA certificate');
      if (read === null) return null;
      for (const c of read.certs) this.#checkDates(c, tls.caCertificates, 'CA certificate');
      ca = { pem: read.pem, file: tls.caCertificates.path };
    } else if (!tls.insecureSkipVerify) {
      ca = this.#systemTrustStore(tls.place);
      if (ca === null) return null;
    }
    let client: { pem: string; key: string; file: string } | null = null;
    if (tls.clientCertificate !== null && tls.privateKey !== null) {
      const chain = this.#certificates(tls.clientCertificate, 'client certificate');
      const key = this.#privateKey(tls.privateKey);
      if (chain === null || key === null) return null;
      const leaf = chain.certs[0] as X509Certificate;
      if (!leaf.checkPrivateKey(key.object)) {
        this.#sink.error(tls.privateKey.place, `${tls.privateKey.path}: this private key does not belong to the client certificate in ${tls.clientCertificate.path}`);
        return null;
      }
      if (!this.#checkDates(leaf, tls.clientCertificate, 'client certificate')) return null;
      client = { pem: chain.pem, key: key.pem, file: tls.clientCertificate.path };
    }
    const fields = {
      mode,
      caPem: ca?.pem ?? null,
      caFile: ca?.file ?? null,
      certificatePem: client?.pem ?? null,
      privateKeyPem: client?.key ?? null,
      certificateFile: client?.file ?? null,
      sni: tls.sni,
      subjectAltNames: tls.subjectAltNames,
      insecureSkipVerify: tls.insecureSkipVerify,
    };
    return { ...fields, key: createHash('sha256').update(JSON.stringify(fields)).digest('hex') };
  }

  /** The first system CA bundle that reads and holds certificates; null (error reported) when none does. */
  #systemTrustStore(place: ClientTlsRes['place']): { pem: string; file: string } | null {
    if (this.#systemCa === undefined) {
      this.#systemCa = null;
      for (const file of SYSTEM_CA_BUNDLES) {
        let bytes: Buffer;
        try {
          bytes = this.#read(file);
        } catch {
          continue;
        }
        const blocks = bytes.toString('latin1').match(PEM_CERT) ?? [];
        if (blocks.length > 0) {
          this.#systemCa = { pem: blocks.join('\n') + '\n', file };
          break;
        }
      }
    }
    if (this.#systemCa === null) this.#sink.error(place, `no caCertificates, and no system trust store found (looked for ${SYSTEM_CA_BUNDLES.join(', ')}): set caCertificates to the CA bundle the endpoints' certificates chain to`);
    return this.#systemCa;
  }

  #bytes(ref: FileRef): Buffer | null {
    let got = this.#cache.get(ref.path);
    if (got === undefined) {
      try {
        got = this.#read(ref.path);
      } catch (e) {
        got = e as Error;
      }
      this.#cache.set(ref.path, got);
    }
    if (got instanceof Error) {
      this.#sink.error(ref.place, `cannot read ${ref.path}: ${got.message}`);
      return null;
    }
    return got;
  }

  #certificates(ref: FileRef, what: string): { pem: string; certs: X509Certificate[] } | null {
    const bytes = this.#bytes(ref);
    if (bytes === null) return null;
    const blocks = bytes.toString('latin1').match(PEM_CERT) ?? [];
    if (blocks.length === 0) {
      this.#sink.error(ref.place, `${ref.path}: no PEM ${what} in the file (expected -----BEGIN CERTIFICATE-----)`);
      return null;
    }
    const certs: X509Certificate[] = [];
    for (const [i, block] of blocks.entries()) {
      try {
        certs.push(new X509Certificate(block));
      } catch (e) {
        this.#sink.error(ref.place, `${ref.path}: PEM block ${i + 1} is not a valid ${what}: ${(e as Error).message}`);
        return null;
      }
    }
    return { pem: blocks.join('\n') + '\n', certs };
  }

  #privateKey(ref: FileRef): { pem: string; object: KeyObject } | null {
    const bytes = this.#bytes(ref);
    if (bytes === null) return null;
    const pem = bytes.toString('latin1');
    if (/ENCRYPTED/.test(pem)) {
      this.#sink.error(ref.place, `${ref.path}: the private key is encrypted; stickyd reads unencrypted PEM keys (protect the file with its permissions)`);
      return null;
    }
    try {
      return { pem, object: createPrivateKey({ key: pem, format: 'pem' }) };
    } catch (e) {
      this.#sink.error(ref.place, `${ref.path}: not a PEM private key: ${(e as Error).message}`);
      return null;
    }
  }

  /** false when the certificate cannot serve at all (expired) */
  #checkDates(cert: X509Certificate, ref: FileRef, what: string): boolean {
    const notAfter = Date.parse(cert.validTo);
    const notBefore = Date.parse(cert.validFrom);
    const subject = oneLine(cert.subject);
    if (notAfter <= this.#now) {
      this.#sink.error(ref.place, `${ref.path}: the ${what} (${subject}) expired on ${new Date(notAfter).toISOString()}`);
      return false;
    }
    if (notAfter - this.#now < EXPIRY_WARNING_DAYS * DAY_MS) {
      const days = ((notAfter - this.#now) / DAY_MS).toFixed(1);
      this.#sink.warn(ref.place, `${ref.path}: the ${what} (${subject}) expires on ${new Date(notAfter).toISOString()}, in ${days} days (under ${EXPIRY_WARNING_DAYS})`);
    }
    if (notBefore > this.#now) this.#sink.warn(ref.place, `${ref.path}: the ${what} (${subject}) is not valid before ${new Date(notBefore).toISOString()}`);
    return true;
  }

  /** A server host its certificate does not cover: clients will refuse it (browsers ignore the CN). */
  #checkHosts(leaf: X509Certificate, server: GatewayServer, ref: FileRef): void {
    server.hosts.forEach((host, i) => {
      if (host === '*') return;
      const name = host.startsWith('*.') ? `${WILDCARD_PROBE}${host.slice(1)}` : host;
      if (leaf.checkHost(name, { subject: 'never', wildcards: true }) === undefined) {
        this.#sink.warn(at(server.place, 'hosts', i), `host "${host}" is not covered by the certificate in ${ref.path} (${leaf.subjectAltName ?? 'no subjectAltName'}): clients will refuse it`);
      }
    });
  }
}

function describeCertificate(cert: X509Certificate, file: string): CertificateInfo {
  return {
    file,
    subject: oneLine(cert.subject),
    subjectAltNames: (cert.subjectAltName ?? '').split(', ').filter((s) => s !== ''),
    serial: cert.serialNumber.toUpperCase(),
    notBeforeMs: Date.parse(cert.validFrom),
    notAfterMs: Date.parse(cert.validTo),
    fingerprint256: cert.fingerprint256,
  };
}

/** X509Certificate.subject is one attribute per line */
function oneLine(subject: string): string {
  return subject.split('\n').filter((s) => s !== '').join(', ');
}
