// DestinationRule trafficPolicy.connectionPool (Istio's circuit breakers) -> ConnectionPoolPolicy.
// Istio hands these to Envoy as cluster circuit breakers and HTTP protocol options
// (pilot's applyConnectionPool); stickyd enforces them in the worker (worker/upstream/
// circuit-breaker.ts, pool.ts). Each field the README's connectionPool table lists is read here,
// and each one stickyd does not implement is an error or a warning, as that table says.
import type { ConnectionPoolPolicy } from '../../snapshot/types.js';
import { at, type IssueSink, type Place } from '../issues.js';
import { readBool, readInt, readObject, readString } from '../fields.js';
import { readDurationMs } from '../duration.js';

/** Istio's int32 fields */
const INT32_MAX = 2_147_483_647;
/** Node timers hold at most 2^31-1 ms; Envoy's "0s disables the idle timeout" maps onto it */
const MAX_TIMER_MS = 2_147_483_647;

const POOL_FIELDS = { known: ['tcp', 'http'] };
const TCP_FIELDS = { known: ['maxConnections', 'connectTimeout', 'tcpKeepalive', 'maxConnectionDuration', 'idleTimeout'] };
const KEEPALIVE_FIELDS = {
  known: ['time'],
  ignored: {
    probes: 'ignored: Node sets only the idle time before the first probe; the kernel\'s probe count applies',
    interval: 'ignored: Node sets only the idle time before the first probe; the kernel\'s probe interval applies',
  },
};
const HTTP_FIELDS = {
  known: ['http1MaxPendingRequests', 'http2MaxRequests', 'maxRequestsPerConnection', 'maxRetries', 'idleTimeout', 'h2UpgradePolicy', 'useClientProtocol'],
  ignored: {
    // pilot applies it only to a cluster that speaks HTTP/2 upstream; stickyd's never does
    maxConcurrentStreams: 'ignored: it limits HTTP/2 upstream connections, and stickyd speaks HTTP/1.1 to backends (Istio ignores it for an HTTP/1.1 destination too)',
  },
};

export function readConnectionPool(sink: IssueSink, place: Place, value: unknown): ConnectionPoolPolicy | null {
  const cp = readObject(sink, place, value, POOL_FIELDS);
  if (cp === null) return null;
  const tcp = readObject(sink, at(place, 'tcp'), cp.tcp, TCP_FIELDS) ?? {};
  const http = readObject(sink, at(place, 'http'), cp.http, HTTP_FIELDS) ?? {};
  const tp = at(place, 'tcp');
  const hp = at(place, 'http');
  readUpgradePolicy(sink, at(hp, 'h2UpgradePolicy'), http.h2UpgradePolicy);
  if (readBool(sink, at(hp, 'useClientProtocol'), http.useClientProtocol) === true) {
    sink.error(at(hp, 'useClientProtocol'), 'stickyd speaks HTTP/1.1 to every backend: an HTTP/2 client\'s requests would not reach the backend over HTTP/2 as Istio sends them, so it is refused (remove it or set false)');
  }
  const maxRetries = readLimit(sink, at(hp, 'maxRetries'), http.maxRetries);
  if (http.maxRetries === 0) sink.warn(at(hp, 'maxRetries'), '0 means unset in Istio (no limit on retries), not "no retries": use VirtualService retries.attempts: 0 to turn retries off');
  const httpIdle = readDuration(sink, at(hp, 'idleTimeout'), http.idleTimeout);
  const tcpIdle = readDuration(sink, at(tp, 'idleTimeout'), tcp.idleTimeout);
  const duration = readDuration(sink, at(tp, 'maxConnectionDuration'), tcp.maxConnectionDuration);
  return {
    maxConnections: readLimit(sink, at(tp, 'maxConnections'), tcp.maxConnections),
    maxPendingRequests: readLimit(sink, at(hp, 'http1MaxPendingRequests'), http.http1MaxPendingRequests),
    maxRequests: readLimit(sink, at(hp, 'http2MaxRequests'), http.http2MaxRequests),
    maxRetries,
    maxRequestsPerConnection: readLimit(sink, at(hp, 'maxRequestsPerConnection'), http.maxRequestsPerConnection),
    connectTimeoutMs: readConnectTimeout(sink, at(tp, 'connectTimeout'), tcp.connectTimeout),
    // Istio: http.idleTimeout, and tcp.idleTimeout only when the former is unset; 0s disables it (Envoy)
    idleTimeoutMs: httpIdle ?? tcpIdle,
    // Envoy: a max_connection_duration of 0 means none
    maxConnectionDurationMs: duration === 0 || duration === MAX_TIMER_MS ? null : duration,
    tcpKeepaliveMs: readKeepalive(sink, at(tp, 'tcpKeepalive'), tcp.tcpKeepalive),
  };
}

/** An int32 limit; 0 reads as unset, as pilot does ("if settings.Tcp.MaxConnections > 0"). */
function readLimit(sink: IssueSink, place: Place, v: unknown): number | null {
  const n = readInt(sink, place, v, 0, INT32_MAX);
  return n === null || n === 0 ? null : n;
}

/** A non-negative duration in whole ms (rounded up); 0 becomes "never" (the longest timer). */
function readDuration(sink: IssueSink, place: Place, v: unknown): number | null {
  const ms = readDurationMs(sink, place, v);
  if (ms === null) return null;
  if (ms === 0) return MAX_TIMER_MS;
  return Math.min(MAX_TIMER_MS, Math.ceil(ms));
}

function readConnectTimeout(sink: IssueSink, place: Place, v: unknown): number | null {
  const ms = readDurationMs(sink, place, v);
  if (ms === null) return null;
  if (ms < 1) {
    sink.error(place, 'must be at least 1ms (Envoy refuses a connect timeout of 0)');
    return null;
  }
  return Math.min(MAX_TIMER_MS, Math.ceil(ms));
}

function readKeepalive(sink: IssueSink, place: Place, v: unknown): number | null {
  const ka = readObject(sink, place, v, KEEPALIVE_FIELDS);
  if (ka === null) return null;
  const time = readDurationMs(sink, at(place, 'time'), ka.time);
  return time === null ? 0 : Math.min(MAX_TIMER_MS, Math.ceil(time));
}

function readUpgradePolicy(sink: IssueSink, place: Place, v: unknown): void {
  const policy = readString(sink, place, v);
  if (policy === null || policy === 'DEFAULT' || policy === 'DO_NOT_UPGRADE') return;
  if (policy === 'UPGRADE') {
    sink.error(place, 'UPGRADE sends HTTP/2 to the backend; stickyd speaks HTTP/1.1 to backends, so it is refused (use DEFAULT or DO_NOT_UPGRADE)');
    return;
  }
  sink.error(place, `unknown h2UpgradePolicy "${policy}": use DEFAULT, DO_NOT_UPGRADE or UPGRADE`);
}
