// DestinationRule connectionPool limits (Istio's circuit breakers) as one worker enforces them.
// Envoy's circuit breakers are per proxy; stickyd's workers are processes with no shared memory.
// The two limits on requests in flight, tcp.maxConnections and http.http2MaxRequests, are tokens
// the primary lends (limit-lease.ts, primary/lease-ledger.ts): a worker holds what it was lent
// and uses only that, so the daemon-wide bound is exact for any worker count and moves with
// demand. The queue and retry limits are per-worker shares that sum to the limit (computeShare):
// a request waits in the worker that accepted it, and a retry is decided where it happens.
// Pure: counters, leases and a FIFO of waiting requests; no sockets, no timers.
import type { ConnectionPoolPolicy } from '../../snapshot/types.js';
import type { OverflowLimit } from '../../protocol.js';
import type { Lease, LeaseWaiter } from './limit-lease.js';

/** Infinity: no limit. */
export interface BreakerLimits {
  /** tcp.maxConnections, daemon-wide: requests holding an upstream connection at once (HTTP/1.1: one each) */
  readonly connections: number;
  /** http.http1MaxPendingRequests, this worker's share: requests waiting for a connection */
  readonly pending: number;
  /** http.http2MaxRequests, daemon-wide: requests active at once */
  readonly requests: number;
  /** http.maxRetries, this worker's share: retries outstanding at once */
  readonly retries: number;
}

/** A request the breaker could not admit at once: it hears admitted() or refused(), once. */
export interface BreakerWaiter {
  admitted(): void;
  refused(limit: OverflowLimit): void;
}

/**
 * 'go': dispatch now; 'waiting': wait for admitted() or refused(). A refusal is never said at
 * once: only the primary knows that every token of the daemon is in use.
 */
export type Admission = 'go' | 'waiting';

/**
 * Worker `slot`'s share of a daemon-wide `limit` among `workers`: limit / workers, the remainder
 * going one each to the slots after `offset` (so several subsets' remainders do not all land on
 * worker 0). Shares sum to `limit`. null: no limit.
 */
export function computeShare(limit: number | null, slot: number, workers: number, offset = 0): number {
  if (limit === null) return Infinity;
  const n = Math.max(1, workers);
  const base = Math.floor(limit / n);
  const rank = (((slot - offset) % n) + n) % n;
  return base + (rank < limit % n ? 1 : 0);
}

/** A worker's limits for `policy`, or null when it sets none of them (no breaker: the plain path). */
export function computeBreakerLimits(policy: ConnectionPoolPolicy | null | undefined, slot: number, workers: number, offset = 0): BreakerLimits | null {
  if (policy == null) return null;
  const { maxConnections, maxPendingRequests, maxRequests, maxRetries } = policy;
  if (maxConnections === null && maxPendingRequests === null && maxRequests === null && maxRetries === null) return null;
  return {
    connections: maxConnections ?? Infinity,
    pending: computeShare(maxPendingRequests, slot, workers, offset),
    requests: maxRequests ?? Infinity,
    retries: computeShare(maxRetries, slot, workers, offset),
  };
}

/** The leases a breaker draws on: null for a limit that is not set. */
export interface BreakerLeases {
  readonly connections: Lease | null;
  readonly requests: Lease | null;
}

/**
 * One request's way through the breaker when a token is not at hand: first a request token
 * (http2MaxRequests: busy overflows at once, as Envoy does), then a connection token
 * (maxConnections: busy queues, while the pending share has room).
 */
class Ticket implements LeaseWaiter {
  stage: 'requests' | 'connections' | 'done' = 'requests';
  pending = false;
  constructor(readonly breaker: CircuitBreaker, readonly waiter: BreakerWaiter) {}
  granted(): void { this.breaker.granted(this); }
  busy(): void { this.breaker.busy(this); }
}

export class CircuitBreaker {
  #active = 0;
  #pending = 0;
  #retries = 0;
  readonly #tickets = new Map<BreakerWaiter, Ticket>();

  constructor(readonly limits: BreakerLimits, readonly leases: BreakerLeases) {}

