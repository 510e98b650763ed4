// Gateway TLS in the config compiler: modes, files, certificate checks, SNI ownership, redirects.
// The certificates come from a CA made with openssl for this run (test/helpers/tls-certs.ts).
import test from 'ava';
import { mkdirSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSources } from '../../../../src/config/index.js';
import { ConfigError, type ConfigIssue } from '../../../../src/errors.js';
import { API, destinationRule, docs, SERVICE } from '../../../fixtures/config/helpers.js';
import { makeCa, type IssuedCert, type TestCa } from '../../../helpers/tls-certs.js';

let ca: TestCa;
let demo: IssuedCert;
let other: IssuedCert;
let wild: IssuedCert;
let expired: IssuedCert;
let soon: IssuedCert;

test.before(() => {
  ca = makeCa();
  demo = ca.issue('demo', { sans: ['demo.example.com'] });
  other = ca.issue('other', { sans: ['other.example.com'] });
  wild = ca.issue('wild', { sans: ['*.example.org'] });
  expired = ca.issue('expired', { sans: ['demo.example.com'], start: '20200101000000Z', end: '20200102000000Z' });
  soon = ca.issue('soon', { sans: ['demo.example.com'], days: 3 });
});
test.after.always(() => ca.cleanup());

function server(port: number, hosts: string[], tls: string, protocol = 'HTTPS', name = ''): string {
  return `  - port: {number: ${port}, name: p${port}, protocol: ${protocol}}\n${name === '' ? '' : `    name: ${name}\n`}    hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]\n${tls === '' ? '' : `    tls:\n${tls.split('\n').filter((l) => l !== '').map((l) => `      ${l}`).join('\n')}\n`}`;
}

function gateway(...servers: string[]): string {
  return `apiVersion: ${API}\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  servers:\n${servers.join('')}`;
}

const VS = `apiVersion: ${API}\nkind: VirtualService\nmetadata: {name: vs}\nspec:\n  hosts: ["*"]\n  gateways: [gw]\n  http:\n  - route:\n    - destination: {host: svc, subset: v1}\n`;

function simple(c: IssuedCert, extra = ''): string {
  return `mode: SIMPLE\nserverCertificate: ${c.cert}\nprivateKey: ${c.key}\n${extra}`;
}

function compile(gw: string, settings: Record<string, unknown> = {}) {
  return compileSources([{ file: 'gw.yaml', text: docs(gw, SERVICE, destinationRule(), VS) }], settings);
}

