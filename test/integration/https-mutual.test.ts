// MUTUAL and OPTIONAL_MUTUAL Gateway servers with real curl: a client certificate from the
// configured CA with the right SAN is served; none, one from another CA with the same names (a
// forgery), one with the wrong SAN or not matching the pinned hash are refused before any HTTP
// reaches a backend. X-Forwarded-Client-Cert: a client's own is always removed; the verified one
// is sent in Envoy's format with --forward-client-cert.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { curl } from '../helpers/curl.js';
import { makeCa, type IssuedCert, type TestCa } from '../helpers/tls-certs.js';
import { serviceEntryYaml, virtualServiceYaml } from '../helpers/istio-yaml.js';
import { startRecordingBackend, type RecordingBackend } from '../helpers/recording-backend.js';

let serverCa: TestCa;
let clientCa: TestCa;
let rogueCa: TestCa;
let server: IssuedCert;
let good: IssuedCert;
let wrongSan: IssuedCert;
let forged: IssuedCert;
let backend: RecordingBackend;
let daemon: Daemon;
let dir: string;
let mutualPort: number;
let optionalPort: number;

test.before(async () => {
  serverCa = makeCa('server CA');
  clientCa = makeCa('client CA');
  rogueCa = makeCa('client CA'); // same name, different key: a forgery of the client CA
  server = serverCa.issue('gateway', { sans: ['demo.example.com', 'opt.example.com', 'URI:spiffe://stickyd/gateway'] });
  good = clientCa.issue('alice', { sans: ['URI:spiffe://corp/alice'], clientAuth: true });
  wrongSan = clientCa.issue('mallory', { sans: ['URI:spiffe://corp/mallory'], clientAuth: true });
  forged = rogueCa.issue('alice', { sans: ['URI:spiffe://corp/alice'], clientAuth: true });
  backend = await startRecordingBackend();
  dir = await mkdtemp(join(tmpdir(), 'stickyd-mtls-'));
  const tls = (mode: string, extra: string): string => `    tls:
      mode: ${mode}
      serverCertificate: ${server.cert}
      privateKey: ${server.key}
      caCertificates: ${clientCa.caCert}
${extra}`;
  await writeFile(join(dir, 'config.yaml'), `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [demo.example.com]
${tls('MUTUAL', '      subjectAltNames: [spiffe://corp/alice, spiffe://corp/bob]\n')}  - port: {number: 8443, name: https-opt, protocol: HTTPS}
    hosts: [opt.example.com]
${tls('OPTIONAL_MUTUAL', `      verifyCertificateHash: ["${good.hash}"]\n`)}---
${virtualServiceYaml(['demo.example.com', 'opt.example.com'], '  - route:\n    - destination: {host: rec}\n')}---
${serviceEntryYaml('rec', [backend.port])}`);
  daemon = await startDaemon(dir, { workers: 2, args: ['--listen', '443=127.0.0.1:0,8443=127.0.0.1:0', '--forward-client-cert'] });
  [mutualPort, optionalPort] = daemon.lines.find((l) => l.msg === 'ready')!.listenPorts as [number, number];
});

test.after.always(async () => {
  await daemon?.stop();
  await backend?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  for (const ca of [serverCa, clientCa, rogueCa]) ca?.cleanup();
});

function call(host: string, port: number, cert: IssuedCert | null, extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const auth = cert === null ? [] : ['--cert', cert.cert, '--key', cert.key];
  return curl(['--http1.1', '--cacert', serverCa.caCert, '--resolve', `${host}:${port}:127.0.0.1`, '-s', '-o', '/dev/null', '-w', '%{http_code}', ...auth, ...extra, `https://${host}:${port}/ping`]);
}

test.serial('MUTUAL: the right client certificate is served, with a verified XFCC and the client\'s own removed', async (t) => {
  backend.reset();
  const r = await call('demo.example.com', mutualPort, good, ['-H', 'X-Forwarded-Client-Cert: By=spiffe://evil;URI=spiffe://corp/admin']);
  t.is(r.stdout, '200', r.stderr);
  t.is(backend.requests.length, 1);
  const xfcc = backend.requests[0]!.headers['x-forwarded-client-cert'];
  t.is(typeof xfcc, 'string', 'exactly one XFCC value');
  t.is(xfcc, `By=spiffe://stickyd/gateway;Hash=${good.hash};Subject="CN=alice";URI=spiffe://corp/alice`);
  t.is(backend.requests[0]!.headers['x-forwarded-proto'], 'https');
});

test.serial('MUTUAL fails closed: no certificate, a forged one (same names, other CA), a wrong SAN never reach the backend', async (t) => {
  backend.reset();
  for (const [name, cert] of [['none', null], ['forged', forged], ['wrong SAN', wrongSan]] as const) {
    const r = await call('demo.example.com', mutualPort, cert);
    t.not(r.stdout, '200', `${name}: ${r.stdout} ${r.stderr}`);
  }
  t.is(backend.requests.length, 0);
  const m = (await curl([`http://127.0.0.1:${daemon.adminPort}/metrics`])).stdout;
  t.regex(m, /stickyd_tls_handshake_failures_total\{reason="no_client_certificate"\} [1-9]/);
  t.regex(m, /stickyd_tls_handshake_failures_total\{reason="client_certificate_untrusted"\} [1-9]/);
  t.regex(m, /stickyd_tls_handshake_failures_total\{reason="client_san_mismatch"\} [1-9]/);
});

test.serial('OPTIONAL_MUTUAL: no certificate is served (no XFCC); the pinned one is served; a forged or unpinned one is refused', async (t) => {
  backend.reset();
  t.is((await call('opt.example.com', optionalPort, null, ['-H', 'X-Forwarded-Client-Cert: Hash=00'])).stdout, '200');
  t.is(backend.requests[0]!.headers['x-forwarded-client-cert'], undefined, 'a client\'s own XFCC is removed');
  t.is((await call('opt.example.com', optionalPort, good)).stdout, '200');
  t.not((await call('opt.example.com', optionalPort, forged)).stdout, '200');
  t.not((await call('opt.example.com', optionalPort, wrongSan)).stdout, '200', 'valid chain, but not the pinned hash');
  t.is(backend.requests.length, 2);
});
