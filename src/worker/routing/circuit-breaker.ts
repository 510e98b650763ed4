// DestinationRule connectionPool limits (Istio's circuit breakers) as one worker enforces them.
// Envoy's circuit breakers are per proxy; stickyd's workers are processes with no shared memory,
// so the daemon-wide limit is split into per-worker shares that sum to it (computeShare), with a
// floor of one connection and one active request per worker: a worker with none could serve
// nothing, while the primary still hands it connections (README, "Circuit breakers").
// Pure: counters and a FIFO of waiting requests, no sockets, no timers.
import type { ConnectionPoolPolicy } from '../../snapshot/types.js';
import type { OverflowLimit } from '../../protocol.js';

/** One worker's share of each limit; Infinity: no limit. */
export interface BreakerLimits {
  /** tcp.maxConnections: requests holding an upstream connection at once (HTTP/1.1: one each) */
  readonly connections: number;
  /** http.http1MaxPendingRequests: requests waiting for a connection */
  readonly pending: number;
  /** http.http2MaxRequests: requests active at once */
  readonly requests: number;
  /** http.maxRetries: retries outstanding at once */
  readonly retries: number;
}

/** A request waiting in the queue; `admitted` runs when a connection frees up for it. */
export interface BreakerWaiter {
  admitted(): void;
}

/** 'go': dispatch now; 'queued': wait for admitted(); else the limit that refused it. */
export type Admission = 'go' | 'queued' | OverflowLimit;

/**
 * Worker `slot`'s share of a daemon-wide `limit` among `workers`: limit / workers, the remainder
 * going one each to the slots after `offset` (so several subsets' remainders do not all land on
 * worker 0); never below `floor`. Shares above the floor sum to `limit`. null: no limit.
 */
export function computeShare(limit: number | null, slot: number, workers: number, floor: number, offset = 0): number {
  if (limit === null) return Infinity;
  const n = Math.max(1, workers);
  const base = Math.floor(limit / n);
  const rank = (((slot - offset) % n) + n) % n;
  return Math.max(floor, base + (rank < limit % n ? 1 : 0));
}

/** A worker's limits for `policy`, or null when it sets none of them (no breaker: the plain path). */
export function computeBreakerLimits(policy: ConnectionPoolPolicy | null | undefined, slot: number, workers: number, offset = 0): BreakerLimits | null {
  if (policy == null) return null;
  const { maxConnections, maxPendingRequests, maxRequests, maxRetries } = policy;
  if (maxConnections === null && maxPendingRequests === null && maxRequests === null && maxRetries === null) return null;
  return {
    connections: computeShare(maxConnections, slot, workers, 1, offset),
    pending: computeShare(maxPendingRequests, slot, workers, 0, offset),
    requests: computeShare(maxRequests, slot, workers, 1, offset),
    retries: computeShare(maxRetries, slot, workers, 0, offset),
  };
}

export class CircuitBreaker {
  #active = 0;
  #retries = 0;
  /** insertion-ordered: the FIFO of waiting requests, with O(1) removal of one that gave up */
  readonly #queue = new Set<BreakerWaiter>();

  constructor(readonly limits: BreakerLimits) {}

  get active(): number { return this.#active; }
  get pending(): number { return this.#queue.size; }
  get retries(): number { return this.#retries; }

  /**
   * Envoy's order: the active-requests limit overflows at once; with every connection busy a
   * request waits for one while the pending queue has room, and overflows when it has none.
   */
  admit(waiter: BreakerWaiter): Admission {
    const l = this.limits;
    if (this.#active >= l.requests) return 'http2MaxRequests';
    if (this.#active < l.connections && this.#queue.size === 0) {
      this.#active++;
      return 'go';
    }
    if (this.#queue.size >= l.pending) return 'http1MaxPendingRequests';
    this.#queue.add(waiter);
    return 'queued';
  }

  /** An admitted request finished: its connection goes to the longest-waiting request, if any. */
  release(): void {
    this.#active--;
    this.#admitNext();
  }

  /** A waiting request gave up (client left, route timeout): it leaves the queue. */
  cancel(waiter: BreakerWaiter): void {
    this.#queue.delete(waiter);
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

  #admitNext(): void {
    if (this.#active >= this.limits.connections || this.#active >= this.limits.requests) return;
    const next = this.#queue.values().next();
    if (next.done === true) return;
    this.#queue.delete(next.value);
    this.#active++;
    next.value.admitted();
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

  /** The breaker for a subset (identified by name and port) with these limits. */
  breakerFor(name: string, port: number, limits: BreakerLimits): CircuitBreaker {
    const key = `${name}\n${port}\n${limits.connections},${limits.pending},${limits.requests},${limits.retries}`;
    const breaker = this.#next.get(key) ?? this.#byKey.get(key) ?? new CircuitBreaker(limits);
    this.#next.set(key, breaker);
    return breaker;
  }

  /** After a snapshot swap: forget breakers the new snapshot did not ask for (in-flight requests keep theirs). */
  commit(): void {
    this.#byKey = this.#next;
    this.#next = new Map();
  }

  /** every breaker of the current snapshot by subset name and port: gauges */
  entries(): IterableIterator<[string, CircuitBreaker]> {
    return this.#byKey.entries();
  }
}
