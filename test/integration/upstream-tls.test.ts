// TLS to backends (DestinationRule tls) with real curl through the real daemon to real HTTPS
// backends whose certificates an openssl CA makes per run: SIMPLE verified against caCertificates
// (sticky across 5 requests), Istio's automatic SNI from the Host, a wrong CA and a SAN mismatch
// refused with 502 STICKYD_ERR_UPSTREAM_TLS (logged) before any request reaches the backend,
// MUTUAL against a backend that requires a client certificate (with and without one), WebSocket
// and active health checks over TLS, a TLS subset with its own connectionPool (pools of its own,
// maxRequestsPerConnection 1 and 2 counted per backend connection) beside the default one, and a
// reload with a broken CA file keeping the old config.
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, runCli, type Daemon } from '../helpers/daemon.js';
import { curl } from '../helpers/curl.js';
import { sleep } from '../helpers/http.js';
import { makeCa, type IssuedCert, type TestCa } from '../helpers/tls-certs.js';
import { cookieRuleYaml, GATEWAY_YAML, virtualServiceYaml } from '../helpers/istio-yaml.js';

interface Seen {
  readonly id: string;
  readonly sni: string | null;
  readonly client: string | null;
  readonly path: string;
  /** which of the backend's TLS connections carried the request (numbered per backend) */
  readonly conn: number;
}

interface TlsBackend {
  readonly port: number;
  readonly seen: Seen[];
  close(): Promise<void>;
}

let backendCa: TestCa;
let clientCa: TestCa;
let otherCa: TestCa;
let backends: TlsBackend[];
let mtls: TlsBackend;
let daemon: Daemon;
let dir: string;

