// A primary's lease ledger and N workers' lease tables and breakers in one process, joined by one
// FIFO of messages (IPC keeps order per channel; one queue keeps it too). settle() delivers until
// nothing moves; deliverOne() lets a test look between messages.
import { LeaseLedger } from '../../src/primary/lease-ledger.js';
import { BreakerRegistry, CircuitBreaker, computeBreakerLimits, type BreakerWaiter } from '../../src/worker/routing/circuit-breaker.js';
import { LeaseTable } from '../../src/worker/routing/limit-lease.js';
import type { ConnectionPoolPolicy } from '../../src/snapshot/types.js';
import type { OverflowLimit } from '../../src/protocol.js';

export const NO_POOL: ConnectionPoolPolicy = {
  maxConnections: null, maxPendingRequests: null, maxRequests: null, maxRetries: null, maxRequestsPerConnection: null,
  connectTimeoutMs: null, idleTimeoutMs: null, maxConnectionDurationMs: null, tcpKeepaliveMs: null,
};

/** A waiter that records what it heard; `sync` is the admit() answer. */
export class Req implements BreakerWaiter {
  admittedCount = 0;
  refusedWith: OverflowLimit[] = [];
  sync = '';
  constructor(readonly name: string, readonly log: string[]) {}
  admitted(): void { this.admittedCount++; this.log.push(`${this.name} admitted`); }
  refused(limit: OverflowLimit): void { this.refusedWith.push(limit); this.log.push(`${this.name} refused ${limit}`); }
  /** answered once: at once by admit(), or later by admitted() / refused() */
  get settled(): boolean { return this.sync !== 'waiting' || this.admittedCount + this.refusedWith.length > 0; }
  get holding(): boolean { return this.sync === 'go' || this.admittedCount > 0; }
}

export class LeaseDaemon {
  readonly queue: (() => void)[] = [];
  readonly ledger: LeaseLedger;
  readonly tables: LeaseTable[];
  readonly breakers: CircuitBreaker[];
  /** workers that exited: gone from the ledger's list, and hear nothing */
  readonly gone = new Set<number>();
  /** workers still listed that hear nothing (stuck) */
  readonly deaf = new Set<number>();
  messages = 0;

  constructor(policy: ConnectionPoolPolicy, workers: number, name = 'svc/v1') {
    this.tables = Array.from({ length: workers }, (_, id) => new LeaseTable({
      want: (k, l, n) => this.queue.push(() => this.ledger.want(id, k, l, n)),
      cancel: (k, n) => this.queue.push(() => this.ledger.cancel(id, k, n)),
      giveBack: (k, n, r) => this.queue.push(() => this.ledger.giveBack(id, k, n, r)),
    }));
    this.ledger = new LeaseLedger({
      workers: () => this.tables.map((_, i) => i).filter((i) => !this.gone.has(i)),
      send: (id, m) => this.queue.push(() => {
        if (this.deaf.has(id) || this.gone.has(id)) return;
        const t = this.tables[id]!;
        if (m.act === 'leaseGrant') t.onGrant(m.key, m.n);
        else if (m.act === 'leaseBusy') t.onBusy(m.key, m.n);
        else t.onContend(m);
      }),
    });
    this.breakers = this.tables.map((t, slot) => {
      const limits = computeBreakerLimits(policy, slot, workers);
      if (limits === null) throw new Error('policy sets no limit');
      const r = new BreakerRegistry();
      r.begin();
      return r.breakerFor(name, 80, limits, (k, l) => t.leaseFor(k, l));
    });
  }

  /** Runs queued microtasks (coalesced wants), then one message. false: nothing left. */
  async deliverOne(): Promise<boolean> {
    await new Promise((r) => setImmediate(r));
    const next = this.queue.shift();
    if (next === undefined) return false;
    this.messages++;
    next();
    return true;
  }

  async settle(): Promise<void> {
    while (await this.deliverOne());
  }

  admit(worker: number, req: Req): Req {
    req.sync = this.breakers[worker]!.admit(req);
    return req;
  }

  get active(): number {
    return this.breakers.reduce((s, b) => s + b.active, 0);
  }
}
