import test from 'ava';
import { BreakerRegistry, CircuitBreaker, computeBreakerLimits, computeShare, type BreakerWaiter } from '../../../../src/worker/routing/circuit-breaker.js';
import type { ConnectionPoolPolicy } from '../../../../src/snapshot/types.js';

const NONE: ConnectionPoolPolicy = {
  maxConnections: null, maxPendingRequests: null, maxRequests: null, maxRetries: null, maxRequestsPerConnection: null,
  connectTimeoutMs: null, idleTimeoutMs: null, maxConnectionDurationMs: null, tcpKeepaliveMs: null,
};

function waiter(log: string[], name: string): BreakerWaiter {
  return { admitted: () => log.push(name) };
}

test('shares sum to the limit across workers, the remainder spread one each', (t) => {
  for (const [limit, workers] of [[10, 3], [7, 2], [100, 4], [5, 5], [1000, 7]] as const) {
    const shares = Array.from({ length: workers }, (_, slot) => computeShare(limit, slot, workers, 0));
    t.is(shares.reduce((a, b) => a + b, 0), limit, `${limit} over ${workers}`);
    t.true(Math.max(...shares) - Math.min(...shares) <= 1);
  }
});

test('the offset moves the remainder to other slots, and the sum stays', (t) => {
  const at = (offset: number) => [0, 1, 2].map((slot) => computeShare(4, slot, 3, 0, offset));
  t.deepEqual(at(0), [2, 1, 1]);
  t.deepEqual(at(1), [1, 2, 1]);
  t.deepEqual(at(5), [1, 1, 2]);
});

test('the floor: a limit below the worker count still gives every worker one connection and one active request', (t) => {
  const policy = { ...NONE, maxConnections: 1, maxPendingRequests: 1, maxRequests: 1, maxRetries: 1 };
  const limits = [0, 1].map((slot) => computeBreakerLimits(policy, slot, 2));
  t.deepEqual(limits.map((l) => l?.connections), [1, 1]);
  t.deepEqual(limits.map((l) => l?.requests), [1, 1]);
  // pending and retries keep their exact sum: a worker with no queue still serves
  t.deepEqual(limits.map((l) => l?.pending), [1, 0]);
  t.deepEqual(limits.map((l) => l?.retries), [1, 0]);
});

test('no breaker for a policy without limits; an unset limit is no limit', (t) => {
  t.is(computeBreakerLimits(null, 0, 2), null);
  t.is(computeBreakerLimits({ ...NONE, maxRequestsPerConnection: 1, connectTimeoutMs: 5 }, 0, 2), null);
  t.deepEqual(computeBreakerLimits({ ...NONE, maxConnections: 4 }, 0, 2), { connections: 2, pending: Infinity, requests: Infinity, retries: Infinity });
});

test("maxConnections 1, pending 1 (Istio's task): one goes, one waits, the third overflows; a release admits the waiter", (t) => {
  const b = new CircuitBreaker({ connections: 1, pending: 1, requests: Infinity, retries: Infinity });
  const log: string[] = [];
  t.is(b.admit(waiter(log, 'a')), 'go');
  t.is(b.admit(waiter(log, 'b')), 'queued');
  t.is(b.admit(waiter(log, 'c')), 'http1MaxPendingRequests');
  t.deepEqual([b.active, b.pending], [1, 1]);
  b.release();
  t.deepEqual(log, ['b']);
  t.deepEqual([b.active, b.pending], [1, 0]);
  b.release();
  t.deepEqual([b.active, b.pending], [0, 0]);
  t.is(b.admit(waiter(log, 'd')), 'go');
});

test('waiters are admitted first in, first out; one that gives up leaves the queue', (t) => {
  const b = new CircuitBreaker({ connections: 1, pending: 3, requests: Infinity, retries: Infinity });
  const log: string[] = [];
  b.admit(waiter(log, 'a'));
  const w1 = waiter(log, 'b');
  b.admit(w1);
  b.admit(waiter(log, 'c'));
  b.admit(waiter(log, 'd'));
  b.cancel(w1);
  t.is(b.pending, 2);
  b.release();
  b.release();
  t.deepEqual(log, ['c', 'd']);
});

test('http2MaxRequests overflows at once, even with queue room', (t) => {
  const b = new CircuitBreaker({ connections: 10, pending: 10, requests: 2, retries: Infinity });
  const log: string[] = [];
  t.is(b.admit(waiter(log, 'a')), 'go');
  t.is(b.admit(waiter(log, 'b')), 'go');
  t.is(b.admit(waiter(log, 'c')), 'http2MaxRequests');
  t.is(b.pending, 0);
});

test('a zero pending share refuses as soon as every connection is busy', (t) => {
  const b = new CircuitBreaker({ connections: 1, pending: 0, requests: Infinity, retries: Infinity });
  const log: string[] = [];
  t.is(b.admit(waiter(log, 'a')), 'go');
  t.is(b.admit(waiter(log, 'b')), 'http1MaxPendingRequests');
});

test('retries outstanding are bounded and released', (t) => {
  const b = new CircuitBreaker({ connections: 10, pending: 0, requests: Infinity, retries: 2 });
  t.true(b.tryRetry());
  t.true(b.tryRetry());
  t.false(b.tryRetry());
  b.releaseRetry();
  t.true(b.tryRetry());
  t.is(b.retries, 2);
});

test('the registry keeps a breaker across snapshots while its limits stay, and drops it when they change', (t) => {
  const r = new BreakerRegistry();
  const limits = { connections: 1, pending: 1, requests: Infinity, retries: Infinity };
  r.begin();
  const first = r.breakerFor('svc/v1', 80, limits);
  r.commit();
  r.begin();
  t.is(r.breakerFor('svc/v1', 80, { ...limits }), first);
  t.not(r.breakerFor('svc/v1', 81, limits), first);
  r.commit();
  r.begin();
  t.not(r.breakerFor('svc/v1', 80, { ...limits, pending: 2 }), first);
  r.commit();
  t.is([...r.entries()].length, 1);
});
