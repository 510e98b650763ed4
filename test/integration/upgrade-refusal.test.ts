// Only WebSocket upgrades become tunnels (issue 10). Against a lenient backend that answers 101 to
// every Upgrade and then accepts anything on the connection: h2c (with and without HTTP2-Settings
// named in Connection), H2C, foo/1, TLS/1.0, a token list and a POST with Upgrade: websocket are
// proxied as plain requests, so no 101 reaches the client, the backend never sees an Upgrade or
// HTTP2-Settings header, and the route-less path sent after them is answered 404 by stickyd. A
// backend answering 101 to a plain request gets its connection closed and the client a 502.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { GATEWAY_YAML, serviceEntryYaml, virtualServiceYaml } from '../helpers/istio-yaml.js';
import { parseSamples, sample, scrape } from '../helpers/prom.js';
import { rawExchange } from '../helpers/raw.js';
import { sleep } from '../helpers/http.js';

const HOST = 'h2c.example.com';
/** the h2c SETTINGS payload h2csmuggler and curl send */
const SETTINGS = 'AAMAAABkAARAAAAAAAIAAAAA';

interface Seen { readonly method: string; readonly url: string; readonly headers: Record<string, string>; readonly body: string }

interface LenientBackend {
  readonly port: number;
  readonly requests: Seen[];
  /** bytes that arrived on a connection after this backend sent a 101 */
  tunnelled: string;
  /** connections this backend sent a 101 on and that were then closed by the peer */
  closedAfter101: number;
  close(): Promise<void>;
}

/**
 * HTTP/1.1 by hand, to be as lenient as the backends h2csmuggler finds: 101 to any request with an
 * Upgrade header (Connection or not), and to /public/switch* even without one; after a 101 it
 * records whatever arrives. /public/slow answers after 300 ms.
 */