const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** An HTTPS backend answering `<id> <sni> <client CN>`; with `ca` it requires a client certificate from it. */
async function startTlsBackend(id: string, cert: IssuedCert, ca: string | null): Promise<TlsBackend> {
  const seen: Seen[] = [];
  const conns = new WeakMap<object, number>();
  let nextConn = 0;
  const server = https.createServer({
    cert: readFileSync(cert.cert), key: readFileSync(cert.key),
    ...(ca === null ? {} : { ca: readFileSync(ca), requestCert: true, rejectUnauthorized: true }),
  }, (req, res) => {
    const socket = req.socket as TLSSocket;
    const sni = (socket as { servername?: string | false }).servername || null;
    const peer = ca === null ? null : (socket.getPeerCertificate().subject?.CN ?? null);
    if (!conns.has(socket)) conns.set(socket, ++nextConn);
    seen.push({ id, sni, client: typeof peer === 'string' ? peer : null, path: req.url ?? '', conn: conns.get(socket)! });
    const body = JSON.stringify({ id, sni, client: peer });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.on('upgrade', (req, socket) => {
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${WEBSOCKET_GUID}`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nX-Instance: ${id}\r\n\r\n`);
    socket.on('data', (d) => socket.write(d));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function serviceEntry(host: string, ports: readonly number[]): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${host}}
spec:
  hosts: [${host}]
  ports: [{number: 8443, name: https, protocol: HTTP}]
  resolution: STATIC
  endpoints:
${ports.map((p) => `  - {address: 127.0.0.1, ports: {https: ${p}}}`).join('\n')}
`;
}

function rule(host: string, tlsBlock: string, extra = ''): string {
  return cookieRuleYaml(host, `${extra}    tls:
${tlsBlock.split('\n').filter((l) => l !== '').map((l) => `      ${l}`).join('\n')}
`, host);
}

/** one VirtualService per public host, each to its own service */
function route(name: string, host: string, service: string): string {
  return virtualServiceYaml([host], `  - route:\n    - destination: {host: ${service}}\n`).replace('metadata: {name: vs}', `metadata: {name: ${name}}`);
}

let caFile: string;

function config(ca: string): string {
  const ports = backends.map((b) => b.port);
  return [
    GATEWAY_YAML,
    route('good', 'good.example.com', 'good-svc'), serviceEntry('good-svc', ports),
    rule('good-svc', `mode: SIMPLE\ncaCertificates: ${ca}\nsni: backend.internal`),
    route('auto', 'backend.internal', 'sni-auto-svc'), route('autobad', 'public.example.com', 'sni-auto-svc'), serviceEntry('sni-auto-svc', ports),
    rule('sni-auto-svc', `mode: SIMPLE\ncaCertificates: ${ca}`),
    route('wrongca', 'wrongca.example.com', 'wrongca-svc'), serviceEntry('wrongca-svc', ports),
    rule('wrongca-svc', `mode: SIMPLE\ncaCertificates: ${otherCa.caCert}\nsni: backend.internal`),
    route('san', 'san.example.com', 'san-svc'), serviceEntry('san-svc', ports),
    rule('san-svc', `mode: SIMPLE\ncaCertificates: ${ca}\nsni: backend.internal\nsubjectAltNames: [spiffe://corp/someone-else]`),
    route('sanok', 'sanok.example.com', 'sanok-svc'), serviceEntry('sanok-svc', ports),
    rule('sanok-svc', `mode: SIMPLE\ncaCertificates: ${ca}\nsubjectAltNames: [spiffe://corp/backend]`),
    route('mtls', 'mtls.example.com', 'mtls-svc'), serviceEntry('mtls-svc', [mtls.port]),
    rule('mtls-svc', `mode: MUTUAL\ncaCertificates: ${ca}\nclientCertificate: ${client.cert}\nprivateKey: ${client.key}\nsni: backend.internal`),
    route('nocert', 'nocert.example.com', 'nocert-svc'), serviceEntry('nocert-svc', [mtls.port]),
    rule('nocert-svc', `mode: SIMPLE\ncaCertificates: ${ca}\nsni: backend.internal`),
    // the same endpoints and TLS settings as good-svc, with a connectionPool of its own
    route('pooled', 'pooled.example.com', 'pooled-svc'), serviceEntry('pooled-svc', ports),
    rule('pooled-svc', `mode: SIMPLE\ncaCertificates: ${ca}\nsni: backend.internal`, '    connectionPool: {http: {maxRequestsPerConnection: 1}}\n'),
    route('pooled2', 'pooled2.example.com', 'pooled2-svc'), serviceEntry('pooled2-svc', ports),
    rule('pooled2-svc', `mode: SIMPLE\ncaCertificates: ${ca}\nsni: backend.internal`, '    connectionPool: {http: {maxRequestsPerConnection: 2}}\n'),
  ].join('---\n');
}

let client: IssuedCert;

test.before(async () => {
  backendCa = makeCa('backend CA');
  clientCa = makeCa('client CA');
  otherCa = makeCa('backend CA'); // same name, another key: a backend certificate it signed is a forgery
  const server = backendCa.issue('backend', { sans: ['backend.internal', 'URI:spiffe://corp/backend'] });
  client = clientCa.issue('stickyd-client', { sans: ['URI:spiffe://corp/stickyd'], clientAuth: true });
  backends = await Promise.all(['a', 'b', 'c'].map((id) => startTlsBackend(id, server, null)));
  mtls = await startTlsBackend('m', server, clientCa.caCert);
  dir = await mkdtemp(join(tmpdir(), 'stickyd-upstream-tls-'));
  caFile = join(dir, 'backend-ca.crt');
  await writeFile(caFile, readFileSync(backendCa.caCert));
  await writeFile(join(dir, 'config.yaml'), config(caFile));
  daemon = await startDaemon(join(dir, 'config.yaml'), { workers: 2, args: ['--health-path', '/healthz', '--health-interval', '1000', '--health-timeout', '1000', '--health-fall', '2', '--health-rise', '1'] });
});

test.after.always(async () => {
  await daemon?.stop();
  for (const b of [...(backends ?? []), ...(mtls === undefined ? [] : [mtls])]) await b.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  for (const ca of [backendCa, clientCa, otherCa]) ca?.cleanup();
});

/** the daemon's warnings and errors (JSON lines on stderr) */
function warnings(): Record<string, unknown>[] {
  return daemon.stderr.flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } });
}

