// VirtualService route actions through the real daemon, driven by real curl: header edits at both
// levels, rewrites (prefix, whole path, regex, authority), redirects and direct responses answered
// by stickyd, CORS preflights, fault injection, ignoreUriCase and withoutHeaders. A recording
// backend shows exactly what reached it.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curl } from '../helpers/curl.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { GATEWAY_YAML, serviceEntryYaml, virtualServiceYaml } from '../helpers/istio-yaml.js';
import { startRecordingBackend, type RecordingBackend } from '../helpers/recording-backend.js';

let backend: RecordingBackend;
let daemon: Daemon;
let dir: string;

const HTTP = `  - name: edits
    match: [{uri: {prefix: /edits}}]
    headers:
      request:
        set: {x-route: r, x-both: route}
        add: {x-list: from-route}
        remove: [x-secret]
      response:
        set: {x-resp-route: r}
        remove: [x-backend-internal]
    route:
    - destination: {host: rec}
      headers:
        request: {set: {x-both: destination, x-dest: d}}
        response: {add: {x-resp-dest: d}}
  - name: prefix-rewrite
    match: [{uri: {prefix: /api/}}]
    rewrite: {uri: /v2/, authority: backend.internal}
    route: [{destination: {host: rec}}]
  - name: exact-rewrite
    match: [{uri: {exact: /ratings}}]
    rewrite: {uri: /v1/bookRatings}
    route: [{destination: {host: rec}}]
  - name: regex-rewrite
    match: [{uri: {prefix: /service/}}]
    rewrite:
      uriRegexRewrite: {match: "^/service/([^/]+)/(.*)$", rewrite: "/customprefix/\\\\2/\\\\1"}
    route: [{destination: {host: rec}}]
  - name: moved
    match: [{uri: {prefix: /old}}]
    redirect: {prefixRewrite: /new, redirectCode: 302}
  - name: to-https
    match: [{uri: {prefix: /secure}}]
    redirect: {scheme: https, authority: secure.example.com, derivePort: FROM_PROTOCOL_DEFAULT}
  - name: gone
    match: [{uri: {exact: /gone}}]
    directResponse: {status: 410, body: {string: "this page is gone\\n"}}
    headers: {response: {set: {x-why: retired}}}
  - name: cors
    match: [{uri: {prefix: /cors}}]
    corsPolicy:
      allowOrigins: [{exact: "https://app.example.com"}, {regex: "https://.*\\\\.trusted\\\\.example"}]
      allowMethods: [GET, POST]
      allowHeaders: [x-custom]
      exposeHeaders: [x-exposed]
      maxAge: 24h
      allowCredentials: true
    route: [{destination: {host: rec}}]
  - name: abort
    match: [{uri: {prefix: /abort}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: rec}}]
  - name: delay
    match: [{uri: {prefix: /delay}}]
    fault: {delay: {fixedDelay: 400ms, percentage: {value: 100}}}
    route: [{destination: {host: rec}}]
  - name: case
    match: [{uri: {prefix: /CaseLess}, ignoreUriCase: true, withoutHeaders: {x-beta: {exact: "1"}}}]
    route: [{destination: {host: rec}}]
  - name: fallback
    directResponse: {status: 404, body: {string: "fallback\\n"}}
`;

test.before(async () => {
  backend = await startRecordingBackend();
  dir = await mkdtemp(join(tmpdir(), 'stickyd-actions-'));
  await writeFile(join(dir, 'config.yaml'), [GATEWAY_YAML, virtualServiceYaml(['demo.example.com'], HTTP), serviceEntryYaml('rec', [backend.port])].join('---\n'));
  daemon = await startDaemon(dir, { workers: 1 });
});

