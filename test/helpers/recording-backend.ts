// A backend that records what reached it: every request head, and which requests arrived whole.
// Hostile-input tests count these to prove a refused request never reached a backend.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cookieStickyYaml } from './istio-yaml.js';

export interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: readonly string[];
  readonly headers: http.IncomingHttpHeaders;
  body: string;
  complete: boolean;
}

export interface RecordingBackend {
  readonly port: number;
  readonly requests: Recorded[];
  /** set to make every response carry these extra headers (raw name/value pairs) */
  responseHeaders: string[];
  /** set to answer every request this many ms after it arrived whole (0: at once) */
  delayMs: number;
  reset(): void;
  close(): Promise<void>;
}

export async function startRecordingBackend(): Promise<RecordingBackend> {
  const requests: Recorded[] = [];
  const state = { responseHeaders: [] as string[], delayMs: 0 };
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const rec: Recorded = { method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, headers: req.headers, body: '', complete: false };
    requests.push(rec);
    req.setEncoding('latin1');
    req.on('data', (d: string) => { rec.body += d; });
    req.on('error', () => {});
    req.on('end', () => {
      rec.complete = true;
      const body = JSON.stringify({ url: rec.url, method: rec.method }) + '\n';
      const headers = ['Content-Type', 'application/json', 'Content-Length', String(Buffer.byteLength(body)), ...state.responseHeaders];
      if (state.delayMs === 0) {
        res.writeHead(200, headers);
        res.end(body);
        return;
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (res.destroyed) return;
        res.writeHead(200, headers);
        res.end(body);
      }, state.delayMs);
      timers.add(timer);
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    get responseHeaders() { return state.responseHeaders; },
    set responseHeaders(v: string[]) { state.responseHeaders = v; },
    get delayMs() { return state.delayMs; },
    set delayMs(v: number) { state.delayMs = v; },
    reset() { requests.length = 0; state.responseHeaders = []; state.delayMs = 0; },
    close: () => new Promise((resolve) => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** One Gateway on "*", VirtualService demo.example.com -> `rec` with a `session` cookie (60 s). */
export function recordingConfig(ports: readonly number[], extraRoute = ''): string {
  return cookieStickyYaml('rec', ports, { route: extraRoute });
}
