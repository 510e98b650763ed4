import test from 'ava';
import { fileURLToPath } from 'node:url';
import { buildRequest, buildRuntime, explainRequest, formatReport } from '../../../src/commands/explain.js';
import type { RuntimeSnapshot } from '../../../src/worker/routing/runtime-snapshot.js';

const BOOKINFO = fileURLToPath(new URL('../../../examples/istio/bookinfo', import.meta.url));
const DEMO = fileURLToPath(new URL('../../../examples/demo', import.meta.url));
const MIRRORING = fileURLToPath(new URL('../../../examples/istio/httpbin-mirroring', import.meta.url));
let bookinfo: RuntimeSnapshot;
let mirroring: RuntimeSnapshot;

test.before(async () => {
  bookinfo = await buildRuntime(BOOKINFO, null);
  mirroring = await buildRuntime(MIRRORING, null);
});

const ask = (rt: RuntimeSnapshot, host: string, path: string, headers: string[] = [], cookies: string[] = []) =>
  explainRequest(rt, buildRequest(host, path, 'GET', headers, cookies, '127.0.0.1'), null);

test('bookinfo: jason matches the header route to reviews v2, at the first route', (t) => {
  const r = ask(bookinfo, 'reviews.bookinfo.example', '/reviews/0', ['end-user: jason']);
  t.is(r.outcome, 'forwarded');
  t.is(r.virtualService, 'reviews');
  t.deepEqual(r.routes, [{ route: 'reviews/http[0]', failed: null }]);
  t.is(r.route, 'reviews/http[0]');
  t.deepEqual(r.destination, { subset: 'reviews/v2', host: 'reviews' });
  t.is(r.endpoint!.id, '10.0.0.22:9080');
});

test('bookinfo: anyone else gets the default route, and explain says why the jason route did not match', (t) => {
  const bob = ask(bookinfo, 'reviews.bookinfo.example', '/reviews/0', ['end-user: bob']);
  t.is(bob.route, 'reviews/http[1]');
  t.deepEqual(bob.destination, { subset: 'reviews/v1', host: 'reviews' });
  t.deepEqual(bob.routes, [
    { route: 'reviews/http[0]', failed: ['match[0]: header end-user wants exact "jason", the request has "bob"'] },
    { route: 'reviews/http[1]', failed: null },
  ]);
  const none = ask(bookinfo, 'reviews.bookinfo.example', '/reviews/0');
  t.deepEqual(none.routes[0]!.failed, ['match[0]: header end-user wants exact "jason", the request has none']);
  t.regex(formatReport(bob), /route reviews\/http\[0\]: no match\n {4}match\[0\]: header end-user wants exact "jason", the request has "bob"\n {2}route reviews\/http\[1\]: matches\nroute: +reviews\/http\[1\]/);
});

test('bookinfo: the fault route is shown with its abort; an unknown path is refused with every match\'s reason', (t) => {
  const f = ask(bookinfo, 'ratings.bookinfo.example', '/ratings/0', ['end-user: jason']);
  t.is(f.fault!.abortStatus, 500);
  t.is(f.fault!.abortPercent, 100);
  const no = ask(bookinfo, 'bookinfo.example', '/admin');
  t.is(no.outcome, 'refused');
  t.is(no.refused!.code, 'STICKYD_ERR_NO_ROUTE');
  t.is(no.routes[0]!.failed!.length, 5);
  t.is(no.routes[0]!.failed![1], 'match[1]: uri wants prefix "/static", the path is "/admin"');
  const other = ask(bookinfo, 'elsewhere.example', '/');
  t.is(other.virtualService, 'bookinfo', 'the bookinfo VirtualService serves "*"');
  t.is(other.refused!.code, 'STICKYD_ERR_NO_ROUTE');
});

test('the mirroring task: the copy\'s subset and endpoint beside the request\'s', (t) => {
  const r = ask(mirroring, 'httpbin:8000', '/headers');
  t.deepEqual(r.destination, { subset: 'httpbin/v1', host: 'httpbin' });
  t.is(r.endpoint!.id, '10.0.0.21:80');
  t.deepEqual(r.mirrors, [{ subset: 'httpbin/v2', endpoint: '10.0.0.22:80' }]);
});

test('the seed\'s demo: a session cookie is the hash key and maps to one endpoint, the same in a fresh build; without one a key is minted', async (t) => {
  const demo = await buildRuntime(DEMO, null);
  const again = await buildRuntime(DEMO, null);
  const r = ask(demo, 'demo.example.com', '/ping', [], ['session=2fa352d8f7fa4538e4a075e212757267']);
  t.deepEqual(r.hash, { policy: 'cookie session', key: '2fa352d8f7fa4538e4a075e212757267', minted: false });
  t.regex(r.endpoint!.id, /^127\.0\.0\.1:1808[1-3]$/);
  t.deepEqual(ask(again, 'demo.example.com', '/ping', [], ['session=2fa352d8f7fa4538e4a075e212757267']).endpoint, r.endpoint);
  const fresh = ask(demo, 'demo.example.com', '/ping');
  t.true(fresh.hash!.minted);
  t.regex(fresh.hash!.key!, /^[0-9a-f]{32}$/);
  const dev = ask(demo, 'demo.example.com', '/ping', ['stage: dev']);
  t.is(dev.endpoint!.id, '127.0.0.1:18085');
});
