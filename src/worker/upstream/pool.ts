// One undici Pool per endpoint origin, kept across snapshots so pooled upstream connections
// survive a reload that keeps their endpoint. An endpoint that leaves the config is retired: its
// pool closes gracefully (in-flight requests finish, then its sockets close).
// undici over http.request + Agent: measured in bench/RESULTS.md (the upstream client was most of
// a worker's CPU per request). undici 7 runs on Node 20; 8 needs Node 22.
import type { Socket } from 'node:net';
import { buildConnector, Client, errors, Pool, type Dispatcher } from 'undici';
import type { ConnectionPoolPolicy, Endpoint, Snapshot, Subset } from '../../snapshot/types.js';

/** Per-endpoint connection cap, so one slow backend cannot eat every fd (a connectionPool's maxConnections share replaces it). */
export const UPSTREAM_MAX_SOCKETS = 256;

/** What the exchange uses of a pool: an undici Pool, or a RotatingPool under maxConnectionDuration. */
export type UpstreamDispatcher = Pick<Dispatcher, 'dispatch'>;

/** How one pool's connections are made and kept. */
interface PoolSpec {
  readonly connections: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** http.maxRequestsPerConnection; null: unlimited */
  readonly maxRequestsPerConnection: number | null;
  /** tcp.maxConnectionDuration; null: unlimited */
  readonly maxConnectionDurationMs: number | null;
  /** tcp.tcpKeepalive; null: undici's default (60 s) */
  readonly keepaliveMs: number | null;
}

interface PoolEntry {
  readonly pool: Pool | RotatingPool;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

export class UpstreamPool {
  /**
   * keyed by origin (not endpoint id: an id whose address changed must not reach the old one) for
   * subsets with the daemon's defaults; by subset, origin and settings for a subset with its own
   * connectionPool, which gets pools of its own as an Envoy cluster does
   */
  readonly #pools = new Map<string, PoolEntry>();
  /** keys asked for since the last configure(): what the snapshot being built uses */
  #used = new Set<string>();
  #idleTimeoutMs: number;
  #connectTimeoutMs: number;

  constructor(idleTimeoutMs: number, connectTimeoutMs: number) {
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#connectTimeoutMs = connectTimeoutMs;
  }