function reset(): void {
  for (const b of [...backends, mtls]) b.seen.length = 0;
}

/** requests reaching a backend other than active health checks */
function served(): Seen[] {
  return [...backends, mtls].flatMap((b) => b.seen).filter((s) => s.path !== '/healthz');
}

async function get(host: string, cookies: string | null = null, path = '/ping'): Promise<{ status: string; body: string; setCookie: string | null }> {
  const r = await curl(['-s', '-D', '-', '-H', `Host: ${host}`, ...(cookies === null ? [] : ['-b', cookies]), `http://127.0.0.1:${daemon.port}${path}`]);
  const [head = '', body = ''] = r.stdout.split('\r\n\r\n');
  const status = head.split(' ')[1] ?? '';
  const sc = /^set-cookie: (session=[^;]+)/im.exec(head);
  return { status, body, setCookie: sc?.[1] ?? null };
}

test.serial('SIMPLE verified against caCertificates with sni: served, sticky across 5 requests, and sessions spread', async (t) => {
  reset();
  const first = await get('good.example.com');
  t.is(first.status, '200', first.body);
  t.truthy(first.setCookie);
  const seen = JSON.parse(first.body) as { id: string; sni: string };
  t.is(seen.sni, 'backend.internal');
  for (let i = 0; i < 5; i++) {
    const r = await get('good.example.com', first.setCookie);
    t.is(r.status, '200');
    t.is((JSON.parse(r.body) as { id: string }).id, seen.id, `request ${i + 2} stays on ${seen.id}`);
  }
  const ids = new Set<string>();
  for (let i = 0; i < 24; i++) ids.add((JSON.parse((await get('good.example.com')).body) as { id: string }).id);
  t.true(ids.size >= 2, `24 fresh sessions reached ${[...ids].join(',')}`);
});

test.serial('without sni the Host sent upstream is the SNI and the name verified (Istio\'s automatic SNI)', async (t) => {
  reset();
  const ok = await get('backend.internal');
  t.is(ok.status, '200', ok.body);
  t.is((JSON.parse(ok.body) as { sni: string }).sni, 'backend.internal');
  const bad = await get('public.example.com');
  t.is(bad.status, '502', bad.body);
  t.regex(bad.body, /upstream TLS error: ERR_TLS_CERT_ALTNAME_INVALID from 127\.0\.0\.1:\d+/);
  t.is(served().length, 1, 'the mismatched name never reached a backend');
});

test.serial('a backend certificate from another CA (same CA name) is refused: 502 STICKYD_ERR_UPSTREAM_TLS, logged, nothing served', async (t) => {
  reset();
  const r = await get('wrongca.example.com');
  t.is(r.status, '502');
  t.regex(r.body, /^upstream TLS error: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_SIGNATURE_FAILURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY) from 127\.0\.0\.1:\d+/);
  t.is(served().length, 0);
  await sleep(100);
  const line = warnings().find((l) => l.msg === 'upstream error' && l.subset === 'wrongca-svc');
  t.is(line?.code, 'STICKYD_ERR_UPSTREAM_TLS', JSON.stringify(line));
  const metrics = (await curl([`http://127.0.0.1:${daemon.adminPort}/metrics`])).stdout;
  t.regex(metrics, /stickyd_upstream_connect_failures_total\{subset="wrongca-svc",endpoint="127\.0\.0\.1:\d+"\} [1-9]/);
});

test.serial('subjectAltNames: a certificate without the listed SAN is refused; with it (a URI SAN) served', async (t) => {
  reset();
  const r = await get('san.example.com');
  t.is(r.status, '502');
  t.regex(r.body, /upstream TLS error: ERR_TLS_CERT_ALTNAME_INVALID/);
  t.is(served().length, 0);
  const ok = await get('sanok.example.com');
  t.is(ok.status, '200', ok.body);
});