function errors(gw: string, settings: Record<string, unknown> = {}): readonly ConfigIssue[] {
  try {
    compile(gw, settings);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

test('SIMPLE: the PEMs, versions (TLS 1.2 to 1.3 by default) and certificate facts reach the snapshot', (t) => {
  const { snapshot, warnings } = compile(gateway(server(443, ['demo.example.com'], simple(demo), 'HTTPS', 'https-demo')));
  const l = snapshot.listeners[0]!;
  t.is(l.protocol, 'HTTPS');
  const s = l.servers[0]!;
  t.is(s.name, 'https-demo');
  t.is(s.tls!.mode, 'SIMPLE');
  t.regex(s.tls!.certificatePem, /BEGIN CERTIFICATE/);
  t.regex(s.tls!.privateKeyPem, /BEGIN PRIVATE KEY/);
  t.is(s.tls!.minVersion, 'TLSv1.2');
  t.is(s.tls!.maxVersion, 'TLSv1.3');
  t.is(s.tls!.ciphers, null);
  t.is(s.tls!.certificate.serial, demo.serial);
  t.deepEqual(s.tls!.certificate.subjectAltNames, ['DNS:demo.example.com']);
  t.is(s.tls!.certificate.file, demo.cert);
  t.true(s.tls!.certificate.notAfterMs > Date.now());
  t.deepEqual(warnings.filter((w) => /tls|hosts/.test(w.field)), []);
});

test('versions and cipher suites map to OpenSSL; TLS 1.3 suites stay on (Istio cipherSuites are TLS <= 1.2)', (t) => {
  const { snapshot } = compile(gateway(server(443, ['demo.example.com'], simple(demo, 'minProtocolVersion: TLSV1_3\nmaxProtocolVersion: TLSV1_3\ncipherSuites: [ECDHE-ECDSA-AES128-GCM-SHA256]'))));
  const tls = snapshot.listeners[0]!.servers[0]!.tls!;
  t.is(tls.minVersion, 'TLSv1.3');
  t.is(tls.maxVersion, 'TLSv1.3');
  t.regex(tls.ciphers!, /^ECDHE-ECDSA-AES128-GCM-SHA256:TLS_AES_256_GCM_SHA384/);
  const bad = errors(gateway(server(443, ['demo.example.com'], simple(demo, 'minProtocolVersion: TLSV1_3\nmaxProtocolVersion: TLSV1_2\ncipherSuites: [NOT-A-CIPHER]'))));
  t.truthy(bad.find((i) => i.field === 'spec.servers[0].tls.maxProtocolVersion' && /below minProtocolVersion/.test(i.message)));
  t.truthy(bad.find((i) => i.field === 'spec.servers[0].tls.cipherSuites[0]' && /unknown cipher suite "NOT-A-CIPHER"/.test(i.message)));
});

test('modes stickyd cannot honour are errors that say why; a missing mode is Istio\'s PASSTHROUGH', (t) => {
  for (const [mode, why] of [['PASSTHROUGH', /no L4 SNI proxying/], ['AUTO_PASSTHROUGH', /no mesh/], ['ISTIO_MUTUAL', /issued by the mesh/]] as const) {
    const e = errors(gateway(server(443, ['demo.example.com'], `mode: ${mode}`)));
    const i = e.find((x) => x.field === 'spec.servers[0].tls.mode');
    t.truthy(i, mode);
    t.regex(i!.message, why);
    t.is(i!.document, 'Gateway/gw');
    t.is(i!.file, 'gw.yaml');
  }
  const none = errors(gateway(server(443, ['demo.example.com'], `serverCertificate: ${demo.cert}\nprivateKey: ${demo.key}`)));
  t.regex(none.find((x) => x.field === 'spec.servers[0].tls.mode')!.message, /required.*PASSTHROUGH/);
  const noTls = errors(gateway(server(443, ['demo.example.com'], '')));
  t.regex(noTls.find((x) => x.field === 'spec.servers[0].tls')!.message, /required for protocol: HTTPS/);
});

test('MUTUAL needs caCertificates; client checks need a mutual mode', (t) => {
  const e = errors(gateway(server(443, ['demo.example.com'], simple(demo).replace('SIMPLE', 'MUTUAL'))));
  t.regex(e.find((x) => x.field === 'spec.servers[0].tls.caCertificates')!.message, /required for mode MUTUAL/);
  const s = errors(gateway(server(443, ['demo.example.com'], simple(demo, 'subjectAltNames: [spiffe://x]'))));
  t.regex(s.find((x) => x.field === 'spec.servers[0].tls')!.message, /need mode MUTUAL or OPTIONAL_MUTUAL/);
  const { snapshot } = compile(gateway(server(443, ['demo.example.com'], simple(demo, `caCertificates: ${ca.caCert}\nverifyCertificateHash: ["${demo.hash.toUpperCase().match(/../g)!.join(':')}"]\nverifyCertificateSpki: ["${demo.spki}"]`).replace('SIMPLE', 'OPTIONAL_MUTUAL'))));
  const tls = snapshot.listeners[0]!.servers[0]!.tls!;
  t.is(tls.mode, 'OPTIONAL_MUTUAL');
  t.regex(tls.caPem!, /BEGIN CERTIFICATE/);
  t.deepEqual(tls.verifyCertificateHash, [demo.hash]);
  t.deepEqual(tls.verifyCertificateSpki, [demo.spki]);
});

test('certificate checks: unreadable file, wrong key, expired (errors), expiring soon and uncovered hosts (warnings)', (t) => {
  const missing = errors(gateway(server(443, ['demo.example.com'], `mode: SIMPLE\nserverCertificate: /nonexistent/x.crt\nprivateKey: ${demo.key}`)));
  t.regex(missing.find((x) => x.field === 'spec.servers[0].tls.serverCertificate')!.message, /cannot read \/nonexistent\/x\.crt: ENOENT/);
  const mismatch = errors(gateway(server(443, ['demo.example.com'], `mode: SIMPLE\nserverCertificate: ${demo.cert}\nprivateKey: ${other.key}`)));
  const m = mismatch.find((x) => x.field === 'spec.servers[0].tls.privateKey')!;
  t.regex(m.message, /does not belong to the certificate/);
  t.true(m.message.includes(other.key));
  t.is(typeof m.line, 'number');
  const exp = errors(gateway(server(443, ['demo.example.com'], simple(expired))));
  t.regex(exp.find((x) => x.field === 'spec.servers[0].tls.serverCertificate')!.message, /expired on 2020-01-02/);
  const notPem = errors(gateway(server(443, ['demo.example.com'], `mode: SIMPLE\nserverCertificate: ${demo.key}\nprivateKey: ${demo.key}`)));
  t.regex(notPem.find((x) => x.field === 'spec.servers[0].tls.serverCertificate')!.message, /no PEM certificate/);

  const { warnings } = compile(gateway(server(443, ['demo.example.com', 'nope.example.com'], simple(soon))));
  t.regex(warnings.find((w) => w.field === 'spec.servers[0].tls.serverCertificate')!.message, /expires on .* in [23]\.\d days \(under 14\)/);
  t.regex(warnings.find((w) => w.field === 'spec.servers[0].hosts[1]')!.message, /host "nope\.example\.com" is not covered by the certificate/);
  t.falsy(warnings.find((w) => w.field === 'spec.servers[0].hosts[0]'));
  const wc = compile(gateway(server(443, ['*.example.org', '*.example.com'], simple(wild))));
  t.falsy(wc.warnings.find((w) => w.field === 'spec.servers[0].hosts[0]'));
  t.truthy(wc.warnings.find((w) => w.field === 'spec.servers[0].hosts[1]'));
});

test('credentialName maps onto --credentials-dir/<name>/tls.crt and tls.key, or is an error saying what to do', (t) => {
  const e = errors(gateway(server(443, ['demo.example.com'], 'mode: SIMPLE\ncredentialName: demo-cert')));
  t.regex(e.find((x) => x.field === 'spec.servers[0].tls.credentialName')!.message, /needs --credentials-dir DIR holding demo-cert\/tls\.crt, demo-cert\/tls\.key/);
  const dir = join(ca.dir, 'credentials');
  mkdirSync(join(dir, 'demo-cert'), { recursive: true });
  copyFileSync(demo.cert, join(dir, 'demo-cert', 'tls.crt'));
  copyFileSync(demo.key, join(dir, 'demo-cert', 'tls.key'));
  const { snapshot } = compile(gateway(server(443, ['demo.example.com'], 'mode: SIMPLE\ncredentialName: demo-cert')), { credentialsDir: dir });
  t.is(snapshot.listeners[0]!.servers[0]!.tls!.certificate.file, join(dir, 'demo-cert', 'tls.crt'));
  const climb = errors(gateway(server(443, ['demo.example.com'], 'mode: SIMPLE\ncredentialName: ../etc')), { credentialsDir: dir });
  t.regex(climb.find((x) => x.field === 'spec.servers[0].tls.credentialName')!.message, /not a Kubernetes secret name/);
  writeFileSync(join(dir, 'demo-cert', 'ca.crt'), 'garbage');
  const mutual = errors(gateway(server(443, ['demo.example.com'], 'mode: MUTUAL\ncredentialName: demo-cert')), { credentialsDir: dir });
  t.regex(mutual.find((x) => x.field === 'spec.servers[0].tls.credentialName')!.message, /ca\.crt: no PEM CA certificate/);
});

test('SNI: several HTTPS servers on one port, in Gateway order; a host claimed twice or a protocol mix is an error', (t) => {
  const { snapshot } = compile(gateway(server(443, ['demo.example.com'], simple(demo)), server(443, ['other.example.com'], simple(other)), server(80, ['*'], 'httpsRedirect: true', 'HTTP')));
  t.deepEqual(snapshot.listeners.map((l) => [l.port, l.protocol]), [[80, 'HTTP'], [443, 'HTTPS']]);
  t.deepEqual(snapshot.listeners[1]!.servers.map((s) => [s.name, s.hosts, s.tls!.certificate.serial]), [['gw/servers[0]', ['demo.example.com'], demo.serial], ['gw/servers[1]', ['other.example.com'], other.serial]]);
  t.deepEqual(snapshot.listeners[0]!.servers.map((s) => [s.httpsRedirect, s.tls]), [[true, null]]);
  const dup = errors(gateway(server(443, ['demo.example.com'], simple(demo)), server(443, ['demo.example.com'], simple(other))));
  t.regex(dup.find((x) => x.field === 'spec.servers[1].hosts[0]')!.message, /already served by gw\.yaml:\d+ Gateway\/gw spec\.servers\[0\]/);
  const mix = errors(gateway(server(443, ['demo.example.com'], simple(demo)), server(443, ['other.example.com'], '', 'HTTP')));
  t.regex(mix.find((x) => x.field === 'spec.servers[1].port.protocol')!.message, /port 443 is already HTTPS/);
});

test('an HTTP server\'s tls may only say httpsRedirect; other protocols stay errors', (t) => {
  const e = errors(gateway(server(80, ['*'], `httpsRedirect: true\nmode: SIMPLE`, 'HTTP')));
  t.regex(e.find((x) => x.field === 'spec.servers[0].tls.mode')!.message, /only httpsRedirect applies/);
  const p = errors(gateway(server(80, ['*'], '', 'TCP')));
  t.regex(p.find((x) => x.field === 'spec.servers[0].port.protocol')!.message, /protocol TCP is not implemented/);
});
