// X-Forwarded-* at the proxy hop: replaced for ordinary clients, kept and appended to for
// trusted proxies; names with "_" and hop-by-hop fields never travel.
import test from 'ava';
import type { IncomingMessage } from 'node:http';
import { initHasher } from '../../../../src/balancing/hash.js';
import { DEFAULT_SETTINGS } from '../../../../src/config/settings.js';
import { loadKernel } from '../../../../src/kernel/index.js';
import { buildClientHeaders, buildUpstreamHeaders } from '../../../../src/worker/downstream/forward-headers.js';
import { buildRuntimeSnapshot } from '../../../../src/worker/routing/runtime-snapshot.js';

function fakeRequest(raw: string[]): IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    headers[k] = headers[k] === undefined ? raw[i + 1]! : `${headers[k]}, ${raw[i + 1]}`;
  }
  return { rawHeaders: raw, headers } as unknown as IncomingMessage;
}

const pairs = (list: string[]): Record<string, string[]> => {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < list.length; i += 2) (out[list[i]!.toLowerCase()] ??= []).push(list[i + 1]!);
  return out;
};

const CLIENT = ['Host', 'app.test', 'X-Forwarded-For', '1.2.3.4', 'X-Forwarded-For', '5.6.7.8', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'front.test', 'Forwarded', 'for=1.2.3.4', 'X_Forwarded_For', '6.6.6.6', 'X-Request-Id', 'client-id', 'Accept', '*/*'];

test('an untrusted peer: every forwarding claim is replaced by what stickyd saw', (t) => {
  const h = pairs(buildUpstreamHeaders(fakeRequest(CLIENT), { clientAddress: '198.51.100.9', requestId: 'rid', fallbackHost: 'svc', trustedPeer: false }));
  t.deepEqual(h['x-forwarded-for'], ['198.51.100.9']);
  t.deepEqual(h['x-forwarded-proto'], ['http']);
  t.deepEqual(h['x-forwarded-host'], ['app.test']);
  t.deepEqual(h['x-request-id'], ['rid']);
  t.is(h.forwarded, undefined);
  t.is(h.x_forwarded_for, undefined);
  t.deepEqual(h.accept, ['*/*']);
});

test('a trusted proxy: its X-Forwarded-* are kept and the peer is appended to X-Forwarded-For', (t) => {
  const h = pairs(buildUpstreamHeaders(fakeRequest(CLIENT), { clientAddress: '10.0.0.5', requestId: 'rid', fallbackHost: 'svc', trustedPeer: true }));
  t.deepEqual(h['x-forwarded-for'], ['1.2.3.4, 5.6.7.8, 10.0.0.5']);
  t.deepEqual(h['x-forwarded-proto'], ['https']);
  t.deepEqual(h['x-forwarded-host'], ['front.test']);
  t.deepEqual(h.forwarded, ['for=1.2.3.4']);
  t.is(h.x_forwarded_for, undefined, 'underscore names are dropped whoever sends them');
  t.deepEqual(h['x-request-id'], ['rid'], 'one X-Request-Id line: ours (the client\'s value when it was usable)');
});

test('settings.trustedProxies compile once per snapshot into IP and CIDR matches', async (t) => {
  const [kernel, hasher] = await Promise.all([loadKernel(), initHasher()]);
  const snapshot = { epoch: 1, configHash: 'x', configPath: '/c', listeners: [], subsets: [], settings: { ...DEFAULT_SETTINGS, trustedProxies: ['10.0.0.0/8', '::1', '192.0.2.7'] } };
  const peers = buildRuntimeSnapshot(snapshot, { kernel, hasher }).trustedPeers!;
  t.true(peers.check('10.1.2.3', 'ipv4'));
  t.false(peers.check('11.1.2.3', 'ipv4'));
  t.true(peers.check('192.0.2.7', 'ipv4'));
  t.false(peers.check('192.0.2.8', 'ipv4'));
  t.true(peers.check('::1', 'ipv6'));
  t.is(buildRuntimeSnapshot({ ...snapshot, settings: DEFAULT_SETTINGS }, { kernel, hasher }).trustedPeers, null, 'none configured: no per-request check at all');
});

test('Upgrade and HTTP2-Settings never travel on a plain request, named in Connection or not', (t) => {
  for (const connection of [[], ['Connection', 'Upgrade'], ['Connection', 'Upgrade, HTTP2-Settings']]) {
    const raw = ['Host', 'app.test', ...connection, 'Upgrade', 'h2c', 'HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA', 'Accept', '*/*'];
    const h = pairs(buildUpstreamHeaders(fakeRequest(raw), { clientAddress: '198.51.100.9', requestId: 'rid', fallbackHost: 'svc', trustedPeer: false }));
    t.is(h.upgrade, undefined);
    t.is(h['http2-settings'], undefined);
    t.is(h.connection, undefined);
    t.deepEqual(h.accept, ['*/*']);
  }
});

test('hop-by-hop and owned names are dropped in any letter case; names of the same length are kept', (t) => {
  const raw = ['HOST', 'app.test', 'CONNECTION', 'close', 'Keep-Alive', 'timeout=5', 'tE', 'trailers', 'TRANSFER-encoding', 'chunked', 'X-REQUEST-ID', 'theirs',
    'x-Forwarded-FOR', '9.9.9.9', 'Content-Type', 'text/plain', 'Accept-Charset', 'utf-8', 'Te-Extra', '1', 'Expect', '100-continue', 'Cookie', 'a=1',
    'Keep-Alivx', 'k', 'X-Request-Ix', 'x'];
  const out = buildUpstreamHeaders(fakeRequest(raw), { clientAddress: '198.51.100.9', requestId: 'rid', fallbackHost: 'svc', trustedPeer: false });
  const h = pairs(out);
  for (const gone of ['connection', 'keep-alive', 'te', 'transfer-encoding', 'expect']) t.is(h[gone], undefined, gone);
  t.deepEqual(h['x-request-id'], ['rid']);
  t.deepEqual(h['x-forwarded-for'], ['198.51.100.9']);
  t.deepEqual(h['content-type'], ['text/plain'], 'as long as x-request-id, kept');
  t.deepEqual(h['accept-charset'], ['utf-8'], 'as long as http2-settings, kept');
  t.deepEqual(h['te-extra'], ['1']);
  t.deepEqual(h.cookie, ['a=1'], 'as long as expect, kept');
  t.deepEqual(h['keep-alivx'], ['k'], 'the length and first letter of keep-alive, kept');
  t.deepEqual(h['x-request-ix'], ['x'], 'the length and first letter of x-request-id, kept');
  t.is(out.filter((x) => x.toLowerCase() === 'host').length, 1, 'an upper-case HOST counts as the Host: no fallback added');
  t.deepEqual(h.host, ['app.test']);
});

test('the client response drops hop-by-hop lines in any case, and a CONNECTION header\'s named fields', (t) => {
  const raw = ['CONNECTION', 'X-Debug', 'x-debug', '1', 'Keep-Alive', 'timeout=5', 'Server', 'nginx', 'x-request-id', 'backend', 'Content-Length', '2', 'Set-Cookie', 'a=1'];
  const out = buildClientHeaders(raw, 'id', null, false);
  t.deepEqual(out, ['Server', 'nginx', 'Content-Length', '2', 'Set-Cookie', 'a=1', 'X-Request-Id', 'id']);
});
