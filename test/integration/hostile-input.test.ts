// RELIABILITY §2 over raw TCP against the real daemon: each hostile request gets its exact status,
// the connection is closed where framing is in doubt, and a recording backend proves that
// nothing of a refused request reached it.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { rawExchange } from '../helpers/raw.js';
import { recordingConfig, startRecordingBackend, type RecordingBackend } from '../helpers/recording-backend.js';
import { sleep } from '../helpers/http.js';

const H = 'Host: demo.example.com\r\n';

let daemon: Daemon;
let backend: RecordingBackend;
let dir: string;

test.before(async () => {
  backend = await startRecordingBackend();
  dir = await mkdtemp(join(tmpdir(), 'stickyd-hostile-'));
  await writeFile(join(dir, 'config.yaml'), recordingConfig([backend.port]));
  daemon = await startDaemon(dir, { workers: 2, args: ['--headers-timeout', '1000', '--request-timeout', '3000'] });
});

test.after.always(async () => {
  await daemon?.stop();
  await backend?.close();
  await rm(dir, { recursive: true, force: true });
});

interface Case {
  readonly name: string;
  readonly raw: string;
  readonly status: number;
  /** the connection must be closed after the answer (ambiguous framing, refused input) */
  readonly close?: boolean;
}

/** Refused cases: exact status, connection closed, and the backend sees nothing at all. */
const REFUSED: readonly Case[] = [
  // §2.1 framing and smuggling (llhttp rejects these itself; the test pins that it stays so)
  { name: 'CL + TE', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'TE then CL', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'duplicate CL, same value', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc`, status: 400 },
  { name: 'conflicting CL', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`, status: 400 },
  { name: 'CL list "3, 3"', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 3, 3\r\n\r\nabc`, status: 400 },
  { name: 'CL +3', raw: `POST / HTTP/1.1\r\n${H}Content-Length: +3\r\n\r\nabc`, status: 400 },
  { name: 'CL -1', raw: `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, status: 400 },
  { name: 'CL 2^64', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 18446744073709551616\r\n\r\nabc`, status: 400 },
  { name: 'space before colon', raw: `POST / HTTP/1.1\r\n${H}Content-Length : 3\r\n\r\nabc`, status: 400 },
  { name: 'TE chunked, identity', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'TE gzip, chunked (llhttp accepts it)', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, status: 501 },
  { name: 'TE identity, chunked (llhttp accepts it)', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n`, status: 501 },
  { name: 'TE chunked twice on one line', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'TE xchunked', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'two TE lines chunked + identity', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'TE on HTTP/1.0', raw: `POST / HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'TE obs-fold', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: x\r\n chunked\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'bare LF line endings', raw: `GET / HTTP/1.1\nHost: demo.example.com\n\n`, status: 400 },
  { name: 'bare CR in a value', raw: `GET / HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`, status: 400 },
  { name: 'chunk size overflow', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\n`, status: 400 },
  { name: 'chunk size 0x1', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x1\r\na\r\n0\r\n\r\n`, status: 400 },
  { name: 'chunk data longer than its size', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n0\r\n\r\n`, status: 400 },
  { name: 'chunk extension of 20 KB', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1;${'x'.repeat(20_000)}\r\na\r\n0\r\n\r\n`, status: 413 },
  // §2.2 sizes and counts
  { name: 'one 17 KB header', raw: `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(17_000)}\r\n\r\n`, status: 431 },
  { name: '2500 tiny headers (llhttp would drop most silently)', raw: `GET / HTTP/1.1\r\n${H}${'X-A: b\r\n'.repeat(2500)}\r\n`, status: 431 },
  { name: 'the session cookie as header #1100', raw: `GET / HTTP/1.1\r\n${H}${'X-A: b\r\n'.repeat(1099)}Cookie: session=abc\r\n\r\n`, status: 431 },
  { name: '101 header lines', raw: `GET / HTTP/1.1\r\n${H}${'X-A: b\r\n'.repeat(100)}\r\n`, status: 431 },
  { name: 'URI of 9 KB', raw: `GET /${'a'.repeat(9_000)} HTTP/1.1\r\n${H}\r\n`, status: 414 },
  // §2.3 request line, Host, target forms, methods
  { name: 'HTTP/1.1 without Host', raw: `GET / HTTP/1.1\r\n\r\n`, status: 400 },
  { name: 'two Host headers', raw: `GET / HTTP/1.1\r\n${H}Host: other.example.com\r\n\r\n`, status: 400 },
  { name: 'Host with a space', raw: `GET / HTTP/1.1\r\nHost: exa mple.test\r\n\r\n`, status: 400 },
  { name: 'empty Host', raw: `GET / HTTP/1.1\r\nHost:\r\n\r\n`, status: 400 },
  { name: 'Host with userinfo', raw: `GET / HTTP/1.1\r\nHost: user@demo.example.com\r\n\r\n`, status: 400 },
  { name: 'absolute-form naming another authority', raw: `GET http://evil.test/p HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'GET *', raw: `GET * HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'authority-form with GET', raw: `GET demo.example.com:80 HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'CONNECT', raw: `CONNECT demo.example.com:443 HTTP/1.1\r\nHost: demo.example.com:443\r\n\r\n`, status: 405 },
  { name: 'fragment in the target', raw: `GET /a#frag HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'NUL in the target', raw: `GET /a\x00b HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'unknown method', raw: `FOO / HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'lower-case method', raw: `get / HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'HTTP/1.2', raw: `GET / HTTP/1.2\r\n${H}\r\n`, status: 400 },
  { name: 'HTTP/2.0 in HTTP/1 syntax', raw: `GET / HTTP/2.0\r\n${H}\r\n`, status: 505 },
  // §2.4 header names and values
  { name: 'space in a header name', raw: `GET / HTTP/1.1\r\n${H}X A: b\r\n\r\n`, status: 400 },
  { name: '\\x01 in a header name', raw: `GET / HTTP/1.1\r\n${H}X\x01A: b\r\n\r\n`, status: 400 },
  { name: 'NUL in a value', raw: `GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n`, status: 400 },
  { name: '\\x7f in a value', raw: `GET / HTTP/1.1\r\n${H}X-A: a\x7fb\r\n\r\n`, status: 400 },
  { name: 'obs-fold', raw: `GET / HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n`, status: 400 },
  { name: 'whitespace before the first header', raw: `GET / HTTP/1.1\r\n ${H}\r\n`, status: 400 },
  // §2.5
  { name: 'Expect: foo', raw: `GET / HTTP/1.1\r\n${H}Expect: foo\r\n\r\n`, status: 417, close: false },
];

