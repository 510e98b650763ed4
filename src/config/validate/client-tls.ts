// DestinationRule trafficPolicy.tls (and subsets[].trafficPolicy.tls): Istio's ClientTLSSettings,
// TLS from stickyd to the endpoints. Files are named here and read when the config is built
// (config/certificates.ts), like a Gateway server's. ISTIO_MUTUAL needs mesh identity a VM does
// not have, so it is an error that says so rather than plaintext or a guess.
import { join } from 'node:path';
import { at, type IssueSink, type Place } from '../issues.js';
import { isAbsent, readBool, readList, readObject, readString } from '../fields.js';
import type { ClientTlsRes, FileRef } from '../resources.js';
import { CREDENTIAL_CA, CREDENTIAL_CERT, CREDENTIAL_KEY, SECRET_NAME, type TlsContext } from './gateway-tls.js';

const FIELDS = {
  known: ['mode', 'clientCertificate', 'privateKey', 'caCertificates', 'credentialName', 'subjectAltNames', 'sni', 'insecureSkipVerify', 'caCrl'],
};

const MODES = ['DISABLE', 'SIMPLE', 'MUTUAL'] as const;
const ISTIO_MUTUAL =
  'mode ISTIO_MUTUAL uses the certificates istiod issues to mesh workloads; a VM without a mesh has none: use MUTUAL with clientCertificate, privateKey and caCertificates (or credentialName)';
const FILE_FIELDS = ['clientCertificate', 'privateKey', 'caCertificates'] as const;

/** trafficPolicy.tls -> ClientTlsRes; null when absent or invalid (errors reported). */
export function readClientTls(sink: IssueSink, place: Place, value: unknown, ctx: TlsContext): ClientTlsRes | null {
  if (isAbsent(value)) return null;
  const tls = readObject(sink, place, value, FIELDS);
  if (tls === null) return null;
  const mode = readMode(sink, at(place, 'mode'), tls.mode);
  if (mode === null) return null;
  if (!isAbsent(tls.caCrl)) sink.error(at(place, 'caCrl'), 'not implemented by stickyd: a revocation list ignored would accept revoked server certificates, so it is refused');
  if (mode === 'DISABLE') {
    for (const key of [...FILE_FIELDS, 'credentialName', 'subjectAltNames', 'sni', 'insecureSkipVerify']) {
      if (!isAbsent(tls[key])) sink.warn(at(place, key), 'ignored: mode DISABLE sends plaintext');
    }
    return { mode, caCertificates: null, clientCertificate: null, privateKey: null, sni: null, subjectAltNames: [], insecureSkipVerify: false, place };
  }
  const files = readFiles(sink, place, tls, mode, ctx);
  const sni = readSni(sink, at(place, 'sni'), tls.sni);
  const subjectAltNames = readNames(sink, at(place, 'subjectAltNames'), tls.subjectAltNames);
  const insecureSkipVerify = readBool(sink, at(place, 'insecureSkipVerify'), tls.insecureSkipVerify) ?? false;
  if (insecureSkipVerify) {
    sink.warn(at(place, 'insecureSkipVerify'), 'the endpoints\' certificates are not verified: anyone on the path can read and change this traffic');
    if (files?.caCertificates != null || subjectAltNames.length > 0) sink.warn(at(place, 'insecureSkipVerify'), 'caCertificates and subjectAltNames have no effect while insecureSkipVerify is true');
  }
  if (files === null) return null;
  return { mode, ...files, sni, subjectAltNames, insecureSkipVerify, place };
}

function readMode(sink: IssueSink, place: Place, value: unknown): ClientTlsRes['mode'] | null {
  if (isAbsent(value)) {
    // Istio's default is DISABLE; a tls block that names files but no mode is almost always a slip.
    sink.error(place, `required: ${MODES.join(', ')}`);
    return null;
  }
  const mode = readString(sink, place, value);
  if (mode === null) return null;
  if (mode === 'ISTIO_MUTUAL') {
    sink.error(place, ISTIO_MUTUAL);
    return null;
  }
  if (!(MODES as readonly string[]).includes(mode)) {
    sink.error(place, `unknown mode "${mode}": use ${MODES.join(', ')}`);
    return null;
  }
  return mode as ClientTlsRes['mode'];
}

