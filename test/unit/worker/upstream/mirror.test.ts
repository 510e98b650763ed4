import test from 'ava';
import { PassThrough } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { Dispatcher } from 'undici';
import { MIRROR_RESULTS } from '../../../../src/protocol.js';
import { buildShadowHost, MIRROR_MAX_BODY_BYTES, MIRROR_MAX_IN_FLIGHT, MirrorCopies, type MirrorRequest } from '../../../../src/worker/upstream/mirror.js';
import type { MirrorTarget } from '../../../../src/worker/routing/mirror-targets.js';
import type { RuntimeSubset } from '../../../../src/worker/routing/runtime-snapshot.js';
import { createWorkerStats, type WorkerStats } from '../../../../src/worker/telemetry/stats.js';

interface Sent { options: Dispatcher.DispatchOptions; handler: Dispatcher.DispatchHandler }

/** A subset whose one "pool" records what is dispatched to it and never answers by itself. */
function fakeTarget(sent: Sent[]): MirrorTarget {
  const dispatch = (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean => {
    sent.push({ options, handler });
    return true;
  };
  const pool = { dispatch } as unknown as Dispatcher;
  const picker = { pick: () => 0, start: () => {}, finish: () => {} };
  const subset = { id: 0, name: 'mirror/v2', host: 'mirror.svc', pools: [pool], picker } as unknown as RuntimeSubset;
  return { subset, index: 0 };
}

function request(headers: Record<string, string>): IncomingMessage & PassThrough {
  const r = new PassThrough() as unknown as IncomingMessage & PassThrough;
  Object.assign(r, { headers, method: 'POST', url: '/x' });
  return r;
}

const REQ: MirrorRequest = { method: 'GET', path: '/p?q=1', headers: ['Host', 'app.example.com:8080', 'x-a', '1'], timeoutMs: null, idleTimeoutMs: 1000 };
const counts = (s: WorkerStats): Record<string, number> => Object.fromEntries(MIRROR_RESULTS.map((r, i) => [r, s.mirrorResults[i]!]));

test('the shadow host is Envoy\'s: "-shadow" after the host and before a port, IPv6 brackets kept', (t) => {
  t.is(buildShadowHost('app.example.com'), 'app.example.com-shadow');
  t.is(buildShadowHost('app.example.com:8080'), 'app.example.com-shadow:8080');
  t.is(buildShadowHost('[::1]:80'), '[::1]-shadow:80');
  t.is(buildShadowHost('[::1]'), '[::1]-shadow');
});

test('a bodiless request is copied at once with the upstream headers, Host shadowed; its answer ends the slot as ok', (t) => {
  const stats = createWorkerStats();
  const sent: Sent[] = [];
  const copies = new MirrorCopies(stats, [fakeTarget(sent)], request({}));
  t.is(stats.mirrorsInFlight, 1);
  copies.send(REQ);
  t.is(sent.length, 1);
  t.deepEqual(sent[0]!.options.headers, ['Host', 'app.example.com-shadow:8080', 'x-a', '1']);
  t.is(sent[0]!.options.path, '/p?q=1');
  t.is(sent[0]!.options.body, null);
  t.deepEqual(REQ.headers, ['Host', 'app.example.com:8080', 'x-a', '1'], 'the primary request\'s headers are untouched');
  const h = sent[0]!.handler;
  h.onConnect!(() => {});
  h.onHeaders!(500, [], () => {}, '');
  h.onComplete!([]);
  t.is(stats.mirrorsInFlight, 0);
  t.is(counts(stats).ok, 1, 'any status is an answer: it is discarded');
  copies.release();
  t.is(stats.mirrorsInFlight, 0);
});

test('a body is copied once the client\'s body has ended, whole, without pausing the stream', async (t) => {
  const stats = createWorkerStats();
  const sent: Sent[] = [];
  const req = request({ 'content-length': '10' });
  const copies = new MirrorCopies(stats, [fakeTarget(sent)], req);
  copies.send({ ...REQ, method: 'POST' });
  t.is(sent.length, 0, 'waits for the body');
  const upstream = new PassThrough();
  req.pipe(upstream);
  copies.tap(req);
  const got: Buffer[] = [];
  upstream.on('data', (c: Buffer) => got.push(c));
  req.write('hello');
  req.end('world');
  await new Promise((r) => upstream.once('end', r));
  t.is(Buffer.concat(got).toString(), 'helloworld', 'the real upstream gets every byte');
  t.is(sent.length, 1);
  t.is((sent[0]!.options.body as Buffer).toString(), 'helloworld');
  sent[0]!.handler.onError!(new Error('refused'));
  t.is(counts(stats).error, 1);
  t.is(stats.mirrorsInFlight, 0);
});

test('bodies over the bound are not copied: declared up front, or counted as they stream', async (t) => {
  const stats = createWorkerStats();
  const sent: Sent[] = [];
  new MirrorCopies(stats, [fakeTarget(sent)], request({ 'content-length': String(MIRROR_MAX_BODY_BYTES + 1) }));
  t.is(counts(stats).body_too_large, 1);
  t.is(stats.mirrorsInFlight, 0);
  const req = request({ 'transfer-encoding': 'chunked' });
  const copies = new MirrorCopies(stats, [fakeTarget(sent)], req);
  copies.send(REQ);
  req.pipe(new PassThrough().resume());
  copies.tap(req);
  req.end(Buffer.alloc(MIRROR_MAX_BODY_BYTES + 1));
  await new Promise((r) => req.once('end', r));
  t.is(counts(stats).body_too_large, 2);
  t.is(sent.length, 0);
  t.is(stats.mirrorsInFlight, 0);
});

test('past the in-flight cap copies are shed and counted; a finished copy frees its slot', (t) => {
  const stats = createWorkerStats();
  const sent: Sent[] = [];
  for (let i = 0; i < MIRROR_MAX_IN_FLIGHT; i++) new MirrorCopies(stats, [fakeTarget(sent)], request({})).send(REQ);
  t.is(stats.mirrorsInFlight, MIRROR_MAX_IN_FLIGHT);
  new MirrorCopies(stats, [fakeTarget(sent)], request({})).send(REQ);
  t.is(counts(stats).shed, 1);
  t.is(sent.length, MIRROR_MAX_IN_FLIGHT);
  sent[0]!.handler.onComplete!([]);
  new MirrorCopies(stats, [fakeTarget(sent)], request({})).send(REQ);
  t.is(sent.length, MIRROR_MAX_IN_FLIGHT + 1);
  t.is(counts(stats).shed, 1);
});

test('no available endpoint, or an exchange over before the body flowed: counted, slot freed', (t) => {
  const stats = createWorkerStats();
  const sent: Sent[] = [];
  new MirrorCopies(stats, [{ ...fakeTarget(sent), index: -1 }], request({}));
  t.is(counts(stats).no_endpoint, 1);
  const copies = new MirrorCopies(stats, [fakeTarget(sent)], request({ 'content-length': '5' }));
  copies.send(REQ);
  copies.release();
  t.is(counts(stats).incomplete, 1);
  t.is(stats.mirrorsInFlight, 0);
});

test('a copy that gets no answer in time ends as an error', async (t) => {
  const stats = createWorkerStats();
  const sent: Sent[] = [];
  new MirrorCopies(stats, [fakeTarget(sent)], request({})).send({ ...REQ, timeoutMs: 20 });
  let aborted = false;
  sent[0]!.handler.onConnect!(() => { aborted = true; sent[0]!.handler.onError!(new Error('aborted')); });
  await new Promise((r) => setTimeout(r, 60));
  t.true(aborted);
  t.is(counts(stats).error, 1);
  t.is(stats.mirrorsInFlight, 0);
});
