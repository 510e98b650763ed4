// The admin listener (loopback by default). It runs in the primary, which sees every worker,
// so one request answers for the whole daemon. It never serves proxy traffic.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { log } from '../log.js';

export interface AdminRoutes {
  /** path -> handler returning [status, content-type, body] */
  readonly [path: string]: () => Promise<[number, string, string]> | [number, string, string];
}

export async function startAdmin(host: string, port: number, routes: AdminRoutes): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const handler = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (req.method !== 'GET' && req.method !== 'HEAD') { reply(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n'); return; }
    if (!handler) { reply(res, 404, 'text/plain; charset=utf-8', `no admin endpoint ${path}\n`); return; }
    Promise.resolve()
      .then(handler)
      .then(([status, type, body]) => reply(res, status, type, body))
      .catch((err: unknown) => {
        log('error', 'admin handler failed', { path, err });
        reply(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => { server.off('error', reject); resolve(); });
  });
  return { server, port: (server.address() as AddressInfo).port };
}

function reply(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}
