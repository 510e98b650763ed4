// HTTPS at the edge with the seed's walkthrough: a CA and certificates made by openssl for this
// run, two HTTPS servers on one port (SNI), an HTTP server redirecting to https, driven by real
// curl and openssl s_client against the real daemon with 2 workers.
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDaemon, runCli, type Daemon } from '../helpers/daemon.js';
import { startBackends, configDir } from '../helpers/backends.js';
import { curl } from '../helpers/curl.js';
import { makeCa, type IssuedCert, type TestCa } from '../helpers/tls-certs.js';
import type { Backend } from '../../src/demo/backend.js';
import { tlsGateway, writeTlsConfig } from '../helpers/tls-config.js';

interface Ping { instance: string; version: string }

let backends: Backend[];
let daemon: Daemon;
let cfg: { dir: string; cleanup(): Promise<void> };
let ca: TestCa;
let demo: IssuedCert;
let other: IssuedCert;
let httpPort: number;
let httpsPort: number;

test.before(async () => {
  ca = makeCa();
  demo = ca.issue('demo', { sans: ['demo.example.com'] });
  other = ca.issue('other', { sans: ['other.example.com'] });
  backends = await startBackends();
  cfg = await configDir('demo', backends);
  await writeTlsConfig(cfg.dir, tlsGateway(demo, other));
  daemon = await startDaemon(cfg.dir, { workers: 2, args: ['--listen', '80=127.0.0.1:0,443=127.0.0.1:0'] });
  const ports = daemon.lines.find((l) => l.msg === 'ready')!.listenPorts as number[];
  [httpPort, httpsPort] = ports as [number, number];
});

test.after.always(async () => {
  await daemon?.stop();
  await Promise.all((backends ?? []).map((b) => b.close()));
  await cfg?.cleanup();
  ca?.cleanup();
});

function tlsCurl(host: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return curl(['--cacert', ca.caCert, '--resolve', `${host}:${httpsPort}:127.0.0.1`, ...args]);
}

function pings(stdout: string): Ping[] {
  return stdout.trim().split('\n').map((l) => JSON.parse(l) as Ping);
}

test('curl --http1.1 over TLS: the walkthrough, 5 of 5 on one instance with the cookie jar, spread without', async (t) => {
  const url = `https://demo.example.com:${httpsPort}/ping`;
  const jar = join(cfg.dir, 'cookies.txt');
  const sticky: Ping[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await tlsCurl('demo.example.com', ['--http1.1', '-c', jar, '-b', jar, url]);
    t.is(r.code, 0, r.stderr);
    sticky.push(...pings(r.stdout));
  }
  t.is(new Set(sticky.map((p) => p.instance)).size, 1, JSON.stringify(sticky));
  t.true(sticky.every((p) => p.version === 'v1'));
  const fresh: Ping[] = [];
  for (let i = 0; i < 20; i++) fresh.push(...pings((await tlsCurl('demo.example.com', ['--http1.1', url])).stdout));
  t.true(new Set(fresh.map((p) => p.instance)).size >= 2, 'fresh sessions spread over v1');
  const dev = await tlsCurl('demo.example.com', ['--http1.1', '-H', 'stage: dev', url]);
  t.is(pings(dev.stdout)[0]?.version, 'v3');
  const head = await tlsCurl('demo.example.com', ['--http1.1', '-i', url]);
  t.regex(head.stdout, /^HTTP\/1\.1 200 OK/);
  t.regex(head.stdout, /set-cookie: session=[0-9a-f]{32}; Path=\/; Max-Age=60; HttpOnly/i);
});

function sClient(args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const p = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${httpsPort}`, '-CAfile', ca.caCert, ...args], { timeout: 10_000 }, (_err, stdout, stderr) => resolve(stdout + stderr));
    p.stdin?.end();
  });
}

function serialOf(out: string): string | null {
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out);
  if (pem === null) return null;
  return pem[0];
}

async function servedSerial(args: string[]): Promise<string | null> {
  const pem = serialOf(await sClient(args));
  if (pem === null) return null;
  const { X509Certificate } = await import('node:crypto');
  return new X509Certificate(pem).serialNumber.toUpperCase();
}

test('SNI picks the certificate (openssl s_client -servername); no SNI gets the first server; an unknown name is refused', async (t) => {
  t.is(await servedSerial(['-servername', 'demo.example.com']), demo.serial);
  t.is(await servedSerial(['-servername', 'other.example.com']), other.serial);
  t.is(await servedSerial(['-noservername']), demo.serial, 'the default: the first HTTPS server in Gateway order');
  const unknown = await sClient(['-servername', 'nobody.example.net']);
  t.is(serialOf(unknown), null, unknown);
  const verified = await sClient(['-servername', 'other.example.com', '-verify_return_error']);
  t.regex(verified, /Verify return code: 0 \(ok\)/);
  t.regex(verified, /New, TLSv1\.3, Cipher is TLS_/, 'TLS 1.3 negotiated by default');
});

test('a host of the other certificate on this connection is 421; on its own connection it is served', async (t) => {
  const wrong = await tlsCurl('demo.example.com', ['--http1.1', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: other.example.com', `https://demo.example.com:${httpsPort}/ping`]);
  t.is(wrong.stdout, '421');
  const right = await tlsCurl('other.example.com', ['--http1.1', '-s', '-o', '/dev/null', '-w', '%{http_code}', `https://other.example.com:${httpsPort}/ping`]);
  t.is(right.stdout, '200');
});

