// The request guard on plain objects: what llhttp lets through and stickyd must refuse.
import test from 'ava';
import { checkRequest, isValidHost, type GuardedRequest } from '../../../../src/worker/downstream/request-guard.js';

const LIMITS = { maxHeaderCount: 100, maxUriLength: 8192, maxHeaderBytes: 16384 };

function req(url: string, headers: string[], opts: { method?: string; minor?: number; major?: number } = {}): GuardedRequest {
  return { method: opts.method ?? 'GET', url, httpVersionMajor: opts.major ?? 1, httpVersionMinor: opts.minor ?? 1, rawHeaders: headers };
}

const codeOf = (r: GuardedRequest): string | null => checkRequest(r, LIMITS)?.code ?? null;

test('a plain request passes untouched', (t) => {
  const r = req('/ping?x=1', ['Host', 'demo.example.com:8080', 'Accept', '*/*']);
  t.is(checkRequest(r, LIMITS), null);
  t.is(r.url, '/ping?x=1');
});

test('Host: duplicate, empty, spaces, userinfo, bad port are 400; HTTP/1.0 may omit it, 1.1 may not', (t) => {
  t.is(codeOf(req('/', ['Host', 'a.test', 'host', 'b.test'])), 'STICKYD_ERR_BAD_REQUEST');
  for (const bad of ['', 'exa mple.test', 'user@evil.test', 'a.test:80x', 'a.test:123456', '[::1', 'a/b', '[zz::1]']) {
    t.is(codeOf(req('/', ['Host', bad])), 'STICKYD_ERR_BAD_REQUEST', JSON.stringify(bad));
  }
  for (const good of ['a.test', 'A.TEST:80', '[::1]:8080', '192.0.2.1', 'xn--bcher-kva.example', 'a_b.test']) t.true(isValidHost(good), good);
  t.is(codeOf(req('/', [])), 'STICKYD_ERR_BAD_REQUEST');
  t.is(codeOf(req('/', [], { minor: 0 })), null);
});

test('Transfer-Encoding: chunked not last is 400; another coding before chunked is 501; any on HTTP/1.0 is 400', (t) => {
  for (const te of ['gzip, chunked', 'identity, chunked', 'chunked, chunked']) {
    t.is(codeOf(req('/', ['Host', 'a', 'Transfer-Encoding', te], { method: 'POST' })), 'STICKYD_ERR_TRANSFER_CODING', te);
  }
  for (const te of ['identity', 'xchunked', 'chunkedx', 'chunked, gzip']) {
    t.is(codeOf(req('/', ['Host', 'a', 'Transfer-Encoding', te], { method: 'POST' })), 'STICKYD_ERR_BAD_REQUEST', te);
  }
  t.is(codeOf(req('/', ['Host', 'a', 'Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked'], { method: 'POST' })), 'STICKYD_ERR_TRANSFER_CODING');
  for (const te of ['chunked', 'Chunked', ' chunked ']) t.is(codeOf(req('/', ['Host', 'a', 'Transfer-Encoding', te], { method: 'POST' })), null, te);
  t.is(codeOf(req('/', ['Host', 'a', 'Transfer-Encoding', 'chunked'], { method: 'POST', minor: 0 })), 'STICKYD_ERR_BAD_REQUEST');
});

test('HTTP/2.0 in HTTP/1 syntax is 505', (t) => {
  t.is(codeOf(req('/', ['Host', 'a'], { major: 2, minor: 0 })), 'STICKYD_ERR_HTTP_VERSION');
});

test('targets: "*" only for OPTIONS, no fragments, length limit 414', (t) => {
  t.is(codeOf(req('*', ['Host', 'a'])), 'STICKYD_ERR_BAD_REQUEST');
  t.is(codeOf(req('*', ['Host', 'a'], { method: 'OPTIONS' })), null);
  t.is(codeOf(req('/a#frag', ['Host', 'a'])), 'STICKYD_ERR_BAD_REQUEST');
  t.is(codeOf(req('/' + 'a'.repeat(8191), ['Host', 'a'])), null);
  t.is(codeOf(req('/' + 'a'.repeat(8192), ['Host', 'a'])), 'STICKYD_ERR_URI_TOO_LONG');
  t.is(codeOf(req('a.test:443', ['Host', 'a.test'])), 'STICKYD_ERR_BAD_REQUEST');
});

test('absolute-form: same authority as Host is rewritten to origin-form; another authority is 400', (t) => {
  const r = req('http://A.test:8080/p?q=1', ['Host', 'a.test:8080']);
  t.is(checkRequest(r, LIMITS), null);
  t.is(r.url, '/p?q=1');
  const bare = req('http://a.test?q', ['Host', 'a.test']);
  t.is(checkRequest(bare, LIMITS), null);
  t.is(bare.url, '/?q');
  t.is(codeOf(req('http://evil.test/p', ['Host', 'a.test'])), 'STICKYD_ERR_BAD_REQUEST');
  t.is(codeOf(req('http://user@a.test/p', ['Host', 'user@a.test'])), 'STICKYD_ERR_BAD_REQUEST');
  t.is(codeOf(req('ftp://a.test/p', ['Host', 'a.test'])), 'STICKYD_ERR_BAD_REQUEST');
});

test('header count and header bytes over their limits are 431', (t) => {
  const many = ['Host', 'a'];
  for (let i = 0; i < 100; i++) many.push(`X-H${i}`, 'v');
  t.is(codeOf(req('/', many)), 'STICKYD_ERR_HEADERS_TOO_LARGE');
  t.is(codeOf(req('/', many.slice(0, 200))), null, '100 lines is the limit, not over it');
  t.is(codeOf(req('/', ['Host', 'a', 'Cookie', 'x'.repeat(16_380)])), 'STICKYD_ERR_HEADERS_TOO_LARGE');
  t.is(codeOf(req('/', ['Host', 'a', 'Cookie', 'x'.repeat(16_000)])), null);
});
