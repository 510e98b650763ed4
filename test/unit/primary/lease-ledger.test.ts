import test from 'ava';
import { LeaseLedger, type LeaseToWorker } from '../../../src/primary/lease-ledger.js';

function ledger(workers: number[]): { l: LeaseLedger; sent: [number, LeaseToWorker][]; take(): string[] } {
  const sent: [number, LeaseToWorker][] = [];
  const l = new LeaseLedger({ workers: () => workers, send: (id, m) => sent.push([id, m]) });
  const take = (): string[] => sent.splice(0).map(([id, m]) => `${id} ${m.act}${m.act === 'leaseContend' ? ` ${m.on} r${m.round}` : ` ${m.n}`}`);
  return { l, sent, take };
}

test('grants while tokens are free; then one contention round, and busy only once every worker answered', (t) => {
  const { l, take } = ledger([1, 2, 3]);
  l.want(1, 'k', 2, 2);
  t.deepEqual(take(), ['1 leaseGrant 2']);
  l.want(2, 'k', 2, 1);
  t.deepEqual(take(), ['1 leaseContend true r1', '2 leaseContend true r1', '3 leaseContend true r1']);
  l.giveBack(1, 'k', 0, 1);
  l.giveBack(3, 'k', 0, 1);
  t.deepEqual(take(), [], 'worker 2 has not answered: its idle tokens might still come');
  l.giveBack(2, 'k', 0, 1);
  t.deepEqual(take(), ['2 leaseBusy 1']);
  l.want(3, 'k', 2, 1);
  t.deepEqual(take(), ['3 leaseBusy 1'], 'already contended and answered: busy at once');
  // a token comes back as worker 1's request ends: first come, first served
  l.giveBack(1, 'k', 1, 0);
  t.deepEqual(take(), ['2 leaseGrant 1']);
  l.giveBack(1, 'k', 1, 0);
  t.deepEqual(take(), ['3 leaseGrant 1', '1 leaseContend false r1', '2 leaseContend false r1', '3 leaseContend false r1']);
  t.deepEqual(l.status().map((s) => [s.free, s.held, s.waiting, s.contended]), [[0, { 2: 1, 3: 1 }, 0, false]]);
  l.giveBack(2, 'k', 1, 0);
  l.giveBack(3, 'k', 1, 0);
  t.deepEqual(l.status(), [], 'a limit with every token home is forgotten');
});

test('a cancelled want is not granted; a worker cannot give back more than it holds; an exit frees its tokens', (t) => {
  const { l, take } = ledger([1, 2]);
  l.want(1, 'k', 1, 1);
  l.want(2, 'k', 1, 3);
  l.cancel(2, 'k', 2);
  l.giveBack(1, 'k', 0, 1);
  l.giveBack(2, 'k', 0, 1);
  t.deepEqual(take(), ['1 leaseGrant 1', '1 leaseContend true r1', '2 leaseContend true r1', '2 leaseBusy 1']);
  l.giveBack(2, 'k', 5, 0); // holds none: nothing is added
  t.is(l.status()[0]!.free, 0);
  l.exited(1);
  t.deepEqual(take(), ['2 leaseGrant 1', '1 leaseContend false r1', '2 leaseContend false r1']);
  t.is(l.status()[0]!.free + Object.values(l.status()[0]!.held).reduce((a, b) => a + b, 0), 1);
});

test('a round a worker never answers is settled by expireRounds', (t) => {
  const { l, take } = ledger([1, 2]);
  l.want(1, 'k', 1, 1);
  l.want(1, 'k', 1, 1);
  l.giveBack(1, 'k', 0, 1);
  take();
  t.true(l.awaiting);
  l.expireRounds();
  t.false(l.awaiting);
  t.deepEqual(take(), ['1 leaseBusy 1']);
});
