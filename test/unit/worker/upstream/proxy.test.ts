// The proxy exchange's retry and timeout decisions against a fake dispatcher: each endpoint's
// "pool" is a script that answers undici's handler callbacks as the real client would (connect
// refused, a status, silence until aborted). No sockets: the client side is a fake too.
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import test from 'ava';
import type { Dispatcher } from 'undici';
import { DEFAULT_SETTINGS } from '../../../../src/config/settings.js';
import type { Kernel } from '../../../../src/kernel/index.js';
import type { Endpoint, RetryPolicy, Snapshot } from '../../../../src/snapshot/types.js';
import { buildRuntimeSnapshot } from '../../../../src/worker/routing/runtime-snapshot.js';
import { createWorkerStats } from '../../../../src/worker/telemetry/stats.js';
import { proxyRequest } from '../../../../src/worker/upstream/proxy.js';

type Handler = Dispatcher.DispatchHandler & {
  onConnect(abort: (err?: Error) => void): void;
  onHeaders(status: number, headers: Buffer[], resume: () => void): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: Buffer[]): void;
  onError(err: Error): void;
};
type Script = (h: Handler, aborted: (err: Error) => void) => void;

const refused: Script = (h) => setImmediate(() => h.onError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })));
const answer = (status: number): Script => (h) =>
  setImmediate(() => {
    h.onConnect(() => {});
    h.onHeaders(status, [Buffer.from('content-length'), Buffer.from('2')], () => {});
    h.onData(Buffer.from('ok'));
    h.onComplete([]);
  });
/** connects, then says nothing until the exchange aborts the attempt (undici then reports the abort) */
const silent: Script = (h, aborted) => setImmediate(() => h.onConnect((err) => aborted(err ?? new Error('aborted'))));
/** the request went out, then the connection was reset before any response */
const reset: Script = (h) =>
  setImmediate(() => {
    h.onConnect(() => {});
    h.onError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
  });

interface Fake {
  readonly dispatcher: Dispatcher;
  calls: number;
  aborts: number;
}

/** A pool answering its n-th dispatch with scripts[n] (the last one repeats). */
function fakePool(...scripts: Script[]): Fake {
  const fake: Fake = { calls: 0, aborts: 0, dispatcher: null as unknown as Dispatcher };
  const dispatcher = {
    dispatch(_opts: Dispatcher.DispatchOptions, handler: Handler): boolean {
      const script = scripts[Math.min(fake.calls, scripts.length - 1)]!;
      fake.calls++;
      script(handler, (err) => {
        fake.aborts++;
        setImmediate(() => handler.onError(err));
      });
      return true;
    },
  };
  return Object.assign(fake, { dispatcher: dispatcher as unknown as Dispatcher });
}

class FakeResponse extends EventEmitter {
  status = 0;
  body = '';
  headersSent = false;
  destroyed = false;
  writableFinished = false;
  socket = null;
  writeHead(status: number): this {
    this.status = status;
    this.headersSent = true;
    return this;
  }
  write(chunk: string | Buffer): boolean {
    this.body += String(chunk);
    return true;
  }
  end(chunk?: string | Buffer): this {
    if (chunk !== undefined) this.body += String(chunk);
    this.writableFinished = true;
    setImmediate(() => this.emit('close'));
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    setImmediate(() => this.emit('close'));
    return this;
  }
}

const fakeKernel: Kernel = { load: () => ({ select: () => 0 }) };
const fakeHasher = { hash32: (): number => 0, destinationHash32: (): number => 0 };
const endpoints: Endpoint[] = [1, 2, 3].map((i) => ({ id: `10.0.0.${i}:8080`, address: `10.0.0.${i}`, port: 8080, weight: 1, labels: {} }));

interface Options {
  retries?: RetryPolicy | null;
  timeoutMs?: number | null;
  method?: string;
  body?: string;
  /** the connection of its own the keep-alive race replay gets, per endpoint index */
  fresh?: Fake[];
}

function exchange(pools: Fake[], opts: Options = {}) {
  const byId = new Map(endpoints.map((e, i) => [e.id, pools[i]!.dispatcher]));
  const snapshot: Snapshot = {
    epoch: 1,
    configHash: 'x',
    configPath: '/etc/stickyd',
    listeners: [],
    subsets: [{ id: 0, name: 'svc', host: 'svc', subsetName: null, port: 8080, endpoints, policy: { kind: 'roundRobin' }, table: null }],
    settings: { ...DEFAULT_SETTINGS },
  };
  const rt = buildRuntimeSnapshot(snapshot, { kernel: fakeKernel, hasher: fakeHasher, poolFor: (e) => byId.get(e.id)! });
  const headers: Record<string, string> = { host: 'svc' };
  if (opts.body !== undefined) headers['content-length'] = String(opts.body.length);
  const req = Object.assign(Readable.from(opts.body === undefined ? [] : [Buffer.from(opts.body)]), {
    method: opts.method ?? 'GET',
    url: '/x',
    headers,
    rawHeaders: Object.entries(headers).flat(),
    httpVersionMajor: 1,
    httpVersionMinor: 1,
    complete: true,
    socket: { remoteAddress: '127.0.0.1' },
  });
  const res = new FakeResponse();
  const stats = createWorkerStats();
  const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
  const job = { rt, subset: rt.subsets[0]!, index: 0, key: null, down: null, timeoutMs: opts.timeoutMs ?? null, retries: opts.retries ?? null, requestId: 'r1', setCookie: null };
  const fresh = (e: Endpoint, _timeout: number, o: Dispatcher.DispatchOptions, h: Dispatcher.DispatchHandler): void => {
    const pool = opts.fresh?.[endpoints.indexOf(e)];
    if (pool === undefined) throw new Error(`no fresh connection expected to ${e.id}`);
    pool.dispatcher.dispatch(o, h);
  };
  proxyRequest({ draining: false, stats, outcomes: null, dispatchFresh: fresh }, req as unknown as IncomingMessage, res as unknown as ServerResponse, job);
  return closed.then(() => ({ res, stats }));
}

