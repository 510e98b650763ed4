// Gateway servers[].tls: Istio's ServerTLSSettings as a VM can honour them. Certificates come
// from files (Istio's file-mounted fields) or from `credentialName` mapped onto
// --credentials-dir/<name>/{tls.crt,tls.key,ca.crt}, the layout of a Kubernetes TLS secret.
// Modes that need an L4 SNI proxy or mesh identity are errors that say why: serving them as
// plain termination would change what the config means.
import { getCiphers } from 'node:tls';
import { join } from 'node:path';
import { at, type IssueSink, type Place } from '../issues.js';
import { isAbsent, readBool, readList, readObject, readString } from '../fields.js';
import type { FileRef, ServerTlsRes, TlsVersion } from '../resources.js';

const TLS_FIELDS = {
  known: [
    'httpsRedirect', 'mode', 'serverCertificate', 'privateKey', 'caCertificates', 'credentialName',
    'subjectAltNames', 'verifyCertificateSpki', 'verifyCertificateHash', 'minProtocolVersion',
    'maxProtocolVersion', 'cipherSuites', 'caCrl', 'credentialNames', 'tlsCertificates',
  ],
};

/** Istio's TLSProtocol -> Node's names. TLS_AUTO is Envoy's default range, 1.2 to 1.3. */
const VERSIONS: Readonly<Record<string, TlsVersion | null>> = {
  TLS_AUTO: null, TLSV1_0: 'TLSv1', TLSV1_1: 'TLSv1.1', TLSV1_2: 'TLSv1.2', TLSV1_3: 'TLSv1.3',
};
const VERSION_ORDER: readonly TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
/** Envoy's downstream defaults (and Istio's gateway): TLS 1.2 to 1.3 */
export const DEFAULT_MIN_TLS_VERSION: TlsVersion = 'TLSv1.2';
export const DEFAULT_MAX_TLS_VERSION: TlsVersion = 'TLSv1.3';

const REFUSED_MODES: Readonly<Record<string, string>> = {
  PASSTHROUGH: 'PASSTHROUGH forwards TLS by SNI without terminating it; stickyd terminates TLS and routes HTTP (no L4 SNI proxying): use SIMPLE',
  AUTO_PASSTHROUGH: 'AUTO_PASSTHROUGH routes mesh traffic by SNI to Kubernetes services; stickyd has no mesh and no L4 SNI proxying: use SIMPLE',
  ISTIO_MUTUAL: 'ISTIO_MUTUAL uses certificates issued by the mesh (istiod); a VM without a mesh has none: use MUTUAL with caCertificates',
};
const MODES = ['SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL'] as const;

/** Kubernetes TLS secret keys, as Istio reads them through credentialName */
export const CREDENTIAL_CERT = 'tls.crt';
export const CREDENTIAL_KEY = 'tls.key';
export const CREDENTIAL_CA = 'ca.crt';

export interface TlsContext {
  /** --credentials-dir; null when not given */
  readonly credentialsDir: string | null;
}

/** The tls block of an HTTP server: only httpsRedirect means something there. */
export function readHttpServerTls(sink: IssueSink, place: Place, value: unknown): boolean {
  const tls = readObject(sink, place, value, TLS_FIELDS);
  if (tls === null) return false;
  for (const key of Object.keys(tls)) {
    if (key !== 'httpsRedirect' && !isAbsent(tls[key])) sink.error(at(place, key), 'only httpsRedirect applies to a protocol: HTTP server; set port.protocol: HTTPS to terminate TLS');
  }
  return readBool(sink, at(place, 'httpsRedirect'), tls.httpsRedirect) ?? false;
}