test.serial('MUTUAL: a backend requiring a client certificate gets ours; the same backend without one refuses (502, nothing served)', async (t) => {
  reset();
  const ok = await get('mtls.example.com');
  t.is(ok.status, '200', ok.body);
  t.is((JSON.parse(ok.body) as { client: string }).client, 'stickyd-client');
  const first = ok.setCookie;
  for (let i = 0; i < 4; i++) t.is((await get('mtls.example.com', first)).status, '200');
  const none = await get('nocert.example.com');
  t.is(none.status, '502', none.body);
  // Under TLS 1.3 the client finishes its handshake before the server judges its certificate, and
  // the backend's alert races its close: undici reports "other side closed" (a reset), not the alert.
  t.regex(none.body, /^upstream (TLS error: ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|reset before response headers) from 127\.0\.0\.1:\d+/);
  t.is(mtls.seen.filter((s) => s.path !== '/healthz').length, 5, 'only the requests with our certificate were served');
  t.true(mtls.seen.every((s) => s.client === 'stickyd-client'));
});

test.serial('a TLS subset with its own connectionPool gets its own pools: maxRequestsPerConnection 1 opens a TLS connection per request, 2 carries two, the default subset keeps its connections', async (t) => {
  reset();
  const first = await get('pooled.example.com', null, '/pooled-0');
  t.is(first.status, '200', first.body);
  t.is((JSON.parse(first.body) as { sni: string }).sni, 'backend.internal', 'the pooled subset speaks TLS with its sni');
  for (let i = 1; i < 6; i++) t.is((await get('pooled.example.com', first.setCookie, `/pooled-${i}`)).status, '200');
  const two = await get('pooled2.example.com', null, '/two-0');
  for (let i = 1; i < 8; i++) t.is((await get('pooled2.example.com', two.setCookie, `/two-${i}`)).status, '200');
  const kept = await get('good.example.com', null, '/kept-0');
  for (let i = 1; i < 6; i++) t.is((await get('good.example.com', kept.setCookie, `/kept-${i}`)).status, '200');
  const all = [...backends, mtls].flatMap((b) => b.seen);
  const pooled = all.filter((s) => s.path.startsWith('/pooled-'));
  const keptSeen = all.filter((s) => s.path.startsWith('/kept-'));
  t.is(pooled.length, 6);
  t.is(new Set(pooled.map((s) => s.id)).size, 1, 'sticky: one backend served the pooled session');
  t.is(new Set(pooled.map((s) => `${s.id}/${s.conn}`)).size, 6, 'each request of the pooled subset came on a TLS connection of its own');
  const perConn = new Map<string, number>();
  for (const s of all.filter((x) => x.path.startsWith('/two-'))) perConn.set(`${s.id}/${s.conn}`, (perConn.get(`${s.id}/${s.conn}`) ?? 0) + 1);
  t.is([...perConn.values()].reduce((a, b) => a + b, 0), 8);
  t.true([...perConn.values()].every((n) => n <= 2), `maxRequestsPerConnection 2: at most 2 requests per connection ${JSON.stringify([...perConn])}`);
  t.true(perConn.size <= 6, `and connections are reused: ${perConn.size} for 8 requests`);
  t.is(keptSeen.length, 6);
  // two workers: at most one kept-alive connection each to the session's backend
  t.true(new Set(keptSeen.map((s) => `${s.id}/${s.conn}`)).size <= 2, `the default subset reused its TLS connections: ${JSON.stringify(keptSeen)}`);
  t.true(pooled.every((p) => !keptSeen.some((k) => k.id === p.id && k.conn === p.conn)), 'no connection is shared between the two subsets');
});

