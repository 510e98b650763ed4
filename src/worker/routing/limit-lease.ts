// A worker's side of a daemon-wide limit's tokens (primary/lease-ledger.ts has the rules): the
// tokens this worker holds, how many are in use, and the requests waiting for one. A request
// with an idle token takes it with no IPC; one without asks the primary and waits for a grant,
// or a `busy` (every token of the daemon in use), which the circuit breaker turns into queueing
// or a 503. Messages to the primary are coalesced per tick: a burst of N waiting requests is one
// message. Pure: no timers; the wire is given.
import type { LeaseContendMsg } from '../../protocol.js';

/** How a lease talks to the primary (worker/main.ts sends these as IPC messages). */
export interface LeaseWire {
  want(key: string, limit: number, n: number): void;
  cancel(key: string, n: number): void;
  giveBack(key: string, n: number, round: number): void;
}

/** A request waiting for a token: granted() means it now holds one; busy() is said once. */
export interface LeaseWaiter {
  granted(): void;
  busy(): void;
}

export class Lease {
  #held = 0;
  #used = 0;
  #contended = false;
  #retired = false;
  /** insertion-ordered: first come, first served; the value says whether it was told busy */
  readonly #waiting = new Map<LeaseWaiter, boolean>();
  /** wants minus cancels not yet sent this tick */
  #net = 0;
  #scheduled = false;

  constructor(
    readonly key: string,
    readonly limit: number,
    readonly wire: LeaseWire,
  ) {}

  get held(): number { return this.#held; }
  get used(): number { return this.#used; }

  /** Takes an idle token, if this worker holds one and nobody here waits before. */
  tryTake(): boolean {
    if (this.#used >= this.#held || this.#waiting.size > 0) return false;
    this.#used++;
    return true;
  }

  /** Queues `w` for a token (ask the primary for one). */
  wait(w: LeaseWaiter): void {
    this.#waiting.set(w, false);
    this.#adjust(1);
  }

  /** `w` no longer waits (refused, or gave up): its want is withdrawn. */
  leave(w: LeaseWaiter): void {
    if (this.#waiting.delete(w)) this.#adjust(-1);
  }

  /** A token in use is free again: back to the primary while others wait anywhere, else to a waiter here, else idle. */
  put(): void {
    this.#used--;
    if (this.#contended || this.#retired) {
      this.#held--;
      this.wire.giveBack(this.key, 1, 0);
      return;
    }
    const next = this.#first();
    if (next === undefined) return;
    this.#waiting.delete(next);
    this.#adjust(-1); // it needs no token from the primary any more
    this.#used++;
    next.granted();
  }

  onGrant(n: number): void {
    this.#held += n;
    let left = n;
    while (left > 0) {
      const next = this.#first();
      if (next === undefined) break;
      this.#waiting.delete(next);
      this.#used++;
      left--;
      next.granted();
    }
    // granted to a want since withdrawn: keep it idle, unless someone elsewhere waits
    if (left > 0 && (this.#contended || this.#retired)) this.#giveBackIdle(0);
  }

  /** `n` of this worker's wants cannot be met now: the oldest not yet told hear it. */
  onBusy(n: number): void {
    const told: LeaseWaiter[] = [];
    for (const [w, wasTold] of this.#waiting) {
      if (told.length >= n) break;
      if (wasTold) continue;
      this.#waiting.set(w, true);
      told.push(w);
    }
    for (const w of told) w.busy();
  }

  onContend(msg: LeaseContendMsg): void {
    this.#contended = msg.on;
    if (msg.on) this.#giveBackIdle(msg.round);
  }

  /**
   * No breaker of the current snapshot uses this limit any more (a reload changed it): hand
   * every token back, the idle ones now and the others as their requests end, as if contended.
   * `false`: used again (a later reload restored the limit).
   */
  setRetired(retired: boolean): void {
    if (retired === this.#retired) return;
    this.#retired = retired;
    if (retired) this.#giveBackIdle(0);
  }

  #giveBackIdle(round: number): void {
    const idle = this.#held - this.#used;
    this.#held -= idle;
    if (idle > 0 || round > 0) this.wire.giveBack(this.key, idle, round);
  }

  #first(): LeaseWaiter | undefined {
    const it = this.#waiting.keys().next();
    return it.done === true ? undefined : it.value;
  }

  #adjust(d: number): void {
    this.#net += d;
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      const net = this.#net;
      this.#net = 0;
      if (net > 0) this.wire.want(this.key, this.limit, net);
      else if (net < 0) this.wire.cancel(this.key, -net);
    });
  }
}

/** Every lease of this worker by key, kept for the worker's life: tokens it holds survive a reload that keeps the limit. */
export class LeaseTable {
  readonly #byKey = new Map<string, Lease>();

  constructor(readonly wire: LeaseWire) {}

  leaseFor(key: string, limit: number): Lease {
    let lease = this.#byKey.get(key);
    if (lease === undefined) {
      lease = new Lease(key, limit, this.wire);
      this.#byKey.set(key, lease);
    }
    return lease;
  }

  onGrant(key: string, n: number): void {
    const lease = this.#byKey.get(key);
    // a grant for a lease this worker never made (cannot happen) goes straight back
    if (lease === undefined) this.wire.giveBack(key, n, 0);
    else lease.onGrant(n);
  }

  onBusy(key: string, n: number): void {
    this.#byKey.get(key)?.onBusy(n);
  }

  /** After a snapshot swap: the leases its breakers use stay; the others give their tokens back. */
  retain(used: ReadonlySet<Lease>): void {
    for (const lease of this.#byKey.values()) lease.setRetired(!used.has(lease));
  }

  onContend(msg: LeaseContendMsg): void {
    const lease = this.#byKey.get(msg.key);
    if (lease !== undefined) lease.onContend(msg);
    else if (msg.on) this.wire.giveBack(msg.key, 0, msg.round);
  }
}