/** The tls block of an HTTPS server; null (with errors reported) when it cannot be served. */
export function readHttpsServerTls(sink: IssueSink, place: Place, value: unknown, ctx: TlsContext): ServerTlsRes | null {
  const tls = readObject(sink, place, value, TLS_FIELDS);
  if (tls === null) {
    sink.error(place, 'required for protocol: HTTPS (mode SIMPLE with serverCertificate and privateKey, or credentialName)');
    return null;
  }
  // httpsRedirect on an HTTPS server: the connection is already TLS, so it has no effect (Envoy's require_tls).
  readBool(sink, at(place, 'httpsRedirect'), tls.httpsRedirect);
  for (const key of ['caCrl', 'credentialNames', 'tlsCertificates']) {
    if (!isAbsent(tls[key])) sink.error(at(place, key), 'not implemented by stickyd: use serverCertificate/privateKey/caCertificates or credentialName');
  }
  const mode = readMode(sink, at(place, 'mode'), tls.mode);
  const files = readFiles(sink, place, tls, mode, ctx);
  const min = readVersion(sink, at(place, 'minProtocolVersion'), tls.minProtocolVersion) ?? DEFAULT_MIN_TLS_VERSION;
  const max = readVersion(sink, at(place, 'maxProtocolVersion'), tls.maxProtocolVersion) ?? DEFAULT_MAX_TLS_VERSION;
  if (VERSION_ORDER.indexOf(min) > VERSION_ORDER.indexOf(max)) sink.error(at(place, 'maxProtocolVersion'), `maxProtocolVersion ${max} is below minProtocolVersion ${min}`);
  if (VERSION_ORDER.indexOf(min) < VERSION_ORDER.indexOf('TLSv1.2')) sink.warn(at(place, 'minProtocolVersion'), `${min} is obsolete (RFC 8996) and OpenSSL 3 refuses its ciphers at the default security level`);
  const cipherSuites = readCiphers(sink, at(place, 'cipherSuites'), tls.cipherSuites);
  const subjectAltNames = readStrings(sink, at(place, 'subjectAltNames'), tls.subjectAltNames, null);
  const verifyCertificateSpki = readStrings(sink, at(place, 'verifyCertificateSpki'), tls.verifyCertificateSpki, SPKI);
  const verifyCertificateHash = readStrings(sink, at(place, 'verifyCertificateHash'), tls.verifyCertificateHash, HASH).map(normaliseHash);
  const clientChecks = subjectAltNames.length + verifyCertificateSpki.length + verifyCertificateHash.length;
  if (mode === 'SIMPLE' && clientChecks > 0) sink.error(place, 'subjectAltNames, verifyCertificateSpki and verifyCertificateHash check client certificates: they need mode MUTUAL or OPTIONAL_MUTUAL');
  if (mode === null || files === null) return null;
  return { mode, ...files, subjectAltNames, verifyCertificateSpki, verifyCertificateHash, minVersion: min, maxVersion: max, cipherSuites, place };
}

function readMode(sink: IssueSink, place: Place, value: unknown): ServerTlsRes['mode'] | null {
  const mode = readString(sink, place, value);
  if (mode === null) {
    if (isAbsent(value)) sink.error(place, `required: ${MODES.join(', ')} (Istio's default, PASSTHROUGH, is not supported: ${REFUSED_MODES.PASSTHROUGH})`);
    return null;
  }
  const refused = REFUSED_MODES[mode];
  if (refused !== undefined) {
    sink.error(place, `mode ${mode} is not supported: ${refused}`);
    return null;
  }
  if (!(MODES as readonly string[]).includes(mode)) {
    sink.error(place, `unknown mode "${mode}": use ${MODES.join(', ')}`);
    return null;
  }
  return mode as ServerTlsRes['mode'];
}

type Files = Pick<ServerTlsRes, 'certificate' | 'privateKey' | 'caCertificates'>;