test.serial('active health checks speak TLS with the subset\'s settings: TLS endpoints stay healthy', async (t) => {
  await sleep(2_000);
  const hc = [...backends, mtls].flatMap((b) => b.seen).filter((s) => s.path === '/healthz');
  t.true(hc.length >= 4, `health checks reached the backends over TLS: ${hc.length}`);
  t.true(hc.filter((s) => s.id === 'm').every((s) => s.client === 'stickyd-client'), 'the MUTUAL endpoint is checked with our client certificate');
  const status = JSON.parse((await curl([`http://127.0.0.1:${daemon.adminPort}/status`])).stdout) as { subsets: { name: string; endpoints: { healthy: boolean }[] }[] };
  const good = status.subsets.find((s) => s.name === 'good-svc')!;
  t.true(good.endpoints.every((e) => e.healthy));
  t.is((await get('good.example.com')).status, '200');
});

test.serial('WebSocket to a TLS subset: the upgrade goes over TLS with its SNI and trust, and the tunnel echoes', async (t) => {
  const key = Buffer.from('0123456789abcdef').toString('base64');
  const socket = net.connect(daemon.port, '127.0.0.1');
  const got = await new Promise<string>((resolve, reject) => {
    let text = '';
    socket.on('data', (d) => {
      text += d.toString('latin1');
      if (text.includes('\r\n\r\n') && !text.includes('ping-through-tls')) socket.write('ping-through-tls');
      if (text.includes('ping-through-tls')) resolve(text);
    });
    socket.on('error', reject);
    socket.write(`GET /ws HTTP/1.1\r\nHost: good.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`);
    setTimeout(() => reject(new Error(`no echo: ${text}`)), 5_000);
  }).finally(() => socket.destroy());
  t.regex(got, /^HTTP\/1\.1 101 /);
  t.regex(got, /X-Instance: [abc]/);
  // the same upgrade to the wrong-CA service is refused with the TLS code's status
  const refused = await new Promise<string>((resolve) => {
    const s = net.connect(daemon.port, '127.0.0.1');
    let text = '';
    s.on('data', (d) => { text += d.toString('latin1'); });
    s.on('close', () => resolve(text));
    s.write(`GET /ws HTTP/1.1\r\nHost: wrongca.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`);
  });
  t.regex(refused, /^HTTP\/1\.1 502 [\s\S]*upstream TLS error/);
});

test.serial('reload re-reads the CA file: a broken one fails the reload and the old trust keeps serving; a fixed one applies', async (t) => {
  const reload = () => runCli(['reload', '-c', join(dir, 'config.yaml'), '--pid', String(daemon.proc.pid), '--admin', `127.0.0.1:${daemon.adminPort}`]);
  await writeFile(caFile, 'not a certificate\n');
  const bad = await reload();
  t.not(bad.code, 0);
  t.regex(bad.stderr + bad.stdout, new RegExp(`${caFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: no PEM CA certificate.*DestinationRule/good-svc|DestinationRule/good-svc.*no PEM CA certificate`));
  t.is((await get('good.example.com')).status, '200', 'the old generation keeps serving');
  // the file now holds another CA: the reload applies and the backends no longer verify
  // (the health checker takes the new trust too: the endpoints then fail their checks, 503)
  await writeFile(caFile, readFileSync(otherCa.caCert));
  const before = warnings().length;
  const applied = await reload();
  t.is(applied.code, 0, applied.stderr + applied.stdout);
  const after = await get('good.example.com');
  t.true(after.status === '502' || after.status === '503', `new connections use the new trust: ${after.status} ${after.body}`);
  await sleep(3_500);
  const down = warnings().slice(before).filter((l) => l.msg === 'endpoint failed its health check');
  t.true(down.length >= 3 && down.every((l) => /UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_SIGNATURE_FAILURE/.test(String(l.reason))), JSON.stringify(down));
  await writeFile(caFile, readFileSync(backendCa.caCert));
  t.is((await reload()).code, 0);
  await sleep(2_500);
  t.is((await get('good.example.com')).status, '200');
});