for (const c of REFUSED) {
  test.serial(`refused: ${c.name} -> ${c.status}, nothing reaches the backend`, async (t) => {
    backend.reset();
    const r = await rawExchange(daemon.port, c.raw, { waitMs: c.close === false ? 500 : 3_000 });
    t.is(r.statuses[0], c.status, r.data.slice(0, 200));
    t.is(r.statuses.length, 1, 'exactly one response: a smuggled second request is never answered');
    if (c.close !== false) t.true(r.closed, 'connection closed after the answer');
    await sleep(50);
    t.deepEqual(backend.requests.map((q) => `${q.method} ${q.url}`), [], 'the backend saw nothing');
  });
}

/** Accepted cases: forwarded, answered 200, and the backend saw exactly what it should. */
test.serial('accepted edge cases are forwarded: upper-case Chunked, OWS in TE, URI of 7 KB, HTTP/1.0 without Host; OPTIONS * answered', async (t) => {
  backend.reset();
  const C = 'Connection: close\r\n';
  const cases = [
    `POST /chunked HTTP/1.1\r\n${H}${C}Transfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
    `POST /ows HTTP/1.1\r\n${H}${C}Transfer-Encoding:   chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
    `GET /${'a'.repeat(7_000)} HTTP/1.1\r\n${H}${C}\r\n`,
    `GET http://demo.example.com/absolute?q=1 HTTP/1.1\r\n${H}${C}\r\n`,
    `OPTIONS * HTTP/1.1\r\n${H}${C}\r\n`,
  ];
  for (const raw of cases) {
    const r = await rawExchange(daemon.port, raw, { waitMs: 2_000 });
    t.is(r.statuses[0], 200, raw.slice(0, 60));
    t.true(r.closed);
  }
  const urls = backend.requests.map((q) => q.url);
  t.deepEqual(urls.slice(0, 2), ['/chunked', '/ows']);
  t.is(urls[2], `/${'a'.repeat(7_000)}`);
  t.is(urls[3], '/absolute?q=1', 'absolute-form is forwarded in origin-form');
  t.is(urls.length, 4, 'OPTIONS * is answered by stickyd itself (the gateway is the server the client asks)');
  const star = await rawExchange(daemon.port, `OPTIONS * HTTP/1.1\r\n${H}${C}\r\n`, { waitMs: 2_000 });
  t.regex(star.data, /\r\nAllow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS\r\n/);
  t.is(backend.requests[0]!.body, 'abc');
  t.true(backend.requests.every((q) => q.complete));
  // HTTP/1.0 without Host has no route host: 404 from stickyd, never a request with an empty Host upstream.
  const r10 = await rawExchange(daemon.port, 'GET / HTTP/1.0\r\n\r\n', { waitMs: 1_000 });
  t.is(r10.statuses[0], 404);
});

