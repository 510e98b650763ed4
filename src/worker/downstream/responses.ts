// The short plain-text responses stickyd writes itself (404 no host/route, 502/503/504 upstream
// failures), one line each, from errors.ts codes so the status always matches the catalogue.
import type { ServerResponse } from 'node:http';
import { StickydError, type ErrorCode } from '../../errors.js';
import { countStatus, type WorkerStats } from '../telemetry/stats.js';

const CONTENT_TYPE = 'text/plain; charset=utf-8';

/** Message texts, Envoy-like where Envoy has one ("upstream connect error", "no healthy upstream"). */
export const errorText = {
  noHost: (host: string): string => `no route for host ${host === '' ? '(none)' : host}`,
  noRoute: (host: string, path: string): string => `no route matches ${path} on host ${host === '' ? '(none)' : host}`,
  noHealthy: (subset: string): string => `no healthy endpoint in subset ${subset}`,
  refused: (endpoint: string): string => `upstream connect error: connection refused to ${endpoint}`,
  connectFailed: (endpoint: string, code: string): string => `upstream connect error: ${code} to ${endpoint}`,
  connectTimeout: (endpoint: string): string => `upstream connect error: connect timeout to ${endpoint}`,
  reset: (endpoint: string): string => `upstream reset before response headers from ${endpoint}`,
  routeTimeout: (endpoint: string, ms: number): string => `upstream request timeout after ${ms} ms from ${endpoint}`,
  protocol: (endpoint: string, code: string): string => `upstream protocol error: ${code} from ${endpoint}`,
  // Envoy's local reply for a circuit-breaker overflow, with which limit and where
  overflow: (subset: string, limit: string): string => `upstream connect error or disconnect/reset before headers. reset reason: overflow (${limit} of ${subset})`,
  tls: (endpoint: string, code: string): string => `upstream TLS error: ${code} from ${endpoint}`,
  misdirected: (host: string, server: string): string => `host ${host} is not served by this connection's certificate (${server}): open a connection for it`,
} as const;

export function buildError(code: ErrorCode, message: string, cause?: unknown): StickydError {
  return new StickydError(code, message, cause === undefined ? undefined : { cause });
}

/**
 * `OPTIONS *` asks the server, not a resource, what it supports (RFC 9110 §9.3.7). To the client
 * the gateway is the server, and undici cannot send an asterisk-form target, so stickyd answers.
 */
export function sendServerOptions(res: ServerResponse, requestId: string, close: boolean, stats: WorkerStats): void {
  const headers = ['Allow', 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS', 'Content-Length', '0', 'X-Request-Id', requestId];
  if (close) headers.push('Connection', 'close');
  countStatus(stats, 200);
  res.writeHead(200, headers);
  res.end();
}

/**
 * Writes `err` as `<status> <message>\n`. When the response has already started there is no honest
 * way to report an error: the client connection is destroyed so the client sees truncation.
 */
export function sendError(res: ServerResponse, err: StickydError, requestId: string, close: boolean, stats: WorkerStats, extra?: readonly string[]): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = err.message + '\n';
  const headers = ['Content-Type', CONTENT_TYPE, 'Content-Length', String(Buffer.byteLength(body)), 'X-Request-Id', requestId];
  if (extra !== undefined) headers.push(...extra);
  if (close) headers.push('Connection', 'close');
  countStatus(stats, err.status);
  res.writeHead(err.status, headers);
  res.end(body);
}

/** Gateway tls.httpsRedirect: 301 to the same host and target over https, before any routing. */
export function sendHttpsRedirect(res: ServerResponse, location: string, requestId: string, close: boolean, stats: WorkerStats): void {
  const body = `moved to ${location}\n`;
  const headers = ['Location', location, 'Content-Type', CONTENT_TYPE, 'Content-Length', String(Buffer.byteLength(body)), 'X-Request-Id', requestId];
  if (close) headers.push('Connection', 'close');
  countStatus(stats, 301);
  res.writeHead(301, headers);
  res.end(body);
}