const policy = (retryOn: string[], extra: Partial<RetryPolicy> = {}): RetryPolicy => ({
  attempts: 2,
  perTryTimeoutMs: null,
  retryOn,
  retryStatuses: [],
  backoffBaseMs: 1,
  ...extra,
});

test('connect-failure: a refused connection is retried on another endpoint, which answers', async (t) => {
  const pools = [fakePool(refused), fakePool(answer(200)), fakePool(answer(200))];
  const { res, stats } = await exchange(pools, { retries: policy(['connect-failure']) });
  t.is(res.status, 200);
  t.is(res.body, 'ok');
  t.is(pools[0]!.calls, 1);
  t.is(pools[1]!.calls + pools[2]!.calls, 1, 'exactly one retry, elsewhere');
  t.is(stats.upstreamRetries, 1);
});

test('no retry policy: a refused connection is a 502 naming the endpoint, one attempt only', async (t) => {
  const pools = [fakePool(refused), fakePool(answer(200)), fakePool(answer(200))];
  const { res } = await exchange(pools, { retries: null });
  t.is(res.status, 502);
  t.regex(res.body, /connection refused to 10\.0\.0\.1:8080/);
  t.is(pools[1]!.calls + pools[2]!.calls, 0);
});

test('5xx: a 503 is retried when the policy says 5xx, and relayed as it is when it does not', async (t) => {
  const retried = [fakePool(answer(503)), fakePool(answer(200)), fakePool(answer(200))];
  t.is((await exchange(retried, { retries: policy(['5xx']) })).res.status, 200);
  const relayed = [fakePool(answer(503)), fakePool(answer(200)), fakePool(answer(200))];
  t.is((await exchange(relayed, { retries: policy(['connect-failure']) })).res.status, 503);
  t.is(relayed[1]!.calls + relayed[2]!.calls, 0);
});

test('attempts bound the retries: every endpoint failing ends after `attempts` retries with the last failure', async (t) => {
  const pools = [fakePool(answer(502)), fakePool(answer(502)), fakePool(answer(502))];
  const { res, stats } = await exchange(pools, { retries: policy(['gateway-error'], { attempts: 2 }) });
  t.is(res.status, 502);
  t.is(pools.reduce((n, p) => n + p.calls, 0), 3, 'the first try and two retries');
  t.is(stats.upstreamRetries, 2);
});

test('perTryTimeout: a silent endpoint is cut after the per-try timeout and the retry answers', async (t) => {
  const pools = [fakePool(silent), fakePool(answer(200)), fakePool(answer(200))];
  const { res } = await exchange(pools, { retries: policy(['5xx'], { perTryTimeoutMs: 30 }) });
  t.is(res.status, 200);
  t.is(pools[0]!.aborts, 1, 'the silent attempt was aborted, not left open');
});

test('the route timeout bounds every attempt together: a silent endpoint gives 504 and its attempt is aborted', async (t) => {
  const pools = [fakePool(silent), fakePool(silent), fakePool(silent)];
  const { res } = await exchange(pools, { timeoutMs: 40, retries: policy(['5xx'], { perTryTimeoutMs: 1_000 }) });
  t.is(res.status, 504);
  t.regex(res.body, /timeout/);
  t.true(pools.reduce((n, p) => n + p.aborts, 0) >= 1);
});

test('reset after a POST body was sent is not retried (it may have been applied), even with reset in retryOn', async (t) => {
  const pools = [fakePool(reset), fakePool(answer(200)), fakePool(answer(200))];
  const { res } = await exchange(pools, { method: 'POST', body: 'hello', retries: policy(['reset', 'connect-failure']) });
  t.is(res.status, 502);
  t.is(pools[1]!.calls + pools[2]!.calls, 0);
});

test('keep-alive race: a reset under a bodiless GET is replayed once on a fresh connection to the same endpoint, not as a route retry', async (t) => {
  const fresh = [fakePool(answer(200)), fakePool(answer(500)), fakePool(answer(500))];
  const pools = [fakePool(reset), fakePool(answer(500)), fakePool(answer(500))];
  const { res } = await exchange(pools, { retries: null, fresh });
  t.is(res.status, 200);
  t.is(fresh[0]!.calls, 1);
  t.is(pools[1]!.calls + pools[2]!.calls, 0);
});

test('a second reset after the race replay is a route-level failure: retried on another endpoint when reset is in retryOn', async (t) => {
  const fresh = [fakePool(reset), fakePool(reset), fakePool(reset)];
  const pools = [fakePool(reset), fakePool(answer(200)), fakePool(answer(200))];
  const { res } = await exchange(pools, { retries: policy(['reset']), fresh });
  t.is(res.status, 200);
  t.is(fresh[0]!.calls, 1, 'replayed once only');
  t.is(pools[1]!.calls + pools[2]!.calls, 1);
});