test.serial('hop-by-hop headers are stripped both ways, and every header named in Connection', async (t) => {
  backend.reset();
  backend.responseHeaders = ['Connection', 'X-Secret', 'X-Secret', 'internal', 'Keep-Alive', 'timeout=5', 'Proxy-Authenticate', 'Basic', 'X-Kept', 'yes'];
  const raw = `GET /hop HTTP/1.1\r\n${H}Connection: close, X-Foo\r\nX-Foo: secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n` +
    `Proxy-Authorization: Basic abc\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\nX-Kept: yes\r\n\r\n`;
  const r = await rawExchange(daemon.port, raw, { waitMs: 1_000 });
  t.is(r.statuses[0], 200);
  const seen = backend.requests[0]!.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  // stickyd's own hop to the backend is keep-alive; the client's Connection value never travels.
  t.is(backend.requests[0]!.headers.connection, 'keep-alive');
  for (const gone of ['x-foo', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'upgrade']) t.false(seen.includes(gone), `backend saw ${gone}`);
  t.true(seen.includes('x-kept'));
  const head = r.data.split('\r\n\r\n')[0]!.toLowerCase();
  t.false(head.includes('x-secret'), 'a header the backend named in Connection does not leak');
  t.false(head.includes('proxy-authenticate'));
  t.true(head.includes('x-kept: yes'));
});

test.serial('X-Forwarded-* are set from the peer, client values replaced; X_Forwarded_For never reaches the backend; X-Request-Id generated and echoed', async (t) => {
  backend.reset();
  const raw = `GET /xff HTTP/1.1\r\n${H}X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-For: 5.6.7.8\r\nX-Forwarded-Proto: https\r\n` +
    `X-Forwarded-Host: evil.test\r\nForwarded: for=9.9.9.9\r\nX_Forwarded_For: 6.6.6.6\r\nConnection: close\r\n\r\n`;
  const r = await rawExchange(daemon.port, raw, { waitMs: 1_000 });
  t.is(r.statuses[0], 200);
  const q = backend.requests[0]!;
  t.is(q.headers['x-forwarded-for'], '127.0.0.1');
  t.is(q.headers['x-forwarded-proto'], 'http');
  t.is(q.headers['x-forwarded-host'], 'demo.example.com');
  t.is(q.headers.forwarded, undefined);
  t.false(q.rawHeaders.some((h) => h.toLowerCase() === 'x_forwarded_for'));
  const id = q.headers['x-request-id'];
  t.regex(String(id), /^[0-9a-f-]{36}$/);
  t.true(r.data.includes(`X-Request-Id: ${id}`), 'the generated id is passed back');
  backend.reset();
  const mine = await rawExchange(daemon.port, `GET / HTTP/1.1\r\n${H}X-Request-Id: abc-123\r\nConnection: close\r\n\r\n`, { waitMs: 1_000 });
  t.is(backend.requests[0]!.headers['x-request-id'], 'abc-123');
  t.true(mine.data.includes('X-Request-Id: abc-123'));
});

test.serial('pipelined requests are answered in order on one connection', async (t) => {
  backend.reset();
  const raw = `GET /1 HTTP/1.1\r\n${H}\r\nGET /2 HTTP/1.1\r\n${H}\r\nGET /3 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`;
  const r = await rawExchange(daemon.port, raw, { waitMs: 2_000 });
  t.deepEqual(r.statuses, [200, 200, 200]);
  t.deepEqual([...r.data.matchAll(/"url":"(\/\d)"/g)].map((m) => m[1]), ['/1', '/2', '/3']);
  t.true(r.closed);
});

test.serial('a pipelined request after a refused one is never processed', async (t) => {
  backend.reset();
  const raw = `GET / HTTP/1.1\r\n${H}Host: second.example.com\r\n\r\nGET /after HTTP/1.1\r\n${H}\r\n`;
  const r = await rawExchange(daemon.port, raw, { waitMs: 1_500 });
  t.deepEqual(r.statuses, [400]);
  t.true(r.closed);
  await sleep(50);
  t.is(backend.requests.length, 0);
});

