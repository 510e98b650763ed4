import test from 'ava';
import { Lease, LeaseTable, type LeaseWaiter } from '../../../../src/worker/routing/limit-lease.js';

function wire(): { calls: string[]; w: ConstructorParameters<typeof Lease>[2] } {
  const calls: string[] = [];
  return { calls, w: { want: (_k, l, n) => calls.push(`want ${n}/${l}`), cancel: (_k, n) => calls.push(`cancel ${n}`), giveBack: (_k, n, r) => calls.push(`back ${n} r${r}`) } };
}
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function waiter(log: string[], name: string): LeaseWaiter {
  return { granted: () => log.push(`${name} granted`), busy: () => log.push(`${name} busy`) };
}

test('waits in one tick are one want; a grant serves them in order; a withdrawn one cancels its want', async (t) => {
  const { calls, w } = wire();
  const lease = new Lease('k', 4, w);
  const log: string[] = [];
  const ws = ['a', 'b', 'c', 'd', 'e'].map((n) => waiter(log, n));
  for (const x of ws) lease.wait(x);
  lease.leave(ws[4]!);
  await tick();
  t.deepEqual(calls, ['want 4/4']);
  lease.onGrant(2);
  t.deepEqual(log, ['a granted', 'b granted']);
  lease.onBusy(5);
  t.deepEqual(log.slice(2), ['c busy', 'd busy'], 'told once each, oldest first');
  lease.onBusy(5);
  t.is(log.length, 4);
  lease.leave(ws[3]!);
  await tick();
  t.deepEqual(calls.slice(1), ['cancel 1']);
});

test('no token jumps the queue; a freed token goes to the waiter here, or back to the primary while contended', async (t) => {
  const { calls, w } = wire();
  const lease = new Lease('k', 2, w);
  const log: string[] = [];
  lease.onGrant(1);
  t.true(lease.tryTake());
  lease.wait(waiter(log, 'a'));
  t.false(lease.tryTake(), 'a waits first');
  lease.put();
  t.deepEqual(log, ['a granted']);
  await tick();
  t.deepEqual(calls, [], 'its want was never sent: the wait and the handover were one tick');
  lease.onContend({ cmd: 'stickyd', act: 'leaseContend', key: 'k', on: true, round: 3 });
  t.deepEqual(calls, ['back 0 r3'], 'nothing idle, but the round is answered');
  lease.put();
  t.deepEqual(calls.slice(1), ['back 1 r0']);
  t.deepEqual([lease.held, lease.used], [0, 0]);
});

test('contention gives back every idle token at once; a grant nobody waits for is given back while contended', (t) => {
  const { calls, w } = wire();
  const lease = new Lease('k', 5, w);
  lease.onGrant(3);
  t.true(lease.tryTake());
  lease.onContend({ cmd: 'stickyd', act: 'leaseContend', key: 'k', on: true, round: 1 });
  t.deepEqual(calls, ['back 2 r1']);
  lease.onGrant(1);
  t.deepEqual(calls.slice(1), ['back 1 r0']);
  lease.onContend({ cmd: 'stickyd', act: 'leaseContend', key: 'k', on: false, round: 1 });
  lease.put();
  t.deepEqual([lease.held, lease.used, calls.length], [1, 0, 2], 'not contended: the token stays idle here');
});

test('the table answers a round for a limit it never used, and returns a grant it cannot place', (t) => {
  const { calls, w } = wire();
  const table = new LeaseTable(w);
  table.onContend({ cmd: 'stickyd', act: 'leaseContend', key: 'x', on: true, round: 2 });
  table.onGrant('y', 1);
  t.deepEqual(calls, ['back 0 r2', 'back 1 r0']);
  t.is(table.leaseFor('k', 3), table.leaseFor('k', 3));
});

test('a lease no breaker uses after a reload gives every token back: idle ones at once, the others as their requests end', (t) => {
  const { calls, w } = wire();
  const table = new LeaseTable(w);
  const old = table.leaseFor('svc\n80\nmaxConnections\n4', 4);
  const kept = table.leaseFor('svc\n80\nhttp2MaxRequests\n9', 9);
  old.onGrant(3);
  kept.onGrant(2);
  t.true(old.tryTake());
  table.retain(new Set([kept]));
  t.deepEqual(calls, ['back 2 r0'], 'the two idle tokens of the old limit');
  old.put();
  t.deepEqual(calls.slice(1), ['back 1 r0'], 'and the one in use when its request ended');
  t.deepEqual([old.held, kept.held], [0, 2], 'the kept lease keeps its tokens');
  table.retain(new Set([kept, old]));
  old.onGrant(1);
  t.is(old.held, 1, 'used again: tokens stay idle here as before');
});
