// `stickyd check` on broken certificate, key and CA files, made by openssl for this run: every
// case of issue 13's list (an unreadable file, a key that is not the certificate's, an expired
// certificate are errors; one expiring within 14 days and a hosts entry the certificate does not
// cover are warnings) for Gateway servers and for DestinationRule tls (caCertificates,
// clientCertificate, privateKey). Each message must name the config file and line, the document
// and the field, and the certificate file it is about. No daemon: check reads what run would.
import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/daemon.js';
import { makeCa, type IssuedCert, type TestCa } from '../helpers/tls-certs.js';

let ca: TestCa;
let dir: string;
let demo: IssuedCert;
let soon: IssuedCert;
let expired: IssuedCert;
let client: IssuedCert;
let clientSoon: IssuedCert;
let clientExpired: IssuedCert;
/** a directory where a file is expected: unreadable as one (EISDIR) even for root */
let aDirectory: string;
let missing: string;

test.before(async () => {
  ca = makeCa('check CA');
  demo = ca.issue('demo', { sans: ['demo.example.com'] });
  soon = ca.issue('soon', { sans: ['soon.example.com'], days: 5 });
  expired = ca.issue('expired', { sans: ['expired.example.com'], start: '20200101000000Z', end: '20200102000000Z' });
  client = ca.issue('client', { sans: ['URI:spiffe://corp/stickyd'], clientAuth: true });
  clientSoon = ca.issue('client-soon', { sans: ['URI:spiffe://corp/stickyd'], clientAuth: true, days: 3 });
  clientExpired = ca.issue('client-expired', { sans: ['URI:spiffe://corp/stickyd'], clientAuth: true, start: '20200101000000Z', end: '20200102000000Z' });
  dir = await mkdtemp(join(tmpdir(), 'stickyd-check-certs-'));
  aDirectory = join(dir, 'not-a-file.pem');
  await mkdir(aDirectory);
  missing = join(dir, 'missing.pem');
});

test.after.always(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  ca?.cleanup();
});

interface Server { readonly name: string; readonly hosts: readonly string[]; readonly tls: string }

function gateway(servers: readonly Server[]): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  servers:
${servers.map((s) => `  - port: {number: 443, name: https-${s.name}, protocol: HTTPS}
    name: ${s.name}
    hosts: [${s.hosts.map((h) => `"${h}"`).join(', ')}]
    tls:
${s.tls.split('\n').filter((l) => l !== '').map((l) => `      ${l}`).join('\n')}
`).join('')}`;
}

/** a VirtualService, ServiceEntry and DestinationRule (with `tls`) for `svc`, reached as `host` */
function service(svc: string, host: string, tls: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${svc}}
spec:
  hosts: [${host}]
  gateways: [edge]
  http:
  - route:
    - destination: {host: ${svc}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${svc}}
spec:
  hosts: [${svc}]
  ports: [{number: 8443, name: https, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {https: 9443}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${svc}}
spec:
  host: ${svc}
  trafficPolicy:
    tls:
${tls.split('\n').filter((l) => l !== '').map((l) => `      ${l}`).join('\n')}
`;
}