async function startLenientBackend(): Promise<LenientBackend> {
  const state = { tunnelled: '', closedAfter101: 0 };
  const requests: Seen[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let buf = Buffer.alloc(0);
    let switched = false;
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      if (switched) state.closedAfter101++;
    });
    socket.on('data', (d: Buffer) => {
      if (switched) {
        state.tunnelled += d.toString('latin1');
        return;
      }
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const [method = '', url = ''] = lines[0]!.split(' ');
        const headers: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const i = line.indexOf(':');
          headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        if (buf.length < end + 4 + length) return;
        const body = buf.subarray(end + 4, end + 4 + length).toString('latin1');
        const rest = buf.subarray(end + 4 + length);
        buf = Buffer.alloc(0);
        requests.push({ method, url, headers, body });
        if (headers.upgrade !== undefined || url.startsWith('/public/switch')) {
          switched = true;
          const head = url === '/public/switch-bare' ? 'HTTP/1.1 101 Switching Protocols\r\n\r\n' : `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${headers.upgrade ?? 'h2c'}\r\n\r\n`;
          // then "another protocol": bytes no HTTP/1.1 client can parse
          socket.write(head + '\x00\x00\x12\x04\x00\x00\x00\x00\x00tunnel open');
          state.tunnelled += rest.toString('latin1');
          return;
        }
        const answer = JSON.stringify({ url, method, body });
        const write = (): void => { socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(answer)}\r\n\r\n${answer}`); };
        if (url === '/public/slow') setTimeout(write, 300);
        else write();
        buf = rest;
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    get tunnelled() { return state.tunnelled; },
    get closedAfter101() { return state.closedAfter101; },
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

let daemon: Daemon;
let backend: LenientBackend;
let dir: string;

test.before(async () => {
  backend = await startLenientBackend();
  dir = await mkdtemp(join(tmpdir(), 'stickyd-upgrade-'));
  // Only /public has a route: /internal is answered 404 by stickyd, unless a tunnel carries it.
  const yaml = `${GATEWAY_YAML}---
${virtualServiceYaml([HOST], `  - match: [{uri: {prefix: /public}}]
    route:
    - destination: {host: lenient}
`)}---
${serviceEntryYaml('lenient', [backend.port])}`;
  await writeFile(join(dir, 'config.yaml'), yaml);
  daemon = await startDaemon(dir, { workers: 2 });
});

test.after.always(async () => {
  await daemon?.stop();
  await backend?.close();
  await rm(dir, { recursive: true, force: true });
});

interface Case { readonly name: string; readonly path: string; readonly head: string; readonly body?: string; readonly reason: string }

const KEY = 'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
const CASES: readonly Case[] = [
  { name: 'h2c, HTTP2-Settings named in Connection', path: '/public/h2c-named', head: `Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: ${SETTINGS}\r\n`, reason: 'protocol' },
  { name: 'h2c, HTTP2-Settings not named', path: '/public/h2c-unnamed', head: `Upgrade: h2c\r\nHTTP2-Settings: ${SETTINGS}\r\nConnection: Upgrade\r\n`, reason: 'protocol' },
  { name: 'H2C', path: '/public/h2c-upper', head: `Connection: upgrade\r\nUpgrade: H2C\r\nHTTP2-Settings: ${SETTINGS}\r\n`, reason: 'protocol' },
  { name: 'foo/1', path: '/public/foo', head: 'Connection: keep-alive, Upgrade\r\nUpgrade: foo/1\r\n', reason: 'protocol' },
  { name: 'TLS/1.0', path: '/public/tls', head: 'Connection: Upgrade\r\nUpgrade: TLS/1.0\r\n', reason: 'protocol' },
  { name: 'websocket, foo', path: '/public/list', head: `Connection: Upgrade\r\nUpgrade: websocket, foo\r\n${KEY}`, reason: 'protocol' },
  { name: 'POST with Upgrade: websocket', path: '/public/post', head: `Connection: Upgrade\r\nUpgrade: websocket\r\n${KEY}Content-Length: 5\r\n`, body: 'hello', reason: 'method' },
  { name: 'websocket without Sec-WebSocket-Key', path: '/public/nokey', head: 'Connection: Upgrade\r\nUpgrade: websocket\r\n', reason: 'handshake' },
  { name: 'Upgrade: h2c without Connection: upgrade', path: '/public/noconn', head: `Upgrade: h2c\r\nHTTP2-Settings: ${SETTINGS}\r\n`, reason: 'protocol' },
  { name: 'websocket, Connection not naming upgrade', path: '/public/ws-noconn', head: `Connection: keep-alive\r\nUpgrade: websocket\r\n${KEY}`, reason: 'connection' },
];

for (const c of CASES) {
  test(`${c.name}: proxied as a plain request, no 101, no tunnel to a route-less path`, async (t) => {
    const id = `up-${c.path.slice(8)}`;
    const request = `${c.body === undefined ? 'GET' : 'POST'} ${c.path} HTTP/1.1\r\nHost: ${HOST}\r\nX-Request-Id: ${id}\r\n${c.head}\r\n${c.body ?? ''}`;
    // What a client that got its tunnel would send next: a request for a path no route serves.
    const next = `GET /internal/secret HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`;
    const r = await rawExchange(daemon.port, [request, next], { gapMs: 300, waitMs: 3_000 });
    t.false(r.statuses.includes(101), r.data);
    t.deepEqual(r.statuses, [200, 404], r.data);
    t.true(r.closed);
    const seen = backend.requests.filter((s) => s.url === c.path);
    t.is(seen.length, 1);
    const s = seen[0]!;
    t.is(s.headers.upgrade, undefined);
    t.is(s.headers['http2-settings'], undefined);
    t.false(/upgrade|http2-settings/i.test(s.headers.connection ?? ''), s.headers.connection);
    t.is(s.body, c.body ?? '');
    t.false(backend.requests.some((q) => q.url.startsWith('/internal')));
    t.false(backend.tunnelled.includes('/internal'));
    await sleep(100);
    const line = daemon.accessLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.requestId === id);
    t.like(line, { path: c.path, status: 200, upgradeRefused: c.reason });
  });
}

test('an h2c upgrade pipelined behind a slow response is answered in order, as a plain request', async (t) => {
  const first = `GET /public/slow HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`;
  const second = `GET /public/after-slow HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: ${SETTINGS}\r\n\r\n`;
  const third = `GET /internal/after HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`;
  const r = await rawExchange(daemon.port, first + second + third, { waitMs: 3_000 });
  t.deepEqual(r.statuses, [200, 200, 404], r.data);
  t.true(r.data.indexOf('/public/slow') < r.data.indexOf('/public/after-slow'));
  const seen = backend.requests.find((s) => s.url === '/public/after-slow');
  t.is(seen?.headers.upgrade, undefined);
  t.false(backend.requests.some((q) => q.url.startsWith('/internal')));
});

for (const path of ['/public/switch-upgrade', '/public/switch-bare']) {
  test(`a backend answering 101 to a plain request (${path}): 502, its connection closed, no tunnel`, async (t) => {
    const before = backend.closedAfter101;
    const r = await rawExchange(daemon.port, [`GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, `GET /internal/x HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`], { gapMs: 300, waitMs: 3_000 });
    t.false(r.statuses.includes(101), r.data);
    t.is(r.statuses[0], 502, r.data);
    t.false(r.data.includes('tunnel open'));
    t.false(backend.tunnelled.includes('/internal'));
    // the upstream connection the 101 came on is closed by stickyd
    for (let i = 0; i < 20 && backend.closedAfter101 === before; i++) await sleep(50);
    t.true(backend.closedAfter101 > before);
  });
}

test.after('the counters show every refusal, and no worker died', async (t) => {
  const ok = await rawExchange(daemon.port, `GET /public/ok HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
  t.deepEqual(ok.statuses, [200]);
  await sleep(300);
  const samples = parseSamples((await scrape(daemon.adminPort)).text);
  const count = (reason: string): number | undefined => sample(samples, 'stickyd_upgrades_refused_total', { reason });
  t.is(count('protocol'), CASES.filter((c) => c.reason === 'protocol').length + 1);
  t.is(count('method'), 1);
  t.is(count('handshake'), 1);
  t.is(count('connection'), 1);
  t.is(count('upstream_101'), 2);
  t.is(sample(samples, 'stickyd_worker_restarts_total'), 0);
});