test.serial('slowloris: a head dribbled byte by byte gets 408 at the headers timeout and is closed', async (t) => {
  backend.reset();
  const head = `GET /slow HTTP/1.1\r\n${H}X-Slow: ${'a'.repeat(40)}\r\n`;
  const r = await rawExchange(daemon.port, head.split(''), { gapMs: 100, waitMs: 6_000 });
  t.is(r.statuses[0], 408, r.data);
  t.true(r.closed);
  // --headers-timeout 1000 and a 100 ms check interval: closed well before the 6 s it would take to finish.
  t.true(r.ms < 3_000, `closed after ${r.ms} ms`);
  t.is(backend.requests.length, 0);
  const idle = await rawExchange(daemon.port, [], { waitMs: 4_000 });
  t.true(idle.closed, 'a connection that sends nothing is closed too');
  t.true(idle.ms < 3_000, `${idle.ms} ms`);
});

test.serial('cookie edge cases: none crashes a worker; malformed, empty, oversized or non-ASCII values are re-minted; the first valid one wins', async (t) => {
  backend.reset();
  const send = async (cookieLines: string[]): Promise<{ status: number; setCookie: string | null }> => {
    const r = await rawExchange(daemon.port, `GET /c HTTP/1.1\r\n${H}${cookieLines.map((c) => `Cookie: ${c}\r\n`).join('')}Connection: close\r\n\r\n`, { waitMs: 1_000 });
    const m = /Set-Cookie: session=([0-9a-f]+);/.exec(r.data);
    return { status: r.statuses[0] ?? 0, setCookie: m?.[1] ?? null };
  };
  const valid = await send(['session=abc123']);
  t.deepEqual(valid, { status: 200, setCookie: null }, 'a valid session is used, not re-minted');
  for (const lines of [['session='], ['session=""'], [`session=${'a'.repeat(300)}`], ['session=caf\xe9'], ['session=a b'], ['session=a\\b'], ['=nokey; novalue']]) {
    const r = await send(lines);
    t.is(r.status, 200, lines.join(' | '));
    t.regex(r.setCookie ?? '', /^[0-9a-f]{32}$/, `${lines.join(' | ')}: a fresh session is minted`);
  }
  for (const lines of [['session="abc123"'], ['session=abc123', 'session=zzz'], [`session=${'a'.repeat(300)}; session=abc123`], ['x=1', 'session=; session=abc123']]) {
    t.deepEqual(await send(lines), { status: 200, setCookie: null }, lines.join(' | '));
  }
  // The workers survived all of it.
  const after = await rawExchange(daemon.port, `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, { waitMs: 1_000 });
  t.is(after.statuses[0], 200);
  t.false(daemon.lines.some((l) => l.msg === 'worker died; replacing it'));
});

test.serial('--max-connections bounds a worker\'s client connections (503 beyond); --keep-alive-timeout closes idle ones', async (t) => {
  const small = await startDaemon(dir, { workers: 1, args: ['--max-connections', '4', '--keep-alive-timeout', '500'] });
  t.teardown(() => small.stop());
  const { default: net } = await import('node:net');
  const open = (): Promise<{ socket: import('node:net').Socket; first: Promise<string> }> =>
    new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port: small.port }, () => {
        socket.write(`GET /held HTTP/1.1\r\n${H}\r\n`);
        const first = new Promise<string>((r) => {
          socket.once('data', (d) => r(d.toString('latin1')));
          socket.once('close', () => r('closed'));
        });
        resolve({ socket, first });
      });
      socket.on('error', () => {});
    });
  const held = [await open(), await open(), await open(), await open()];
  const answers = await Promise.all(held.map((h) => h.first));
  t.true(answers.every((a) => a.startsWith('HTTP/1.1 200')), 'four connections are served');
  const fifth = await open();
  t.regex(await fifth.first, /^HTTP\/1\.1 503 /, 'the fifth is shed at accept with a 503');
  // Idle keep-alive: Node closes after keepAliveTimeout (plus up to a second of its own slack).
  const closedWithin = await Promise.race([Promise.all(held.map((h) => new Promise((r) => h.socket.once('close', r)))).then(() => true), sleep(3_000).then(() => false)]);
  t.true(closedWithin, 'idle connections closed after the keep-alive timeout');
  const again = await rawExchange(small.port, `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, { waitMs: 1_000 });
  t.is(again.statuses[0], 200, 'capacity is back once they closed');
});