type Files = Pick<ClientTlsRes, 'caCertificates' | 'clientCertificate' | 'privateKey'>;

function readFiles(sink: IssueSink, place: Place, tls: Record<string, unknown>, mode: 'SIMPLE' | 'MUTUAL', ctx: TlsContext): Files | null {
  const file = (field: string): FileRef | null => {
    const path = readString(sink, at(place, field), tls[field]);
    if (path === '') sink.error(at(place, field), 'must not be empty');
    return path === null || path === '' ? null : { path, place: at(place, field) };
  };
  const cert = file('clientCertificate');
  const key = file('privateKey');
  const ca = file('caCertificates');
  const credential = readString(sink, at(place, 'credentialName'), tls.credentialName);
  if (credential !== null) {
    if (cert !== null || key !== null || ca !== null) {
      sink.error(at(place, 'credentialName'), 'credentialName and clientCertificate/privateKey/caCertificates are exclusive: use one or the other');
      return null;
    }
    return credentialFiles(sink, at(place, 'credentialName'), credential, mode, ctx);
  }
  if (mode === 'SIMPLE') {
    if (cert !== null || key !== null) sink.error(at(place, cert !== null ? 'clientCertificate' : 'privateKey'), 'a client certificate is sent in mode MUTUAL only: set mode: MUTUAL, or remove it');
    return cert !== null || key !== null ? null : { caCertificates: ca, clientCertificate: null, privateKey: null };
  }
  if (cert === null) sink.error(at(place, 'clientCertificate'), 'required for mode MUTUAL (a PEM file path), or set credentialName');
  if (key === null) sink.error(at(place, 'privateKey'), 'required for mode MUTUAL (a PEM file path), or set credentialName');
  if (cert === null || key === null) return null;
  return { caCertificates: ca, clientCertificate: cert, privateKey: key };
}

/** credentialName -> DIR/NAME/{ca.crt} (SIMPLE) or {tls.crt, tls.key, ca.crt} (MUTUAL), as on the Gateway side. */
function credentialFiles(sink: IssueSink, place: Place, name: string, mode: 'SIMPLE' | 'MUTUAL', ctx: TlsContext): Files | null {
  if (!SECRET_NAME.test(name) || name.includes('..')) {
    sink.error(place, `"${name}" is not a Kubernetes secret name (lower-case letters, digits, "-" and ".")`);
    return null;
  }
  const wanted = mode === 'MUTUAL' ? `${name}/${CREDENTIAL_CERT}, ${name}/${CREDENTIAL_KEY} and ${name}/${CREDENTIAL_CA}` : `${name}/${CREDENTIAL_CA}`;
  if (ctx.credentialsDir === null) {
    sink.error(place, `credentialName needs --credentials-dir DIR holding ${wanted} (a VM has no Kubernetes secrets), or use caCertificates${mode === 'MUTUAL' ? ', clientCertificate and privateKey' : ''} file paths`);
    return null;
  }
  const dir = join(ctx.credentialsDir, name);
  return {
    caCertificates: { path: join(dir, CREDENTIAL_CA), place },
    clientCertificate: mode === 'MUTUAL' ? { path: join(dir, CREDENTIAL_CERT), place } : null,
    privateKey: mode === 'MUTUAL' ? { path: join(dir, CREDENTIAL_KEY), place } : null,
  };
}

// A host name as SNI carries it (RFC 6066 §3: a DNS name, no trailing dot, no IP address).
const SNI = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function readSni(sink: IssueSink, place: Place, value: unknown): string | null {
  const sni = readString(sink, place, value);
  if (sni === null) return null;
  if (!SNI.test(sni) || IPV4.test(sni)) {
    sink.error(place, `"${sni}" is not a DNS name (SNI carries no IP address, port or wildcard)`);
    return null;
  }
  return sni.toLowerCase();
}

function readNames(sink: IssueSink, place: Place, value: unknown): string[] {
  const out: string[] = [];
  readList(sink, place, value)?.forEach((item, i) => {
    const s = readString(sink, at(place, i), item);
    if (s === '') sink.error(at(place, i), 'must not be empty');
    else if (s !== null) out.push(s);
  });
  return out;
}