test.after.always(async () => {
  await daemon?.stop();
  await backend?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const base = (): string => `http://127.0.0.1:${daemon.port}`;
const host = ['-H', 'Host: demo.example.com'];

/** curl -i, split into status, lower-cased header map (repeated names joined by "\n") and body. */
async function get(path: string, extra: string[] = []): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const r = await curl(['-i', ...host, ...extra, `${base()}${path}`]);
  const [head = '', ...rest] = r.stdout.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    const k = l.slice(0, i).toLowerCase();
    const v = l.slice(i + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}\n${v}`;
  }
  return { status: Number(lines[0]?.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

test.serial('headers: the destination\'s edits, then the route\'s; request and response sides', async (t) => {
  backend.reset();
  backend.responseHeaders = ['X-Backend-Internal', 'leak', 'X-Resp-Dest', 'backend'];
  const r = await get('/edits', ['-H', 'x-secret: s', '-H', 'x-list: client', '-H', 'x-route: client']);
  t.is(r.status, 200);
  const seen = backend.requests[0]!.headers;
  t.is(seen['x-route'], 'r');
  t.is(seen['x-both'], 'route', 'the route level is applied after the destination level, so its set wins');
  t.is(seen['x-dest'], 'd');
  t.is(seen['x-list'], 'client, from-route');
  t.is(seen['x-secret'], undefined);
  t.is(r.headers['x-resp-route'], 'r');
  t.is(r.headers['x-backend-internal'], undefined);
  t.is(r.headers['x-resp-dest'], 'backend, d');
});

test.serial('rewrite: the matched prefix, the whole exact path, regex groups, and the authority; the query stays', async (t) => {
  backend.reset();
  await get('/api/users/7?full=1');
  await get('/ratings');
  await get('/service/update/v1/api');
  t.deepEqual(backend.requests.map((r) => r.url), ['/v2/users/7?full=1', '/v1/bookRatings', '/customprefix/v1/api/update']);
  t.is(backend.requests[0]!.headers.host, 'backend.internal');
  t.is(backend.requests[0]!.headers['x-forwarded-host'], 'demo.example.com');
  t.is(backend.requests[1]!.headers.host, 'demo.example.com');
});

test.serial('redirects and direct responses are answered by stickyd; nothing reaches the backend', async (t) => {
  backend.reset();
  const moved = await get('/old/page?x=1');
  t.is(moved.status, 302);
  t.is(moved.headers.location, 'http://demo.example.com/new/page?x=1');
  const https = await get('/secure/login');
  t.is(https.status, 301, 'Istio\'s default code');
  t.is(https.headers.location, 'https://secure.example.com/secure/login');
  const gone = await get('/gone');
  t.is(gone.status, 410);
  t.is(gone.body, 'this page is gone\n');
  t.is(gone.headers['x-why'], 'retired');
  t.is(gone.headers['content-type'], 'text/plain');
  const fallback = await get('/anything-else');
  t.is(fallback.status, 404);
  t.is(fallback.body, 'fallback\n');
  t.is(backend.requests.length, 0);
});

test.serial('CORS: an allowed preflight is answered by stickyd; an allowed request gets the origin echoed; others pass untouched', async (t) => {
  backend.reset();
  const pre = await get('/cors/x', ['-X', 'OPTIONS', '-H', 'Origin: https://a.trusted.example', '-H', 'Access-Control-Request-Method: POST']);
  t.is(pre.status, 200);
  t.is(pre.headers['access-control-allow-origin'], 'https://a.trusted.example');
  t.is(pre.headers['access-control-allow-methods'], 'GET,POST');
  t.is(pre.headers['access-control-allow-headers'], 'x-custom');
  t.is(pre.headers['access-control-max-age'], '86400');
  t.is(pre.headers['access-control-allow-credentials'], 'true');
  t.is(backend.requests.length, 0, 'the preflight never reached the backend');
  const actual = await get('/cors/x', ['-H', 'Origin: https://app.example.com']);
  t.is(actual.headers['access-control-allow-origin'], 'https://app.example.com');
  t.is(actual.headers['access-control-expose-headers'], 'x-exposed');
  const other = await get('/cors/x', ['-H', 'Origin: https://evil.example']);
  t.is(other.status, 200);
  t.is(other.headers['access-control-allow-origin'], undefined);
  // unmatchedPreflights defaults to FORWARD: the backend answers it
  const otherPre = await get('/cors/x', ['-X', 'OPTIONS', '-H', 'Origin: https://evil.example', '-H', 'Access-Control-Request-Method: POST']);
  t.is(otherPre.headers['access-control-allow-origin'], undefined);
  t.is(backend.requests.length, 3);
});

test.serial('fault: an abort answers the configured status without the backend; a delay holds the request first', async (t) => {
  backend.reset();
  const aborted = await get('/abort');
  t.is(aborted.status, 418);
  t.is(aborted.body, 'fault filter abort');
  t.is(backend.requests.length, 0);
  const started = performance.now();
  const delayed = await get('/delay');
  const ms = performance.now() - started;
  t.is(delayed.status, 200);
  t.true(ms >= 400, `took ${ms.toFixed(0)} ms`);
  t.is(backend.requests.length, 1);
});

test.serial('ignoreUriCase and withoutHeaders', async (t) => {
  backend.reset();
  t.is((await get('/caseless/X')).status, 200);
  t.is((await get('/CASELESS/Y', ['-H', 'x-beta: 2'])).status, 200);
  t.is((await get('/caseless/Z', ['-H', 'x-beta: 1'])).body, 'fallback\n');
  t.deepEqual(backend.requests.map((r) => r.url), ['/caseless/X', '/CASELESS/Y']);
});

test.serial('hostile paths: dot segments are resolved before matching and rewriting, encoded slashes are refused on rewritten routes', async (t) => {
  backend.reset();
  // curl would resolve dot segments itself; --path-as-is sends them as typed
  const escape = await get('/api/../../etc/passwd', ['--path-as-is']);
  t.is(escape.body, 'fallback\n', '/etc/passwd is not under /api/, so the rewrite route never sees it');
  await get('/api/a/%2e%2e/b', ['--path-as-is']);
  t.deepEqual(backend.requests.map((r) => r.url), ['/v2/b']);
  const encoded = await get('/api/..%2f..%2fsecret', ['--path-as-is']);
  t.is(encoded.status, 400);
  t.is(backend.requests.length, 1);
  // a redirect built from a path that looks like another host stays on this host
  const sneaky = await get('/old//evil.example/x', ['--path-as-is']);
  t.is(sneaky.headers.location, 'http://demo.example.com/new//evil.example/x');
});
