// One undici Pool per endpoint origin, kept across snapshots so pooled upstream connections
// survive a reload that keeps their endpoint. An endpoint that leaves the config is retired: its
// pool closes gracefully (in-flight requests finish, then its sockets close).
// undici over http.request + Agent: measured in bench/RESULTS.md (the upstream client was most of
// a worker's CPU per request). undici 7 runs on Node 20; 8 needs Node 22.
// A TLS subset (DestinationRule tls) gets pools of its own, keyed by its settings too: a subset
// speaking plaintext to the same endpoint, or one trusting another CA, never shares a connection.
// Without `sni` the SNI is each request's upstream Host (upstream-tls.ts), and undici reconnects
// a client whose servername changes, so such an endpoint holds one pool per servername.
import type { Socket } from 'node:net';
import { buildConnector, Client, errors, Pool, type Dispatcher } from 'undici';
import type { ConnectionPoolPolicy, Endpoint, Snapshot, Subset, UpstreamTls } from '../../snapshot/types.js';
import { buildUpstreamTlsOptions, type UpstreamTlsOptions } from '../../upstream-tls.js';

/** Per-endpoint connection cap, so one slow backend cannot eat every fd (a connectionPool's maxConnections share replaces it). */
export const UPSTREAM_MAX_SOCKETS = 256;

/** Servernames one endpoint keeps pools for; past it the least recently used one is retired. */
export const MAX_SERVERNAMES_PER_ENDPOINT = 32;

/** What the exchange uses of a pool: an undici Pool, a RotatingPool under maxConnectionDuration, or ServernamePools. */
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

/** A pool-like thing the map holds: each closes gracefully or is destroyed at the drain deadline. */
interface Closable extends UpstreamDispatcher {
  close(): Promise<void>;
  destroy(): Promise<void>;
}

interface PoolEntry {
  readonly pool: Closable;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

/** How a dispatcher connects, so a request can also go out on a fresh connection of its own. */
interface Connection {
  readonly origin: string;
  readonly connect: buildConnector.connector;
}
const connections = new WeakMap<object, Connection>();

export class UpstreamPool {
  /**
   * keyed by origin (not endpoint id: an id whose address changed must not reach the old one) and
   * TLS settings for subsets with the daemon's defaults; by subset, origin, TLS settings and pool
   * settings for a subset with its own connectionPool, which gets pools of its own as an Envoy
   * cluster does
   */
  readonly #pools = new Map<string, PoolEntry>();
  /** keys asked for since the last configure(): what the snapshot being built uses */
  #used = new Set<string>();
  /** TLS options per UpstreamTls.key, built once and kept while a subset uses them */
  readonly #tls = new Map<string, UpstreamTlsOptions>();
  #usedTls = new Set<string>();
  #idleTimeoutMs: number;
  #connectTimeoutMs: number;

  constructor(idleTimeoutMs: number, connectTimeoutMs: number) {
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#connectTimeoutMs = connectTimeoutMs;
  }

  /**
   * The pool for `endpoint` of `subset`, created on first use (or when the settings it was built
   * with changed). `connections`: the subset's maxConnections, if set (the breaker bounds what is in use).
   */
  poolFor(endpoint: Endpoint, subset?: Subset, connections?: number): UpstreamDispatcher {
    const tls = subset?.tls ?? null;
    if (tls !== null) this.#usedTls.add(tls.key);
    const origin = originOf(endpoint, tls);
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
      const key = `${poolKey(origin, tls)}\n${subset.name}\n${subset.port}\n${JSON.stringify(spec)}`;
      this.#used.add(key);
      const have = this.#pools.get(key);
      if (have !== undefined) return have.pool;
      const pool = this.#build(origin, spec, tls);
      this.#pools.set(key, { pool, idleTimeoutMs: spec.idleTimeoutMs, connectTimeoutMs: spec.connectTimeoutMs });
      return pool;
    }
    const key = poolKey(origin, tls);
    this.#used.add(key);
    const have = this.#pools.get(key);
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
    const pool = this.#build(origin, spec, tls);
    this.#pools.set(key, { pool, idleTimeoutMs: this.#idleTimeoutMs, connectTimeoutMs: this.#connectTimeoutMs });
    return pool;
  }

  /**
   * A pool for `spec`, over TLS when `tls` is set. A TLS subset without `sni` gets one pool per
   * servername; each has the spec's connection cap, and the subset's circuit breaker (which admits
   * at most maxConnections requests at once in the daemon) still bounds the connections in use.
   */
  #build(origin: string, spec: PoolSpec, tls: UpstreamTls | null): Closable {
    const connect = connectWithin(spec.connectTimeoutMs, spec.keepaliveMs, tls === null ? null : this.#tlsOptions(tls));
    const make = (): Pool | RotatingPool =>
      (spec.maxConnectionDurationMs === null ? buildPool(origin, spec, connect) : new RotatingPool(origin, spec, connect));
    const pool = tls === null || tls.sni !== null ? make() : new ServernamePools(make);
    connections.set(pool, { origin, connect });
    return pool;
  }