function readFiles(sink: IssueSink, place: Place, tls: Record<string, unknown>, mode: ServerTlsRes['mode'] | null, ctx: TlsContext): Files | null {
  const credential = readString(sink, at(place, 'credentialName'), tls.credentialName);
  const file = (field: string): FileRef | null => {
    const path = readString(sink, at(place, field), tls[field]);
    if (path === '') sink.error(at(place, field), 'must not be empty');
    return path === null || path === '' ? null : { path, place: at(place, field) };
  };
  const cert = file('serverCertificate');
  const key = file('privateKey');
  const ca = file('caCertificates');
  const mutual = mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL';
  if (credential !== null) {
    if (cert !== null || key !== null || ca !== null) sink.error(at(place, 'credentialName'), 'credentialName and serverCertificate/privateKey/caCertificates are exclusive: use one or the other');
    return credentialFiles(sink, at(place, 'credentialName'), credential, mutual, ctx);
  }
  if (cert === null) sink.error(at(place, 'serverCertificate'), 'required (a PEM file path), or set credentialName');
  if (key === null) sink.error(at(place, 'privateKey'), 'required (a PEM file path), or set credentialName');
  if (mutual && ca === null) sink.error(at(place, 'caCertificates'), `required for mode ${mode}: the CA bundle client certificates are verified against`);
  if (cert === null || key === null || (mutual && ca === null)) return null;
  return { certificate: cert, privateKey: key, caCertificates: ca };
}

// A secret name is a DNS-1123 subdomain on Kubernetes; anything else could climb out of the directory.
export const SECRET_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function credentialFiles(sink: IssueSink, place: Place, name: string, mutual: boolean, ctx: TlsContext): Files | null {
  if (!SECRET_NAME.test(name) || name.includes('..')) {
    sink.error(place, `"${name}" is not a Kubernetes secret name (lower-case letters, digits, "-" and ".")`);
    return null;
  }
  if (ctx.credentialsDir === null) {
    sink.error(place, `credentialName needs --credentials-dir DIR holding ${name}/${CREDENTIAL_CERT}, ${name}/${CREDENTIAL_KEY}${mutual ? ` and ${name}/${CREDENTIAL_CA}` : ''} (a VM has no Kubernetes secrets), or use serverCertificate and privateKey file paths`);
    return null;
  }
  const dir = join(ctx.credentialsDir, name);
  return {
    certificate: { path: join(dir, CREDENTIAL_CERT), place },
    privateKey: { path: join(dir, CREDENTIAL_KEY), place },
    caCertificates: mutual ? { path: join(dir, CREDENTIAL_CA), place } : null,
  };
}

function readVersion(sink: IssueSink, place: Place, value: unknown): TlsVersion | null {
  const v = readString(sink, place, value);
  if (v === null) return null;
  if (!(v in VERSIONS)) {
    sink.error(place, `unknown TLS version "${v}": use ${Object.keys(VERSIONS).join(', ')}`);
    return null;
  }
  return VERSIONS[v] ?? null;
}

let knownCiphers: Set<string> | null = null;

/** Each name must be one OpenSSL knows: a typo silently dropped would change what is offered. */
function readCiphers(sink: IssueSink, place: Place, value: unknown): readonly string[] | null {
  const list = readStrings(sink, place, value, null);
  if (isAbsent(value)) return null;
  knownCiphers ??= new Set(getCiphers().map((c) => c.toUpperCase()));
  const known = knownCiphers;
  const out = list.filter((name, i) => {
    if (known.has(name.toUpperCase())) return true;
    sink.error(at(place, i), `unknown cipher suite "${name}" (OpenSSL names, e.g. ECDHE-RSA-AES128-GCM-SHA256)`);
    return false;
  });
  if (list.length === 0) sink.error(place, 'must list at least one cipher suite when set');
  return out;
}

const SPKI = { pattern: /^[A-Za-z0-9+/]{43}=$/, what: 'a base64 SHA-256 of the SubjectPublicKeyInfo (44 characters)' };
const HASH = { pattern: /^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{64}$/, what: 'a hex SHA-256 of the DER certificate (64 digits, colons allowed)' };

function normaliseHash(h: string): string {
  return h.replaceAll(':', '').toLowerCase();
}

function readStrings(sink: IssueSink, place: Place, value: unknown, format: { pattern: RegExp; what: string } | null): string[] {
  const out: string[] = [];
  readList(sink, place, value)?.forEach((item, i) => {
    const s = readString(sink, at(place, i), item);
    if (s === null || s === '') {
      if (s === '') sink.error(at(place, i), 'must not be empty');
      return;
    }
    if (format !== null && !format.pattern.test(s)) sink.error(at(place, i), `"${s}" is not ${format.what}`);
    else out.push(s);
  });
  return out;
}
