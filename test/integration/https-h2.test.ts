// HTTP/2 over TLS (ALPN h2) through the same request path as HTTP/1.1: the seed's walkthrough
// with curl --http2 over one connection and over fresh ones, cookies split over several fields,
// and hostile HTTP/2 from Node's own h2 client and raw frames: rapid reset (CVE-2023-44487), a
// SETTINGS flood, an oversized header list, a slow handshake. Each ends the offending connection
// and the worker keeps serving everyone else.
import test from 'ava';
import http2 from 'node:http2';
import tls from 'node:tls';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { startBackends, configDir } from '../helpers/backends.js';
import { curl } from '../helpers/curl.js';
import { makeCa, type TestCa } from '../helpers/tls-certs.js';
import { tlsGateway, writeTlsConfig } from '../helpers/tls-config.js';
import type { Backend } from '../../src/demo/backend.js';

interface Ping { instance: string; version: string }

let backends: Backend[];
let daemon: Daemon;
let cfg: { dir: string; cleanup(): Promise<void> };
let ca: TestCa;
let caPem: Buffer;
let port: number;

test.before(async () => {
  ca = makeCa();
  const demo = ca.issue('demo', { sans: ['demo.example.com'] });
  const other = ca.issue('other', { sans: ['other.example.com'] });
  caPem = await readFile(ca.caCert);
  backends = await startBackends();
  cfg = await configDir('demo', backends);
  await writeTlsConfig(cfg.dir, tlsGateway(demo, other));
  daemon = await startDaemon(cfg.dir, { workers: 2, args: ['--listen', '80=127.0.0.1:0,443=127.0.0.1:0'] });
  port = (daemon.lines.find((l) => l.msg === 'ready')!.listenPorts as number[])[1]!;
});

test.after.always(async () => {
  await daemon?.stop();
  await Promise.all((backends ?? []).map((b) => b.close()));
  await cfg?.cleanup();
  ca?.cleanup();
});

const url = (): string => `https://demo.example.com:${port}/ping`;
const resolve = (): string[] => ['--cacert', ca.caCert, '--resolve', `demo.example.com:${port}:127.0.0.1`];

function pings(stdout: string): Ping[] {
  return stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Ping);
}

test.serial('curl --http2: 5 of 5 on one instance over one h2 connection, and over 5 fresh ones', async (t) => {
  const jar = join(cfg.dir, 'h2-one.txt');
  const one = await curl(['--http2', ...resolve(), '-c', jar, '-b', jar, '-w', '%{http_version} %{num_connects}\\n', url(), url(), url(), url(), url()]);
  t.is(one.code, 0, one.stderr);
  const lines = one.stdout.trim().split('\n');
  const meta = lines.filter((l) => /^\d/.test(l));
  t.deepEqual(meta, ['2 1', '2 0', '2 0', '2 0', '2 0'], 'HTTP/2, one connection for all five');
  const p1 = pings(one.stdout);
  t.is(p1.length, 5);
  t.is(new Set(p1.map((p) => p.instance)).size, 1, JSON.stringify(p1));
  const jar2 = join(cfg.dir, 'h2-fresh.txt');
  const fresh: Ping[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await curl(['--http2', ...resolve(), '-c', jar2, '-b', jar2, '-w', '%{http_version}\\n', url()]);
    t.regex(r.stdout, /\n2\n?$/);
    fresh.push(...pings(r.stdout));
  }
  t.is(new Set(fresh.map((p) => p.instance)).size, 1);
  const head = await curl(['--http2', ...resolve(), '-i', url()]);
  t.regex(head.stdout, /^HTTP\/2 200/);
  t.regex(head.stdout, /set-cookie: session=[0-9a-f]{32}; Path=\/; Max-Age=60; HttpOnly/i);
  t.notRegex(head.stdout, /\r\n(connection|keep-alive):/i);
  const dev = await curl(['--http2', ...resolve(), '-H', 'stage: dev', url()]);
  t.is(pings(dev.stdout)[0]?.version, 'v3', 'header route match over h2');
});

function h2connect(): http2.ClientHttp2Session {
  return http2.connect(`https://127.0.0.1:${port}`, { ca: caPem, servername: 'demo.example.com' });
}

function h2get(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': '/ping', ':authority': 'demo.example.com', ...headers });
    let body = '';
    let status = 0;
    req.on('response', (h) => { status = Number(h[':status']); });
    req.setEncoding('utf8');
    req.on('data', (d: string) => { body += d; });
    req.on('end', () => resolve({ status, body }));
    req.on('error', reject);
    req.end();
  });
}

test.serial('cookie fields split over several h2 headers are read as one: the session in the second field sticks', async (t) => {
  const s = h2connect();
  t.teardown(() => s.close());
  const first = await h2get(s, {});
  const minted = /"instance":"([^"]+)"/.exec(first.body)![1];
  // mint a cookie through curl to know its value and instance
  const r = await curl(['--http2', ...resolve(), '-i', url()]);
  const cookie = /set-cookie: (session=[0-9a-f]{32})/i.exec(r.stdout)![1]!;
  const instance = pings(r.stdout.slice(r.stdout.indexOf('\r\n\r\n')))[0]!.instance;
  t.truthy(minted);
  for (let i = 0; i < 5; i++) {
    const split = await h2get(s, { cookie: ['theme=dark', cookie, 'x=1'] });
    t.is(split.status, 200);
    t.is(JSON.parse(split.body).instance, instance);
  }
  t.is(s.alpnProtocol, 'h2');
});

