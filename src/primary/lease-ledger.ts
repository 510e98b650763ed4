// The daemon-wide connectionPool limits that must hold exactly (tcp.maxConnections and
// http.http2MaxRequests), as tokens the primary lends to workers. Envoy's circuit breakers are
// per proxy; stickyd's workers are processes with no shared memory, so the primary owns every
// limit's tokens and a worker may only use tokens it holds (worker/routing/circuit-breaker.ts).
// A worker keeps what it was lent while nobody else waits, so a steady load costs no IPC; when a
// worker asks and no token is free, the primary declares the limit contended: every worker gives
// back its idle tokens at once and each token as its request ends, and the primary hands them out
// first come, first served. Tokens are conserved (free + held + in flight = limit), so no more
// than the limit are ever in use, whatever the worker count or how the load is spread.
// Pure: no timers of its own, no IPC; the supervisor delivers messages both ways.
import type { LeaseBusyMsg, LeaseContendMsg, LeaseGrantMsg } from '../protocol.js';
import { CMD } from '../protocol.js';
import type { LeaseStatus, LeaseView } from '../daemon-view.js';

export type LeaseToWorker = LeaseGrantMsg | LeaseBusyMsg | LeaseContendMsg;

/** How the ledger reaches workers: the supervisor's live workers and a fire-and-forget send. */
export interface LeasePort {
  workers(): readonly number[];
  send(workerId: number, msg: LeaseToWorker): void;
}

interface Want {
  readonly worker: number;
  /** tokens still owed to this request */
  n: number;
  /** whether the worker has been told `busy` for them (told once; the want stays standing) */
  told: boolean;
}

interface Bank {
  readonly limit: number;
  free: number;
  readonly held: Map<number, number>;
  /** standing wants, first come first served */
  readonly queue: Want[];
  contended: boolean;
  /** round of the last contention broadcast; workers answer it with their idle tokens */
  round: number;
  /** workers whose answer to `round` has not arrived: until then, idle tokens may still come back */
  readonly awaiting: Set<number>;
}

export class LeaseLedger implements LeaseView {
  readonly #banks = new Map<string, Bank>();
  readonly #port: LeasePort;

  constructor(port: LeasePort) {
    this.#port = port;
  }

  /** Worker `worker` needs `n` more tokens of `key`, whose daemon-wide limit is `limit`. */
  want(worker: number, key: string, limit: number, n: number): void {
    if (!(n > 0) || !(limit > 0)) return;
    let bank = this.#banks.get(key);
    if (bank === undefined) {
      bank = { limit, free: limit, held: new Map(), queue: [], contended: false, round: 0, awaiting: new Set() };
      this.#banks.set(key, bank);
    }
    bank.queue.push({ worker, n, told: false });
    this.#pump(key, bank);
  }

  /** The worker no longer needs `n` of the tokens it asked for (its requests gave up or were refused). */
  cancel(worker: number, key: string, n: number): void {
    const bank = this.#banks.get(key);
    if (bank === undefined) return;
    let left = n;
    // latest first: the worker's oldest requests keep their place
    for (let i = bank.queue.length - 1; i >= 0 && left > 0; i--) {
      const w = bank.queue[i]!;
      if (w.worker !== worker) continue;
      const take = Math.min(left, w.n);
      w.n -= take;
      left -= take;
      if (w.n === 0) bank.queue.splice(i, 1);
    }
    this.#pump(key, bank);
  }

  /** The worker gives back `n` tokens; `round` > 0 answers that contention round (n may be 0). */
  giveBack(worker: number, key: string, n: number, round: number): void {
    const bank = this.#banks.get(key);
    if (bank === undefined) return;
    const have = bank.held.get(worker) ?? 0;
    const back = Math.min(Math.max(0, n), have);
    if (have - back === 0) bank.held.delete(worker);
    else bank.held.set(worker, have - back);
    bank.free += back;
    if (round === bank.round) bank.awaiting.delete(worker);
    this.#pump(key, bank);
  }

  /** A worker exited: its tokens come back (its connections died with it), its wants go. */
  exited(worker: number): void {
    for (const [key, bank] of this.#banks) {
      bank.free += bank.held.get(worker) ?? 0;
      bank.held.delete(worker);
      for (let i = bank.queue.length - 1; i >= 0; i--) if (bank.queue[i]!.worker === worker) bank.queue.splice(i, 1);
      bank.awaiting.delete(worker);
      this.#pump(key, bank);
    }
  }

  /**
   * A contention round whose answers did not all come (a worker too busy or stuck to answer):
   * the wants still waiting are told busy rather than left hanging. The supervisor calls it
   * on a timer; harmless when nothing waits.
   */
  expireRounds(): void {
    for (const [key, bank] of this.#banks) {
      if (bank.awaiting.size === 0) continue;
      bank.awaiting.clear();
      this.#pump(key, bank);
    }
  }

  /** Whether a contention round is waiting for answers (the supervisor arms expireRounds then). */
  get awaiting(): boolean {
    for (const bank of this.#banks.values()) if (bank.awaiting.size > 0) return true;
    return false;
  }

  status(): LeaseStatus[] {
    return [...this.#banks].map(([key, b]) => ({
      key,
      limit: b.limit,
      free: b.free,
      held: Object.fromEntries([...b.held].map(([w, n]) => [String(w), n])),
      waiting: b.queue.reduce((s, w) => s + w.n, 0),
      contended: b.contended,
    }));
  }

  #pump(key: string, bank: Bank): void {
    while (bank.free > 0 && bank.queue.length > 0) {
      const head = bank.queue[0]!;
      const n = Math.min(bank.free, head.n);
      bank.free -= n;
      head.n -= n;
      bank.held.set(head.worker, (bank.held.get(head.worker) ?? 0) + n);
      if (head.n === 0) bank.queue.shift();
      this.#port.send(head.worker, { cmd: CMD, act: 'leaseGrant', key, n });
    }
    if (bank.queue.length > 0) {
      if (!bank.contended) {
        bank.contended = true;
        bank.round++;
        bank.awaiting.clear();
        for (const w of this.#port.workers()) {
          bank.awaiting.add(w);
          this.#port.send(w, { cmd: CMD, act: 'leaseContend', key, on: true, round: bank.round });
        }
      }
      // Every worker has given back what it had idle: the tokens are all in use, so a want that
      // cannot be met now is told so (the worker queues the request or refuses it, as Envoy would).
      if (bank.awaiting.size === 0) {
        for (const w of bank.queue) {
          if (w.told) continue;
          w.told = true;
          this.#port.send(w.worker, { cmd: CMD, act: 'leaseBusy', key, n: w.n });
        }
      }
      return;
    }
    if (bank.contended) {
      bank.contended = false;
      bank.awaiting.clear();
      for (const w of this.#port.workers()) this.#port.send(w, { cmd: CMD, act: 'leaseContend', key, on: false, round: bank.round });
    }
    if (bank.free === bank.limit) this.#banks.delete(key);
  }
}
