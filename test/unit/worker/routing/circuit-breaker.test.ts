import test from 'ava';
import { BreakerRegistry, computeBreakerLimits, computeShare } from '../../../../src/worker/routing/circuit-breaker.js';
import { LeaseTable } from '../../../../src/worker/routing/limit-lease.js';
import { LeaseDaemon, NO_POOL, Req } from '../../../helpers/lease-daemon.js';

test('shares sum to the limit across workers, the remainder spread one each', (t) => {
  for (const [limit, workers] of [[10, 3], [7, 2], [100, 4], [5, 5], [1000, 7], [1, 2]] as const) {
    const shares = Array.from({ length: workers }, (_, slot) => computeShare(limit, slot, workers));
    t.is(shares.reduce((a, b) => a + b, 0), limit, `${limit} over ${workers}`);
    t.true(Math.max(...shares) - Math.min(...shares) <= 1);
  }
});

test('the offset moves the remainder to other slots, and the sum stays', (t) => {
  const at = (offset: number) => [0, 1, 2].map((slot) => computeShare(4, slot, 3, offset));
  t.deepEqual(at(0), [2, 1, 1]);
  t.deepEqual(at(1), [1, 2, 1]);
  t.deepEqual(at(5), [1, 1, 2]);
});

test('connections and active requests are daemon-wide limits (leased); pending and retries are shares that sum exactly', (t) => {
  const policy = { ...NO_POOL, maxConnections: 1, maxPendingRequests: 1, maxRequests: 1, maxRetries: 1 };
  const limits = [0, 1].map((slot) => computeBreakerLimits(policy, slot, 2));
  t.deepEqual(limits.map((l) => l?.connections), [1, 1]);
  t.deepEqual(limits.map((l) => l?.requests), [1, 1]);
  t.deepEqual(limits.map((l) => l?.pending), [1, 0]);
  t.deepEqual(limits.map((l) => l?.retries), [1, 0]);
});

test('no breaker for a policy without limits; an unset limit is no limit', (t) => {
  t.is(computeBreakerLimits(null, 0, 2), null);
  t.is(computeBreakerLimits({ ...NO_POOL, maxRequestsPerConnection: 1, connectTimeoutMs: 5 }, 0, 2), null);
  t.deepEqual(computeBreakerLimits({ ...NO_POOL, maxConnections: 4 }, 0, 2), { connections: 4, pending: Infinity, requests: Infinity, retries: Infinity });
});

test("maxConnections 1, pending 1 (Istio's task) over 2 workers: one request at a time in the whole daemon, one waits, the rest overflow", async (t) => {
  const d = new LeaseDaemon({ ...NO_POOL, maxConnections: 1, maxPendingRequests: 1 }, 2);
  const log: string[] = [];
  const a = d.admit(0, new Req('a', log));
  t.is(a.sync, 'waiting', 'the first token comes from the primary');
  await d.settle();
  t.deepEqual(log, ['a admitted']);
  const b = d.admit(1, new Req('b', log)); // worker 1's pending share is 0
  const c = d.admit(0, new Req('c', log)); // worker 0's is 1
  const e = d.admit(0, new Req('e', log));
  await d.settle();
  t.deepEqual(b.refusedWith, ['http1MaxPendingRequests']);
  t.deepEqual(e.refusedWith, ['http1MaxPendingRequests']);
  t.is(c.admittedCount, 0);
  t.deepEqual([d.active, d.breakers[0]!.pending], [1, 1]);
  d.breakers[0]!.release();
  await d.settle();
  t.is(c.admittedCount, 1, 'the waiter gets the freed connection');
  t.is(d.active, 1);
  d.breakers[0]!.release();
  await d.settle();
  // the token is idle on worker 0; worker 1 asks, the primary takes it back and lends it on
  const f = d.admit(1, new Req('f', log));
  await d.settle();
  t.is(f.admittedCount, 1, 'a limit of 1 still serves the worker that has none');
  t.deepEqual(d.ledger.status().map((s) => s.held), [{ 1: 1 }]);
});

