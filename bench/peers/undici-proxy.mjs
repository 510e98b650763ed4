// Peer: an undici Pool.stream proxy (undici 7 on Node 20): one Pool per backend, the response
// streamed straight into the ServerResponse, in node:cluster, cookie-sticky over BACKENDS.
import http from 'node:http';
import { Pool } from 'undici';
import { BACKENDS, PORT, pickBackend, runPrimary } from './node-common.mjs';

/** undici refuses these request headers (connection-specific); the response's are hop-by-hop too. */
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'expect']);

function endToEnd(headers) {
  const out = {};
  for (const name in headers) if (!HOP.has(name)) out[name] = headers[name];
  return out;
}

if (!runPrimary()) {
  const pools = BACKENDS.map((port) => new Pool(`http://127.0.0.1:${port}`, { connections: 256, pipelining: 1 }));
  http.createServer((req, res) => {
    const pool = pools[pickBackend(req)];
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool.stream(
      { path: req.url, method: req.method, headers: endToEnd(req.headers), body: hasBody ? req : null, opaque: res },
      ({ statusCode, headers, opaque }) => {
        opaque.writeHead(statusCode, endToEnd(headers));
        return opaque;
      },
      (err) => {
        if (err === null) return;
        if (res.headersSent) res.destroy();
        else { res.writeHead(502); res.end(); }
      },
    );
  }).listen(PORT, '127.0.0.1');
}