  /** requests admitted and not yet released, on this worker */
  get active(): number { return this.#active; }
  /** requests queued for a connection on this worker (told every token of the daemon is in use) */
  get pending(): number { return this.#pending; }
  get retries(): number { return this.#retries; }

  /**
   * Envoy's order: the active-requests limit overflows at once; with every connection busy a
   * request waits for one while the pending queue has room, and overflows when it has none.
   */
  admit(waiter: BreakerWaiter): Admission {
    const { requests, connections } = this.leases;
    const gotRequest = requests === null || requests.tryTake();
    if (gotRequest && (connections === null || connections.tryTake())) {
      this.#active++;
      return 'go';
    }
    const ticket = new Ticket(this, waiter);
    this.#tickets.set(waiter, ticket);
    if (gotRequest) this.#toConnections(ticket);
    else requests?.wait(ticket);
    return 'waiting';
  }

  /** An admitted request finished: its tokens go back (to a waiter, the primary, or idle). */
  release(): void {
    this.#active--;
    this.leases.connections?.put();
    this.leases.requests?.put();
  }

  /** A waiting request gave up (client left, route timeout): it leaves every queue, its tokens go back. */
  cancel(waiter: BreakerWaiter): void {
    const ticket = this.#tickets.get(waiter);
    if (ticket === undefined) return;
    this.#tickets.delete(waiter);
    this.#drop(ticket);
  }

  /** One more retry outstanding, if the share allows it. */
  tryRetry(): boolean {
    if (this.#retries >= this.limits.retries) return false;
    this.#retries++;
    return true;
  }

  releaseRetry(): void {
    this.#retries--;
  }

  /** @internal a lease gave `ticket` the token it waited for */
  granted(ticket: Ticket): void {
    if (ticket.stage === 'requests') {
      if (!this.#toConnections(ticket)) return;
    } else if (ticket.stage === 'connections') {
      if (ticket.pending) this.#pending--;
      ticket.pending = false;
      ticket.stage = 'done';
    } else return;
    this.#tickets.delete(ticket.waiter);
    this.#active++;
    ticket.waiter.admitted();
  }

  /** @internal every token of the daemon is in use: overflow, or queue for a connection */
  busy(ticket: Ticket): void {
    if (ticket.stage === 'requests') this.#refuse(ticket, 'http2MaxRequests');
    else if (ticket.stage === 'connections' && !ticket.pending) {
      if (this.#pending < this.limits.pending) {
        this.#pending++;
        ticket.pending = true;
      } else this.#refuse(ticket, 'http1MaxPendingRequests');
    }
  }

  /**
   * The request holds its request token: now a connection token, at hand (true) or asked for.
   * From admit() the token was just tried and is not at hand, so the ticket then always waits.
   */
  #toConnections(ticket: Ticket): boolean {
    const connections = this.leases.connections;
    if (connections === null || connections.tryTake()) {
      ticket.stage = 'done';
      return true;
    }
    ticket.stage = 'connections';
    connections.wait(ticket);
    return false;
  }

  #refuse(ticket: Ticket, limit: OverflowLimit): void {
    this.#tickets.delete(ticket.waiter);
    this.#drop(ticket);
    ticket.waiter.refused(limit);
  }

  #drop(ticket: Ticket): void {
    if (ticket.stage === 'requests') this.leases.requests?.leave(ticket);
    else if (ticket.stage === 'connections') {
      this.leases.connections?.leave(ticket);
      if (ticket.pending) this.#pending--;
      this.leases.requests?.put();
    }
    ticket.pending = false;
    ticket.stage = 'done';
  }
}

/**
 * The worker's breakers, kept across snapshots for a subset whose limits did not change, so a
 * reload neither forgets the requests in flight nor lets a second set of them through.
 */
export class BreakerRegistry {
  #byKey = new Map<string, CircuitBreaker>();
  #next = new Map<string, CircuitBreaker>();

  /** A snapshot's build starts: what an earlier, failed build asked for is dropped. */
  begin(): void {
    this.#next = new Map();
  }

  /** The breaker for a subset (identified by name and port) with these limits; `leases` makes its leases. */
  breakerFor(name: string, port: number, limits: BreakerLimits, leases: (key: string, limit: number) => Lease): CircuitBreaker {
    const key = `${name}\n${port}\n${limits.connections},${limits.pending},${limits.requests},${limits.retries}`;
    const lease = (kind: string, limit: number): Lease | null => (Number.isFinite(limit) ? leases(`${name}\n${port}\n${kind}\n${limit}`, limit) : null);
    const breaker = this.#next.get(key) ?? this.#byKey.get(key) ??
      new CircuitBreaker(limits, { connections: lease('maxConnections', limits.connections), requests: lease('http2MaxRequests', limits.requests) });
    this.#next.set(key, breaker);
    return breaker;
  }

  /** After a snapshot swap: forget breakers the new snapshot did not ask for (in-flight requests keep theirs). */
  commit(): void {
    this.#byKey = this.#next;
    this.#next = new Map();
  }

  /** the leases the current snapshot's breakers draw on (LeaseTable.retain) */
  leases(): Set<Lease> {
    const out = new Set<Lease>();
    for (const b of this.#byKey.values()) {
      if (b.leases.connections !== null) out.add(b.leases.connections);
      if (b.leases.requests !== null) out.add(b.leases.requests);
    }
    return out;
  }

  /** every breaker of the current snapshot by subset name and port: gauges */
  entries(): IterableIterator<[string, CircuitBreaker]> {
    return this.#byKey.entries();
  }
}