test('the whole limit moves to the worker with the load, and back', async (t) => {
  const d = new LeaseDaemon({ ...NO_POOL, maxConnections: 4 }, 2);
  const log: string[] = [];
  const mine = Array.from({ length: 4 }, (_, i) => d.admit(0, new Req(`a${i}`, log)));
  await d.settle();
  t.true(mine.every((r) => r.admittedCount === 1), 'one worker holds all 4');
  t.is(d.active, 4);
  const other = d.admit(1, new Req('b', log)); // no pending limit set: it waits
  await d.settle();
  t.is(other.admittedCount, 0);
  t.is(d.active, 4, 'never more than the limit');
  d.breakers[0]!.release();
  await d.settle();
  t.is(other.admittedCount, 1, 'a connection freed on worker 0 goes to the request waiting on worker 1');
  for (let i = 0; i < 3; i++) d.breakers[0]!.release();
  d.breakers[1]!.release();
  await d.settle();
  // steady load on one worker again: after the first grants, no IPC per request
  const again = Array.from({ length: 4 }, (_, i) => d.admit(1, new Req(`c${i}`, log)));
  await d.settle();
  for (const r of again) t.true(r.holding);
  for (let i = 0; i < 4; i++) d.breakers[1]!.release();
  await d.settle();
  const before = d.messages;
  for (let round = 0; round < 50; round++) {
    const r = d.admit(1, new Req(`d${round}`, log));
    t.is(r.sync, 'go');
    d.breakers[1]!.release();
  }
  await d.settle();
  t.is(d.messages, before, 'tokens at hand: no message to the primary');
});

test('http2MaxRequests overflows at once when every token of the daemon is in use, even with queue room', async (t) => {
  const d = new LeaseDaemon({ ...NO_POOL, maxConnections: 10, maxPendingRequests: 10, maxRequests: 2 }, 2);
  const log: string[] = [];
  d.admit(0, new Req('a', log));
  d.admit(1, new Req('b', log));
  await d.settle();
  t.is(d.active, 2);
  const c = d.admit(0, new Req('c', log));
  await d.settle();
  t.deepEqual(c.refusedWith, ['http2MaxRequests']);
  t.is(d.breakers[0]!.pending, 0);
});

test('a request that gives up leaves the queue, and its want is withdrawn', async (t) => {
  const d = new LeaseDaemon({ ...NO_POOL, maxConnections: 1, maxPendingRequests: 4 }, 2);
  const log: string[] = [];
  d.admit(0, new Req('a', log));
  await d.settle();
  const b = d.admit(0, new Req('b', log));
  d.admit(0, new Req('c', log));
  await d.settle();
  d.breakers[0]!.cancel(b);
  t.is(d.breakers[0]!.pending, 1);
  d.breakers[0]!.release();
  await d.settle();
  t.deepEqual(log, ['a admitted', 'c admitted']);
  d.breakers[0]!.release();
  await d.settle();
  t.deepEqual(d.ledger.status().map((s) => s.waiting), [0]);
});

test('a worker that exits gives its tokens back; one that never answers a contention round is settled without', async (t) => {
  const d = new LeaseDaemon({ ...NO_POOL, maxConnections: 2, maxPendingRequests: 2 }, 3);
  const log: string[] = [];
  d.admit(0, new Req('a', log));
  d.admit(0, new Req('b', log));
  await d.settle();
  const c = d.admit(1, new Req('c', log));
  d.deaf.add(2); // worker 2 holds nothing but will not answer the round
  await d.settle();
  t.is(c.admittedCount, 0);
  t.is(d.breakers[1]!.pending, 0, 'not told busy while an answer is outstanding');
  d.ledger.expireRounds();
  await d.settle();
  t.is(d.breakers[1]!.pending, 1, 'told busy after the round expired: queued');
  d.gone.add(0);
  d.ledger.exited(0); // worker 0 died with both tokens
  await d.settle();
  t.is(c.admittedCount, 1);
});

