// Which Upgrade requests become tunnels, and the head a refused one is read again with.
import test from 'ava';
import { buildPlainHead, checkUpgrade, UPGRADE_ALLOW } from '../../../../src/worker/downstream/upgrade-policy.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

test('only websocket, one token, any case, on a GET with a key is an upgrade', (t) => {
  t.deepEqual([...UPGRADE_ALLOW], ['websocket']);
  t.is(checkUpgrade('GET', 'websocket', KEY), null);
  t.is(checkUpgrade('GET', 'WebSocket', KEY), null);
  t.is(checkUpgrade('GET', ' websocket ', KEY), null);
});

test('every other upgrade is refused, with its reason', (t) => {
  for (const token of ['h2c', 'H2C', 'foo/1', 'TLS/1.0', 'websocket, foo', 'foo, websocket', 'websocket, websocket', 'websocket/13', '', 'HTTP/2.0']) {
    t.is(checkUpgrade('GET', token, KEY), 'protocol', token);
  }
  for (const method of ['POST', 'PUT', 'get', 'OPTIONS', undefined]) t.is(checkUpgrade(method, 'websocket', KEY), 'method', String(method));
  t.is(checkUpgrade('GET', 'websocket', undefined), 'handshake');
  t.is(checkUpgrade('GET', 'websocket', ''), 'handshake');
  t.is(checkUpgrade('GET', 'websocket', [KEY, KEY]), 'handshake');
});

function head(rawHeaders: string[], method = 'GET', url = '/p?q=1', httpVersion = '1.1'): string | null {
  return buildPlainHead({ method, url, httpVersion, rawHeaders })?.toString('latin1') ?? null;
}

test('the plain head drops only the upgrade token of Connection, keeping names, order and the rest', (t) => {
  t.is(
    head(['Host', 'a.example', 'Connection', 'Upgrade, HTTP2-Settings', 'Upgrade', 'h2c', 'HTTP2-Settings', 'AAMA', 'X-A', 'b']),
    'GET /p?q=1 HTTP/1.1\r\nHost: a.example\r\nConnection: HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMA\r\nX-A: b\r\n\r\n',
  );
  t.is(head(['Host', 'a', 'Connection', 'upgrade', 'Upgrade', 'foo/1'], 'POST', '/x', '1.0'), 'POST /x HTTP/1.0\r\nHost: a\r\nUpgrade: foo/1\r\n\r\n');
  t.is(head(['Host', 'a', 'Connection', 'keep-alive', 'Connection', '\tUPGRADE ', 'Upgrade', 'h2c']), 'GET /p?q=1 HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nUpgrade: h2c\r\n\r\n');
  t.is(head(['Host', 'a', 'Connection', 'close,upgrade', 'Upgrade', 'h2c']), 'GET /p?q=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\nUpgrade: h2c\r\n\r\n');
});

test('no upgrade token to remove: null, so the request is never handed back as an upgrade again', (t) => {
  t.is(head(['Host', 'a', 'Upgrade', 'h2c']), null);
  t.is(head(['Host', 'a', 'Connection', 'upgrade-ish, keep-alive', 'Upgrade', 'h2c']), null);
});

test('latin1 bytes round-trip unchanged', (t) => {
  const b = buildPlainHead({ method: 'GET', url: '/caf\u00e9', httpVersion: '1.1', rawHeaders: ['X-V', '\u00ff\u00e9', 'Connection', 'Upgrade', 'Upgrade', 'h2c'] })!;
  t.deepEqual([...b.subarray(4, 9)], [0x2f, 0x63, 0x61, 0x66, 0xe9]);
  t.true(b.includes(Buffer.from([0xff, 0xe9])));
});
