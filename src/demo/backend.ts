// The seed's demo app (ehazlett/docker-demo) for VMs: GET /ping answers
// {"instance","version","metadata","request_id"} with a fresh UUID per request. /healthz for
// health checks; /echo, /cookies and /slow exist so tests can see what the proxy forwarded.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';

export interface BackendOptions {
  readonly host: string;
  readonly port: number;
  readonly version: string;
  readonly metadata: string;
  readonly instance?: string;
}

export interface Backend {
  readonly server: http.Server;
  readonly port: number;
  readonly instance: string;
  close(): Promise<void>;
}

export async function startBackend(opts: BackendOptions): Promise<Backend> {
  let instance = opts.instance ?? '';
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === '/ping' || path === '/') {
      send(res, 200, JSON.stringify({ instance, version: opts.version, metadata: opts.metadata, request_id: randomUUID() }) + '\n');
    } else if (path === '/healthz') {
      send(res, 200, JSON.stringify({ status: 'ok', instance }) + '\n');
    } else if (path === '/echo') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => send(res, 200, JSON.stringify({
        instance, method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('latin1'),
      }) + '\n'));
      return;
    } else if (path === '/slow') {
      // answers after ?ms= milliseconds (at most 60 s): in-flight requests for drain tests
      const ms = Math.min(60_000, Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? 1000) || 0);
      const timer = setTimeout(() => send(res, 200, JSON.stringify({ instance, version: opts.version, sleptMs: ms }) + '\n'), ms);
      res.once('close', () => clearTimeout(timer));
    } else if (path === '/cookies') {
      res.setHeader('set-cookie', ['app=1; Path=/', 'theme=dark; Path=/; HttpOnly']);
      send(res, 200, JSON.stringify({ instance }) + '\n');
    } else {
      send(res, 404, JSON.stringify({ error: 'not found', instance }) + '\n');
    }
    req.resume();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port }, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  if (!instance) instance = `demo-${opts.version}-${hostname()}-${port}`;
  return {
    server,
    port,
    instance,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function send(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