  /**
   * The pool for `endpoint` of `subset`, created on first use (or when the settings it was built
   * with changed). `connections`: this worker's share of the subset's maxConnections, if set.
   */
  poolFor(endpoint: Endpoint, subset?: Subset, connections?: number): UpstreamDispatcher {
    const origin = originOf(endpoint);
    const cp = subset?.connectionPool ?? null;
    if (subset !== undefined && cp !== null && hasConnectionSettings(cp)) {
      const spec: PoolSpec = {
        connections: connections !== undefined && Number.isFinite(connections) ? connections : UPSTREAM_MAX_SOCKETS,
        idleTimeoutMs: cp.idleTimeoutMs ?? this.#idleTimeoutMs,
        connectTimeoutMs: cp.connectTimeoutMs ?? this.#connectTimeoutMs,
        maxRequestsPerConnection: cp.maxRequestsPerConnection,
        maxConnectionDurationMs: cp.maxConnectionDurationMs,
        keepaliveMs: cp.tcpKeepaliveMs,
      };
      const key = `${origin}\n${subset.name}\n${subset.port}\n${JSON.stringify(spec)}`;
      this.#used.add(key);
      const have = this.#pools.get(key);
      if (have !== undefined) return have.pool;
      const pool = spec.maxConnectionDurationMs === null ? buildPool(origin, spec) : new RotatingPool(origin, spec);
      this.#pools.set(key, { pool, idleTimeoutMs: spec.idleTimeoutMs, connectTimeoutMs: spec.connectTimeoutMs });
      return pool;
    }
    this.#used.add(origin);
    const have = this.#pools.get(origin);
    if (have !== undefined && have.idleTimeoutMs === this.#idleTimeoutMs && have.connectTimeoutMs === this.#connectTimeoutMs) return have.pool;
    if (have !== undefined) retire(have.pool);
    const spec: PoolSpec = {
      connections: UPSTREAM_MAX_SOCKETS,
      idleTimeoutMs: this.#idleTimeoutMs,
      connectTimeoutMs: this.#connectTimeoutMs,
      maxRequestsPerConnection: null,
      maxConnectionDurationMs: null,
      keepaliveMs: null,
    };
    const pool = buildPool(origin, spec);
    this.#pools.set(origin, { pool, idleTimeoutMs: this.#idleTimeoutMs, connectTimeoutMs: this.#connectTimeoutMs });
    return pool;
  }

  /** Adopt a snapshot's timeouts for pools created from now on. Call before building its runtime. */
  configure(snapshot: Snapshot): void {
    this.#idleTimeoutMs = snapshot.settings.upstreamIdleTimeoutMs;
    this.#connectTimeoutMs = snapshot.settings.upstreamConnectTimeoutMs;
    this.#used = new Set();
  }

  /** Retire pools the snapshot built since configure() did not ask for. Call after the swap. */
  retainUsed(): void {
    for (const [key, entry] of this.#pools) {
      if (this.#used.has(key)) continue;
      retire(entry.pool);
      this.#pools.delete(key);
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

/** Whether a connectionPool changes how connections are made or kept (else the shared per-origin pools serve). */
function hasConnectionSettings(cp: ConnectionPoolPolicy): boolean {
  return cp.maxConnections !== null || cp.connectTimeoutMs !== null || cp.idleTimeoutMs !== null ||
    cp.maxRequestsPerConnection !== null || cp.maxConnectionDurationMs !== null || cp.tcpKeepaliveMs !== null;
}

function buildPool(origin: string, spec: PoolSpec): Pool {
  return new Pool(origin, {
    connections: spec.connections,
    pipelining: 1,
    // Our side closes an idle socket before a backend's own keep-alive timeout is likely to;
    // undici also honours a backend's Keep-Alive: timeout=N hint (minus a second's margin).
    keepAliveTimeout: spec.idleTimeoutMs,
    keepAliveMaxTimeout: spec.idleTimeoutMs,
    // Envoy's max_requests_per_connection: undici closes the connection after this many requests
    ...(spec.maxRequestsPerConnection === null ? {} : { maxRequestsPerClient: spec.maxRequestsPerConnection }),
    connect: connectWithin(spec.connectTimeoutMs, spec.keepaliveMs),
    // The proxy streams whatever size the backend sends; Node's server parser bounds requests.
    maxResponseSize: -1,
  });
}

/**
 * tcp.maxConnectionDuration: undici cannot age one connection, so the whole pool is replaced every
 * `maxConnectionDurationMs`: new requests go to a fresh pool and the old one closes gracefully
 * (its requests in flight finish first). No connection outlives the duration by more than its
 * last request; one opened late in a period lives shorter (README, Circuit breakers).
 */
export class RotatingPool {
  #pool: Pool;
  readonly #timer: NodeJS.Timeout;

  constructor(readonly origin: string, readonly spec: PoolSpec) {
    this.#pool = buildPool(origin, spec);
    this.#timer = setInterval(() => this.#rotate(), spec.maxConnectionDurationMs ?? 0);
    this.#timer.unref();
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.#pool.dispatch(options, handler);
  }

  close(): Promise<void> {
    clearInterval(this.#timer);
    return this.#pool.close();
  }

  destroy(): Promise<void> {
    clearInterval(this.#timer);
    return this.#pool.destroy();
  }

  #rotate(): void {
    const old = this.#pool;
    this.#pool = buildPool(this.origin, this.spec);
    retire(old);
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
function connectWithin(timeoutMs: number, keepaliveMs: number | null = null): buildConnector.connector {
  // tcp.tcpKeepalive.time: Node sets the idle time before the first probe (0: the kernel's)
  const connect = buildConnector(keepaliveMs === null ? { timeout: 0 } : { timeout: 0, keepAlive: true, keepAliveInitialDelay: keepaliveMs });
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
function retire(pool: Pool | RotatingPool): void {
  pool.close().catch(() => {});
}