test('httpsRedirect: 301 to https://host + path + query, before routing', async (t) => {
  const r = await curl(['-i', '-H', 'Host: Demo.Example.com:80', `http://127.0.0.1:${httpPort}/ping/x?a=1&b=2`]);
  t.regex(r.stdout, /^HTTP\/1\.1 301 Moved Permanently/);
  t.regex(r.stdout, /\r\nlocation: https:\/\/demo\.example\.com\/ping\/x\?a=1&b=2\r\n/i);
  const none = await curl(['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: elsewhere.example.com', `http://127.0.0.1:${httpPort}/ping`]);
  t.is(none.stdout, '404', 'a host no server on the port has');
});

test('plaintext HTTP to the TLS port and TLS to the plaintext port are refused; the workers keep serving', async (t) => {
  const plain = await curl(['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: demo.example.com', `http://127.0.0.1:${httpsPort}/ping`]);
  t.not(plain.stdout, '200');
  const tlsToPlain = await curl(['-s', '-k', '-o', '/dev/null', '-w', '%{http_code}', `https://127.0.0.1:${httpPort}/ping`]);
  t.not(tlsToPlain.code, 0);
  const ok = await tlsCurl('demo.example.com', ['--http1.1', '-s', '-o', '/dev/null', '-w', '%{http_code}', `https://demo.example.com:${httpsPort}/ping`]);
  t.is(ok.stdout, '200');
});

test('stickyd check names the file, document and field of a broken certificate', async (t) => {
  const expired = ca.issue('expired', { sans: ['demo.example.com'], start: '20200101000000Z', end: '20200102000000Z' });
  const dir = join(cfg.dir, 'broken');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir);
  await writeFile(join(dir, 'ingress-sticky.yaml'), await readFile(join(cfg.dir, 'ingress-sticky.yaml'), 'utf8'));
  await writeTlsConfig(dir, tlsGateway(expired, { ...other, key: demo.key }));
  await writeFile(join(dir, 'endpoints.yaml'), await readFile(join(cfg.dir, 'endpoints.yaml'), 'utf8'));
  const r = await runCli(['check', '-c', dir]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /ingress-sticky\.yaml:\d+: Gateway\/cluster-gateway: spec\.servers\[0\]\.tls\.serverCertificate: .*expired\.crt: the certificate \(CN=expired\) expired on 2020-01-02/);
  t.regex(r.stderr, /ingress-sticky\.yaml:\d+: Gateway\/cluster-gateway: spec\.servers\[1\]\.tls\.privateKey: .*demo\.key: this private key does not belong to the certificate/);
});

test('/metrics: certificate expiry per server and file, handshakes and failures by reason; /status shows each certificate', async (t) => {
  await curl(['-s', '-o', '/dev/null', `http://127.0.0.1:${httpsPort}/`]); // plaintext to the TLS port
  await tlsCurl('demo.example.com', ['--http1.1', '-s', '-o', '/dev/null', `https://demo.example.com:${httpsPort}/ping`]);
  const m = (await curl([`http://127.0.0.1:${daemon.adminPort}/metrics`])).stdout;
  const { X509Certificate } = await import('node:crypto');
  const notAfter = Math.floor(Date.parse(new X509Certificate(await readFile(demo.cert)).validTo) / 1000);
  t.true(m.includes(`stickyd_tls_certificate_expiry_timestamp_seconds{server="demo",file="${demo.cert}"} ${notAfter}\n`), m);
  t.regex(m, /stickyd_tls_certificate_expiry_timestamp_seconds\{server="other",file="[^"]+other\.crt"\} \d+/);
  t.regex(m, /stickyd_tls_handshakes_total [1-9]\d*/);
  t.regex(m, /stickyd_tls_handshake_failures_total\{reason="plaintext_http"\} [1-9]/);
  t.regex(m, /stickyd_downstream_requests_total\{protocol="http\/1\.1"\} [1-9]/);
  const status = JSON.parse((await curl([`http://127.0.0.1:${daemon.adminPort}/status`])).stdout) as { certificates: { server: string; subject: string; subjectAltNames: string[]; serial: string; notAfter: string }[] };
  const c = status.certificates.find((x) => x.server === 'other')!;
  t.is(c.subject, 'CN=other');
  t.deepEqual(c.subjectAltNames, ['DNS:other.example.com']);
  t.is(c.serial, other.serial);
  t.regex(c.notAfter, /^\d{4}-\d\d-\d\dT/);
});