  #tlsOptions(tls: UpstreamTls): UpstreamTlsOptions {
    let options = this.#tls.get(tls.key);
    if (options === undefined) {
      options = buildUpstreamTlsOptions(tls);
      this.#tls.set(tls.key, options);
    }
    return options;
  }

  /** Adopt a snapshot's timeouts for pools created from now on. Call before building its runtime. */
  configure(snapshot: Snapshot): void {
    this.#idleTimeoutMs = snapshot.settings.upstreamIdleTimeoutMs;
    this.#connectTimeoutMs = snapshot.settings.upstreamConnectTimeoutMs;
    this.#used = new Set();
    this.#usedTls = new Set();
  }

  /** Retire pools (and TLS contexts) the snapshot built since configure() did not ask for. Call after the swap. */
  retainUsed(): void {
    for (const [key, entry] of this.#pools) {
      if (this.#used.has(key)) continue;
      retire(entry.pool);
      this.#pools.delete(key);
    }
    for (const key of this.#tls.keys()) if (!this.#usedTls.has(key)) this.#tls.delete(key);
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

function buildPool(origin: string, spec: PoolSpec, connect: buildConnector.connector): Pool {
  return new Pool(origin, {
    connections: spec.connections,
    pipelining: 1,
    // Our side closes an idle socket before a backend's own keep-alive timeout is likely to;
    // undici also honours a backend's Keep-Alive: timeout=N hint (minus a second's margin).
    keepAliveTimeout: spec.idleTimeoutMs,
    keepAliveMaxTimeout: spec.idleTimeoutMs,
    // Envoy's max_requests_per_connection. undici's maxRequestsPerClient N lets N + 1 requests
    // through (it marks the connection for close on the request after the Nth), and 0 means no
    // limit, so N is given as N - 1, and 1 as no keep-alive at all (pipelining 0, undici's way).
    ...buildRequestLimitOptions(spec.maxRequestsPerConnection),
    connect,
    // The proxy streams whatever size the backend sends; Node's server parser bounds requests.
    maxResponseSize: -1,
  });
}

/** undici Pool options for http.maxRequestsPerConnection (null: unlimited). */
export function buildRequestLimitOptions(max: number | null): { pipelining?: 0; maxRequestsPerClient?: number } {
  if (max === null) return {};
  return max <= 1 ? { pipelining: 0 } : { maxRequestsPerClient: max - 1 };
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

  constructor(readonly origin: string, readonly spec: PoolSpec, readonly connect: buildConnector.connector) {
    this.#pool = buildPool(origin, spec, connect);
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
    this.#pool = buildPool(this.origin, this.spec, this.connect);
    retire(old);
  }
}

/**
 * One endpoint's pools by servername, for a TLS subset without `sni`: each request's SNI is its
 * upstream Host, and a pool whose clients switched servernames would reconnect on every switch.
 * Bounded: a `*` host lets clients choose the Host, so the least recently used pool is retired.
 */
class ServernamePools {
  readonly #make: () => Pool | RotatingPool;
  readonly #pools = new Map<string, Pool | RotatingPool>();

  constructor(make: () => Pool | RotatingPool) {
    this.#make = make;
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const name = (options as { servername?: string }).servername ?? '';
    let pool = this.#pools.get(name);
    if (pool === undefined) {
      if (this.#pools.size >= MAX_SERVERNAMES_PER_ENDPOINT) {
        const [oldest, old] = this.#pools.entries().next().value as [string, Pool | RotatingPool];
        this.#pools.delete(oldest);
        retire(old);
      }
      pool = this.#make();
    } else {
      this.#pools.delete(name);
    }
    this.#pools.set(name, pool);
    return pool.dispatch(options, handler);
  }

  close(): Promise<void> {
    const done = Promise.all([...this.#pools.values()].map((p) => p.close())).then(() => {});
    this.#pools.clear();
    return done;
  }

  destroy(): Promise<void> {
    const done = Promise.all([...this.#pools.values()].map((p) => p.destroy())).then(() => {});
    this.#pools.clear();
    return done;
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
  /** the endpoint's pool: a TLS one lends its origin and TLS connector */
  pool?: UpstreamDispatcher,
): void {
  const how = (pool === undefined ? undefined : connections.get(pool)) ?? { origin: originOf(endpoint, null), connect: connectWithin(connectTimeoutMs) };
  const client = new Client(how.origin, { connect: how.connect });
  client.dispatch({ ...options, reset: true }, handler);
  client.close().catch(() => {});
}

/**
 * undici's connector with the connect timeout on a native timer: undici's own runs on its
 * 500 ms timer wheel, which turned --connect-timeout 300 into a 504 after ~1,000 ms.
 */
function connectWithin(timeoutMs: number, keepaliveMs: number | null = null, tls: UpstreamTlsOptions | null = null): buildConnector.connector {
  // tcp.tcpKeepalive.time: Node sets the idle time before the first probe (0: the kernel's);
  // undici spreads the TLS options into tls.connect for an https: origin (undici/lib/core/connect.js)
  const connect = buildConnector({
    timeout: 0,
    ...(keepaliveMs === null ? {} : { keepAlive: true, keepAliveInitialDelay: keepaliveMs }),
    ...(tls ?? {}),
  } as buildConnector.BuildOptions);
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

function originOf(endpoint: Endpoint, tls: UpstreamTls | null): string {
  const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
  return `${tls === null ? 'http' : 'https'}://${host}:${endpoint.port}`;
}

function poolKey(origin: string, tls: UpstreamTls | null): string {
  return tls === null ? origin : `${origin}\n${tls.key}`;
}

/** In-flight requests finish on their sockets; then the pool closes them. */
function retire(pool: Closable): void {
  pool.close().catch(() => {});
}