test.serial('an :authority of the other certificate on this h2 connection is 421', async (t) => {
  const s = h2connect();
  t.teardown(() => s.close());
  const r = await h2get(s, { ':authority': 'other.example.com' });
  t.is(r.status, 421);
});

async function stillServes(t: import('ava').ExecutionContext): Promise<void> {
  const s = h2connect();
  try {
    for (let i = 0; i < 4; i++) t.is((await h2get(s, {})).status, 200, 'others are served');
  } finally {
    s.close();
  }
}

/** A raw TLS connection speaking h2 frames we write by hand. */
function rawH2(): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, ca: caPem, servername: 'demo.example.com', ALPNProtocols: ['h2'] }, () => resolve(sock));
    sock.on('error', reject);
  });
}

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

function readGoaway(sock: tls.TLSSocket, timeoutMs: number): Promise<number | 'closed' | 'timeout'> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => resolve('timeout'), timeoutMs);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        if (buf[3] === 7) { clearTimeout(timer); resolve(buf.readUInt32BE(13)); return; }
        buf = buf.subarray(9 + len);
      }
    });
    sock.on('close', () => { clearTimeout(timer); resolve('closed'); });
    sock.on('error', () => {});
  });
}

test.serial('rapid reset (raw HEADERS then RST_STREAM, 2000 streams in one burst) ends that session with GOAWAY; others are served', async (t) => {
  const sock = await rawH2();
  // The idle timeout would also send GOAWAY, with NO_ERROR (0): only another code (or a close) counts.
  const got = readGoaway(sock, 20_000);
  const authority = Buffer.from('demo.example.com');
  // HPACK: :method GET, :scheme https, :path / (static table), :authority as a literal
  const block = Buffer.concat([Buffer.from([0x82, 0x87, 0x84, 0x01, authority.length]), authority]);
  const frames: Buffer[] = [PREFACE, frame(4, 0, 0, Buffer.alloc(0))];
  const cancel = Buffer.alloc(4);
  cancel.writeUInt32BE(8); // CANCEL
  for (let i = 0; i < 2000; i++) {
    const id = 1 + 2 * i;
    frames.push(frame(1, 0x5, id, block), frame(3, 0, id, cancel)); // HEADERS END_STREAM|END_HEADERS, RST_STREAM
  }
  sock.write(Buffer.concat(frames), () => {});
  const result = await got;
  t.true(result === 'closed' || (typeof result === 'number' && result !== 0), `ended by a limit, not idle: ${String(result)}`);
  t.log(`rapid reset: ${typeof result === 'number' ? `GOAWAY error code ${result}` : result}`);
  sock.destroy();
  await stillServes(t);
  const m = (await curl([`http://127.0.0.1:${daemon.adminPort}/metrics`])).stdout;
  t.regex(m, /stickyd_http2_sessions_refused_total\{reason="rapid_reset"\} [1-9]/);
  t.regex(m, /stickyd_downstream_requests_total\{protocol="h2"\} [1-9]/);
});

test.serial('a SETTINGS flood (and a PING flood) ends the session with GOAWAY; others are served', async (t) => {
  for (const [name, type] of [['SETTINGS', 4], ['PING', 6]] as const) {
    const sock = await rawH2();
    const got = readGoaway(sock, 10_000);
    sock.write(Buffer.concat([PREFACE, frame(4, 0, 0, Buffer.alloc(0))]));
    const flood: Buffer[] = [];
    for (let i = 0; i < 20_000; i++) flood.push(type === 4 ? frame(4, 0, 0, Buffer.alloc(0)) : frame(6, 0, 0, Buffer.alloc(8)));
    // the server may close while we write; that is the point
    sock.write(Buffer.concat(flood), () => {});
    const result = await got;
    t.not(result, 'timeout', `${name} flood: the session was ended`);
    t.log(`${name} flood: ${typeof result === 'number' ? `GOAWAY error code ${result}` : result}`);
    sock.destroy();
  }
  await stillServes(t);
});

test.serial('an oversized header list is refused; the worker keeps serving', async (t) => {
  const s = h2connect();
  s.on('error', () => {});
  const big = 'x'.repeat(8_000);
  const headers: http2.OutgoingHttpHeaders = {};
  for (let i = 0; i < 5; i++) headers[`x-big-${i}`] = big;
  const r = await h2get(s, headers).catch((e: Error) => ({ status: -1, body: e.message }));
  t.not(r.status, 200, r.body);
  t.log(`oversized header list: ${r.status === -1 ? r.body : `status ${r.status}`}`);
  s.destroy();
  await stillServes(t);
});

test.serial('a slow TLS handshake is dropped at the header deadline; plaintext h2 prior knowledge to the TLS port is refused', async (t) => {
  const net = await import('node:net');
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write(Buffer.from([0x16, 0x03, 0x01])); // the first bytes of a ClientHello, then nothing
  const started = Date.now();
  await new Promise<void>((r) => sock.once('close', () => r()));
  t.log(`slow handshake closed after ${Date.now() - started} ms`);
  const plain = net.connect(port, '127.0.0.1');
  plain.on('error', () => {});
  plain.write(PREFACE);
  await new Promise<void>((r) => plain.once('close', () => r()));
  t.pass();
  await stillServes(t);
});
