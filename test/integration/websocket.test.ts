// WebSocket through the real daemon: the upgrade is routed and sticky by the same cookie policy,
// bytes flow both ways, either side closing tears down the other, and an upstream that refuses
// the upgrade or answers 101 without a valid Sec-WebSocket-Accept is relayed or 502.
import test from 'ava';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { recordingConfig } from '../helpers/recording-backend.js';
import { sleep } from '../helpers/http.js';
import { cookieStickyYaml } from '../helpers/istio-yaml.js';
import { parseSamples, sample, scrape } from '../helpers/prom.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

interface WsBackend { readonly instance: string; readonly port: number; open: number; closed: number; close(): Promise<void> }

async function startWsBackend(instance: string): Promise<WsBackend> {
  const state = { open: 0, closed: 0 };
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => { req.resume(); res.end(instance); });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const key = String(req.headers['sec-websocket-key']);
    if (req.url === '/refuse') {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 7\r\n\r\nno ws!\n');
      return;
    }
    const accept = req.url === '/badaccept' ? 'wrong' : createHash('sha1').update(key + GUID).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nX-Instance: ${instance}\r\n\r\n`);
    state.open++;
    sockets.add(socket);
    if (head.length > 0) socket.write(head);
    // Echo, upper-cased, so the test knows the bytes went through the backend; "bye" closes from this side.
    socket.on('data', (d: Buffer) => {
      const text = d.toString();
      if (text === 'bye') socket.end();
      else socket.write(text.toUpperCase());
    });
    // http.Server sockets allow half-open: answer the proxy's FIN with ours, as a WebSocket server does.
    socket.on('end', () => socket.end());
    socket.on('close', () => { state.closed++; sockets.delete(socket); });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    instance, port: (server.address() as AddressInfo).port,
    get open() { return state.open; }, get closed() { return state.closed; },
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.closeAllConnections(); server.close(() => r()); }),
  };
}

interface Client { readonly socket: net.Socket; readonly head: string; readonly status: number; read(): Promise<string>; closed: Promise<void> }

function upgrade(port: number, path: string, cookie: string | null): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const key = createHash('sha1').update(String(Math.random())).digest('base64').slice(0, 24);
    let buf = '';
    const waiting: ((s: string) => void)[] = [];
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => {});
    socket.on('connect', () => socket.write(
      `GET ${path} HTTP/1.1\r\nHost: demo.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n${cookie ? `Cookie: ${cookie}\r\n` : ''}\r\n`,
    ));
    let headDone = false;
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (!headDone) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        headDone = true;
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        resolve({
          socket, head, status: Number(head.split(' ')[1]), closed,
          read: () => new Promise((r) => { if (buf) { const b = buf; buf = ''; r(b); } else waiting.push(r); }),
        });
      }
      if (buf && waiting.length > 0) { const b = buf; buf = ''; waiting.shift()!(b); }
    });
    setTimeout(() => reject(new Error('no upgrade answer')), 5_000);
  });
}

let daemon: Daemon;
let backends: WsBackend[];
let dir: string;

test.before(async () => {
  backends = await Promise.all(['w1', 'w2', 'w3'].map(startWsBackend));
  dir = await mkdtemp(join(tmpdir(), 'stickyd-ws-'));
  await writeFile(join(dir, 'config.yaml'), recordingConfig(backends.map((b) => b.port)));
  daemon = await startDaemon(dir, { workers: 2 });
});

test.after.always(async () => {
  await daemon?.stop();
  await Promise.all(backends.map((b) => b.close()));
  await rm(dir, { recursive: true, force: true });
});

const instanceOf = (head: string): string => /X-Instance: (\w+)/.exec(head)?.[1] ?? '?';

test.serial('upgrade without a session: 101 with a minted cookie; with it, every upgrade lands on the same backend', async (t) => {
  const first = await upgrade(daemon.port, '/ws', null);
  t.is(first.status, 101);
  const minted = /Set-Cookie: session=([0-9a-f]{32});/.exec(first.head)?.[1];
  t.truthy(minted, first.head);
  const home = instanceOf(first.head);
  first.socket.destroy();
  const again = await Promise.all(Array.from({ length: 6 }, () => upgrade(daemon.port, '/ws', `session=${minted}`)));
  t.deepEqual(again.map((c) => instanceOf(c.head)), new Array(6).fill(home), 'sticky across connections and workers');
  t.true(again.every((c) => !c.head.includes('Set-Cookie')));
  for (const c of again) c.socket.destroy();
});

test.serial('bytes flow both ways; the client closing closes the backend side', async (t) => {
  const c = await upgrade(daemon.port, '/ws', 'session=abc');
  const backend = backends.find((b) => b.instance === instanceOf(c.head))!;
  const closedBefore = backend.closed;
  c.socket.write('hello');
  t.is(await c.read(), 'HELLO');
  c.socket.write('again');
  t.is(await c.read(), 'AGAIN');
  c.socket.end();
  await c.closed;
  for (let i = 0; i < 150 && backend.closed === closedBefore; i++) await sleep(20);
  t.is(backend.closed, closedBefore + 1, 'the backend saw its side close');
});

test.serial('the backend closing closes the client side', async (t) => {
  const c = await upgrade(daemon.port, '/ws', 'session=xyz');
  c.socket.write('bye');
  const closed = await Promise.race([c.closed.then(() => true), sleep(3_000).then(() => false)]);
  t.true(closed);
});

test.serial('an upstream that refuses the upgrade is relayed; a 101 without a valid accept is 502', async (t) => {
  const refused = await upgrade(daemon.port, '/refuse', 'session=abc');
  t.is(refused.status, 403);
  const bad = await upgrade(daemon.port, '/badaccept', 'session=abc');
  t.is(bad.status, 502);
  await bad.closed;
  t.pass();
});

test.serial('a tunnel holds its connectionPool tokens for its life: with maxConnections 1 and http2MaxRequests 1 over 2 workers, another upgrade or request is 503 x-envoy-overloaded until it closes', async (t) => {
  const own = await mkdtemp(join(tmpdir(), 'stickyd-ws-pool-'));
  t.teardown(() => rm(own, { recursive: true, force: true }));
  await writeFile(join(own, 'config.yaml'), cookieStickyYaml('app', [backends[0]!.port], { policy: '    connectionPool:\n      tcp: {maxConnections: 1}\n      http: {http2MaxRequests: 1}\n' }));
  const d = await startDaemon(own, { workers: 2 });
  t.teardown(() => d.stop());
  const first = await upgrade(d.port, '/chat', null);
  t.is(first.status, 101);
  // several tries: client connections alternate between the workers, and each must refuse
  for (let i = 0; i < 4; i++) {
    const second = await upgrade(d.port, '/chat', null);
    t.is(second.status, 503, second.head);
    t.regex(second.head, /x-envoy-overloaded: true/i);
    await second.closed;
    const plain = await getStatus(d.port);
    t.deepEqual(plain, { status: 503, overloaded: 'true' });
  }
  first.socket.write('ping');
  t.is(await first.read(), 'PING', 'the tunnel itself works throughout');
  first.socket.end();
  await first.closed;
  let after = await getStatus(d.port);
  for (let i = 0; i < 20 && after.status !== 200; i++) {
    await sleep(50);
    after = await getStatus(d.port);
  }
  t.is(after.status, 200, 'the tokens came back when the tunnel closed');
  const again = await upgrade(d.port, '/chat', null);
  t.is(again.status, 101);
  again.socket.destroy();
  const samples = parseSamples((await scrape(d.adminPort)).text);
  t.is(sample(samples, 'stickyd_upstream_overflow_total', { subset: 'app', limit: 'http2MaxRequests' }), 8);
});

function getStatus(port: number): Promise<{ status: number; overloaded: string | undefined }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent: false, headers: { host: 'demo.example.com' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, overloaded: res.headers['x-envoy-overloaded'] as string | undefined }));
    }).on('error', reject);
  });
}
