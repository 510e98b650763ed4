// The answers a route gives without a backend: redirects, direct responses, fault aborts and CORS
// preflights (Envoy's local replies). Route-level response header edits apply to them too.
import type { ServerResponse } from 'node:http';
import type { HeaderOp } from '../../snapshot/types.js';
import { applyHeaderEdits } from './header-edits.js';
import { countStatus, type WorkerStats } from '../telemetry/stats.js';

export interface Answer {
  readonly status: number;
  /** extra response headers as a flat [name, value, ...] list */
  readonly headers: readonly string[];
  readonly body: Buffer | string | null;
  readonly edits: readonly HeaderOp[] | null;
}

export function sendAnswer(res: ServerResponse, a: Answer, requestId: string, close: boolean, stats: WorkerStats): void {
  if (res.headersSent || res.destroyed) return;
  const length = a.body === null ? 0 : Buffer.byteLength(a.body);
  let headers = [...a.headers];
  // Envoy's local replies with a body are text/plain unless the route's edits say otherwise
  if (length > 0) headers.push('Content-Type', 'text/plain');
  headers.push('Content-Length', String(length), 'X-Request-Id', requestId);
  if (a.edits !== null && a.edits.length > 0) headers = applyHeaderEdits(headers, a.edits);
  if (close) headers.push('Connection', 'close');
  countStatus(stats, a.status);
  res.writeHead(a.status, headers);
  res.end(length > 0 ? a.body : undefined);
}