test('a simulated daemon under random load never has more requests in flight than the limit, and every request is answered', async (t) => {
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (const [workers, limit, pending, maxRequests] of [[2, 1, 1, null], [3, 2, 3, null], [4, 3, 0, 5], [2, 5, 2, 3]] as const) {
    const d = new LeaseDaemon({ ...NO_POOL, maxConnections: limit, maxPendingRequests: pending || null, maxRequests }, workers);
    const bound = Math.min(limit, maxRequests ?? Infinity);
    const log: string[] = [];
    const all: Req[][] = Array.from({ length: workers }, () => []);
    let worst = 0;
    for (let step = 0; step < 3_000; step++) {
      const w = Math.floor(rand() * workers);
      const x = rand();
      if (x < 0.3) all[w]!.push(d.admit(w, new Req(`${w}.${step}`, log)));
      else if (x < 0.55) {
        const i = all[w]!.findIndex((r) => r.holding);
        if (i >= 0) { d.breakers[w]!.release(); all[w]!.splice(i, 1); }
      } else if (x < 0.6) {
        const i = all[w]!.findIndex((r) => !r.settled);
        if (i >= 0) { d.breakers[w]!.cancel(all[w]![i]!); all[w]!.splice(i, 1); }
      } else {
        await d.deliverOne();
        await d.deliverOne();
      }
      worst = Math.max(worst, d.active);
      t.true(d.active <= bound);
      for (const list of all) for (let i = list.length - 1; i >= 0; i--) if (list[i]!.refusedWith.length > 0) list.splice(i, 1);
    }
    // drain: release everything admitted, then everything admitted later
    for (let guard = 0; guard < 10_000; guard++) {
      await d.settle();
      let any = false;
      for (let w = 0; w < workers; w++) {
        const list = all[w]!;
        for (let i = list.length - 1; i >= 0; i--) {
          if (list[i]!.refusedWith.length > 0) list.splice(i, 1);
          else if (list[i]!.holding) { d.breakers[w]!.release(); list.splice(i, 1); any = true; }
        }
      }
      if (!any) break;
    }
    await d.settle();
    t.true(all.every((l) => l.length === 0), `every request admitted or refused (${workers} workers, limit ${limit})`);
    t.is(d.active, 0);
    t.true(worst === bound, `the whole limit was used: ${worst} of ${bound}`);
    const banks = d.ledger.status();
    t.true(banks.every((b) => b.waiting === 0));
    // every token is idle on some worker or free at the primary: none was lost
    for (const b of banks) t.is(b.free + Object.values(b.held).reduce((s, n) => s + n, 0), b.limit, b.key);
    t.true(log.every((l) => l.split(' ').length >= 2));
  }
});

test('the registry keeps a breaker across snapshots while its limits stay, and drops it when they change', (t) => {
  const r = new BreakerRegistry();
  const table = new LeaseTable({ want() {}, cancel() {}, giveBack() {} });
  const leases = (k: string, l: number) => table.leaseFor(k, l);
  const limits = { connections: 1, pending: 1, requests: Infinity, retries: Infinity };
  r.begin();
  const first = r.breakerFor('svc/v1', 80, limits, leases);
  r.commit();
  r.begin();
  t.is(r.breakerFor('svc/v1', 80, { ...limits }, leases), first);
  t.not(r.breakerFor('svc/v1', 81, limits, leases), first);
  r.commit();
  r.begin();
  const changed = r.breakerFor('svc/v1', 80, { ...limits, pending: 2 }, leases);
  t.not(changed, first);
  t.is(changed.leases.connections, first.leases.connections, 'the same limit keeps its lease (and the tokens it holds)');
  t.is(changed.leases.requests, null);
  r.commit();
  t.is([...r.entries()].length, 1);
});
