// One undici Pool per endpoint origin, kept across snapshots so pooled upstream connections
// survive a reload that keeps their endpoint. An endpoint that leaves the config is retired: its
// pool closes gracefully (in-flight requests finish, then its sockets close).
// undici over http.request + Agent: measured in bench/RESULTS.md (the upstream client was most of
// a worker's CPU per request). undici 7 runs on Node 20; 8 needs Node 22.
import type { Socket } from 'node:net';
import { buildConnector, Client, errors, Pool, type Dispatcher } from 'undici';
import type { Endpoint, Snapshot } from '../../snapshot/types.js';

/** Per-endpoint connection cap, so one slow backend cannot eat every fd. */
export const UPSTREAM_MAX_SOCKETS = 256;

interface PoolEntry {
  readonly pool: Pool;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

export class UpstreamPool {
  /** keyed by origin, not endpoint id: an id whose address changed must not reach the old one */
  readonly #pools = new Map<string, PoolEntry>();
  #idleTimeoutMs: number;
  #connectTimeoutMs: number;

  constructor(idleTimeoutMs: number, connectTimeoutMs: number) {
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#connectTimeoutMs = connectTimeoutMs;
  }

  /** The pool for `endpoint`, created on first use (or when the timeouts it was built with changed). */
  poolFor(endpoint: Endpoint): Pool {
    const origin = originOf(endpoint);
    const have = this.#pools.get(origin);
    if (have !== undefined && have.idleTimeoutMs === this.#idleTimeoutMs && have.connectTimeoutMs === this.#connectTimeoutMs) return have.pool;
    if (have !== undefined) retire(have.pool);
    const pool = new Pool(origin, {
      connections: UPSTREAM_MAX_SOCKETS,
      pipelining: 1,
      // Our side closes an idle socket before a backend's own keep-alive timeout is likely to;
      // undici also honours a backend's Keep-Alive: timeout=N hint (minus a second's margin).
      keepAliveTimeout: this.#idleTimeoutMs,
      keepAliveMaxTimeout: this.#idleTimeoutMs,
      connect: connectWithin(this.#connectTimeoutMs),
      // The proxy streams whatever size the backend sends; Node's server parser bounds requests.
      maxResponseSize: -1,
    });
    this.#pools.set(origin, { pool, idleTimeoutMs: this.#idleTimeoutMs, connectTimeoutMs: this.#connectTimeoutMs });
    return pool;
  }

  /** Adopt a snapshot's timeouts for pools created from now on. Call before building its runtime. */
  configure(snapshot: Snapshot): void {
    this.#idleTimeoutMs = snapshot.settings.upstreamIdleTimeoutMs;
    this.#connectTimeoutMs = snapshot.settings.upstreamConnectTimeoutMs;
  }

  /** Retire pools whose origin is in none of `snapshot`'s subsets. Call after the swap. */
  retainOnly(snapshot: Snapshot): void {
    const keep = new Set<string>();
    for (const s of snapshot.subsets) for (const e of s.endpoints) keep.add(originOf(e));
    for (const [origin, entry] of this.#pools) {
      if (keep.has(origin)) continue;
      retire(entry.pool);
      this.#pools.delete(origin);
    }
  }

  /** Origins with a live pool (stats, tests). */
  get size(): number {
    return this.#pools.size;
  }

  /** Drop every pooled socket; in-flight requests are cut. Used at the drain deadline. */
  destroyAll(): void {
    for (const entry of this.#pools.values()) entry.pool.destroy().catch(() => {});
    this.#pools.clear();
  }
}

/**
 * Sends one request on a connection of its own, closed after it (Node's `agent: false`): the
 * keep-alive race replay must not land on another pooled socket the backend may be closing too.
 */
export function dispatchOnFreshConnection(
  endpoint: Endpoint,
  connectTimeoutMs: number,
  options: Dispatcher.DispatchOptions,
  handler: Dispatcher.DispatchHandler,
): void {
  const client = new Client(originOf(endpoint), { connect: connectWithin(connectTimeoutMs) });
  client.dispatch({ ...options, reset: true }, handler);
  client.close().catch(() => {});
}

/**
 * undici's connector with the connect timeout on a native timer: undici's own runs on its
 * 500 ms timer wheel, which turned --connect-timeout 300 into a 504 after ~1,000 ms.
 */
function connectWithin(timeoutMs: number): buildConnector.connector {
  const connect = buildConnector({ timeout: 0 });
  return (options, callback) => {
    let timer: NodeJS.Timeout | null = null;
    // buildConnector's connector returns the socket it opened (its type says void).
    const socket = (connect as (o: buildConnector.Options, cb: buildConnector.Callback) => Socket)(options, (...args) => {
      if (timer !== null) clearTimeout(timer);
      callback(...args);
    });
    timer = setTimeout(() => socket.destroy(new errors.ConnectTimeoutError(`connect timeout after ${timeoutMs} ms`)), timeoutMs);
  };
}

function originOf(endpoint: Endpoint): string {
  const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
  return `http://${host}:${endpoint.port}`;
}

/** In-flight requests finish on their sockets; then the pool closes them. */
function retire(pool: Pool): void {
  pool.close().catch(() => {});
}