async function check(name: string, docs: readonly string[]): Promise<{ code: number; stderr: string }> {
  const sub = join(dir, name);
  await mkdir(sub);
  const file = join(sub, 'config.yaml');
  await writeFile(file, docs.join('---\n'));
  const r = await runCli(['check', '-c', sub]);
  return { code: r.code ?? -1, stderr: r.stderr };
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** `<level>: <dir>/config.yaml:<line>: <document>: <field>: ...<rest>` as one regex over check's output */
function issue(level: 'error' | 'warning', document: string, field: string, rest: string): RegExp {
  return new RegExp(`(^|\\n)${level}: [^\\n]*config\\.yaml:\\d+: ${esc(document)}: ${esc(field)}: [^\\n]*${rest}`);
}

test('Gateway: expiring within 14 days and a host the certificate does not cover are warnings naming file, document and field; check still passes', async (t) => {
  const r = await check('gateway-warnings', [
    gateway([
      { name: 'soon', hosts: ['soon.example.com'], tls: `mode: SIMPLE\nserverCertificate: ${soon.cert}\nprivateKey: ${soon.key}` },
      { name: 'demo', hosts: ['demo.example.com', 'extra.example.com', '*.wild.example.com'], tls: `mode: SIMPLE\nserverCertificate: ${demo.cert}\nprivateKey: ${demo.key}` },
    ]),
    service('app', 'demo.example.com', 'mode: DISABLE'),
  ]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, issue('warning', 'Gateway/edge', 'spec.servers[0].tls.serverCertificate',
    `${esc(soon.cert)}: the certificate \\(CN=soon\\) expires on \\d{4}-\\d\\d-\\d\\dT[^ ]+, in [45]\\.\\d days \\(under 14\\)`));
  t.regex(r.stderr, issue('warning', 'Gateway/edge', 'spec.servers[1].hosts[1]', `host "extra\\.example\\.com" is not covered by the certificate in ${esc(demo.cert)} \\(DNS:demo\\.example\\.com\\)`));
  t.regex(r.stderr, issue('warning', 'Gateway/edge', 'spec.servers[1].hosts[2]', `host "\\*\\.wild\\.example\\.com" is not covered by the certificate in ${esc(demo.cert)}`));
  t.notRegex(r.stderr, /spec\.servers\[1\]\.hosts\[0\]/, 'the covered host draws no warning');
});

test('Gateway: unreadable files, a key that is not the certificate\'s and an expired certificate are errors naming file, document and field', async (t) => {
  const r = await check('gateway-errors', [
    gateway([
      { name: 'nocert', hosts: ['a.example.com'], tls: `mode: SIMPLE\nserverCertificate: ${missing}\nprivateKey: ${demo.key}` },
      { name: 'nokey', hosts: ['b.example.com'], tls: `mode: SIMPLE\nserverCertificate: ${demo.cert}\nprivateKey: ${aDirectory}` },
      { name: 'noca', hosts: ['c.example.com'], tls: `mode: MUTUAL\nserverCertificate: ${demo.cert}\nprivateKey: ${demo.key}\ncaCertificates: ${missing}` },
      { name: 'mismatch', hosts: ['demo.example.com'], tls: `mode: SIMPLE\nserverCertificate: ${demo.cert}\nprivateKey: ${soon.key}` },
      { name: 'expired', hosts: ['expired.example.com'], tls: `mode: SIMPLE\nserverCertificate: ${expired.cert}\nprivateKey: ${expired.key}` },
    ]),
    service('app', 'demo.example.com', 'mode: DISABLE'),
  ]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, issue('error', 'Gateway/edge', 'spec.servers[0].tls.serverCertificate', `cannot read ${esc(missing)}: ENOENT`));
  t.regex(r.stderr, issue('error', 'Gateway/edge', 'spec.servers[1].tls.privateKey', `cannot read ${esc(aDirectory)}: EISDIR`));
  t.regex(r.stderr, issue('error', 'Gateway/edge', 'spec.servers[2].tls.caCertificates', `cannot read ${esc(missing)}: ENOENT`));
  t.regex(r.stderr, issue('error', 'Gateway/edge', 'spec.servers[3].tls.privateKey', `${esc(soon.key)}: this private key does not belong to the certificate in ${esc(demo.cert)}`));
  t.regex(r.stderr, issue('error', 'Gateway/edge', 'spec.servers[4].tls.serverCertificate', `${esc(expired.cert)}: the certificate \\(CN=expired\\) expired on 2020-01-02`));
});

test('DestinationRule tls: unreadable and non-PEM CA files, an unreadable client certificate, a key that is not it, an expired one are errors naming file, document and field', async (t) => {
  const notPem = join(dir, 'not-pem.crt');
  await writeFile(notPem, 'this is not a certificate\n');
  const r = await check('upstream-errors', [
    gateway([{ name: 'demo', hosts: ['*.example.com'], tls: `mode: SIMPLE\nserverCertificate: ${demo.cert}\nprivateKey: ${demo.key}` }]),
    service('ca-missing', 'a.example.com', `mode: SIMPLE\ncaCertificates: ${missing}`),
    service('ca-not-pem', 'b.example.com', `mode: SIMPLE\ncaCertificates: ${notPem}`),
    service('client-unreadable', 'c.example.com', `mode: MUTUAL\ncaCertificates: ${ca.caCert}\nclientCertificate: ${aDirectory}\nprivateKey: ${client.key}`),
    service('key-missing', 'd.example.com', `mode: MUTUAL\ncaCertificates: ${ca.caCert}\nclientCertificate: ${client.cert}\nprivateKey: ${missing}`),
    service('key-mismatch', 'e.example.com', `mode: MUTUAL\ncaCertificates: ${ca.caCert}\nclientCertificate: ${client.cert}\nprivateKey: ${demo.key}`),
    service('client-expired', 'f.example.com', `mode: MUTUAL\ncaCertificates: ${ca.caCert}\nclientCertificate: ${clientExpired.cert}\nprivateKey: ${clientExpired.key}`),
  ]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, issue('error', 'DestinationRule/ca-missing', 'spec.trafficPolicy.tls.caCertificates', `cannot read ${esc(missing)}: ENOENT`));
  t.regex(r.stderr, issue('error', 'DestinationRule/ca-not-pem', 'spec.trafficPolicy.tls.caCertificates', `${esc(notPem)}: no PEM CA certificate in the file`));
  t.regex(r.stderr, issue('error', 'DestinationRule/client-unreadable', 'spec.trafficPolicy.tls.clientCertificate', `cannot read ${esc(aDirectory)}: EISDIR`));
  t.regex(r.stderr, issue('error', 'DestinationRule/key-missing', 'spec.trafficPolicy.tls.privateKey', `cannot read ${esc(missing)}: ENOENT`));
  t.regex(r.stderr, issue('error', 'DestinationRule/key-mismatch', 'spec.trafficPolicy.tls.privateKey',
    `${esc(demo.key)}: this private key does not belong to the client certificate in ${esc(client.cert)}`));
  t.regex(r.stderr, issue('error', 'DestinationRule/client-expired', 'spec.trafficPolicy.tls.clientCertificate',
    `${esc(clientExpired.cert)}: the client certificate \\(CN=client-expired\\) expired on 2020-01-02`));
});

test('DestinationRule tls: a client certificate expiring within 14 days is a warning naming file, document and field; check still passes', async (t) => {
  const r = await check('upstream-warnings', [
    gateway([{ name: 'demo', hosts: ['demo.example.com'], tls: `mode: SIMPLE\nserverCertificate: ${demo.cert}\nprivateKey: ${demo.key}` }]),
    service('soon', 'demo.example.com', `mode: MUTUAL\ncaCertificates: ${ca.caCert}\nclientCertificate: ${clientSoon.cert}\nprivateKey: ${clientSoon.key}\nsni: backend.internal`),
  ]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, issue('warning', 'DestinationRule/soon', 'spec.trafficPolicy.tls.clientCertificate',
    `${esc(clientSoon.cert)}: the client certificate \\(CN=client-soon\\) expires on [^ ]+, in [23]\\.\\d days \\(under 14\\)`));
});
