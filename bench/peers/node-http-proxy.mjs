// Peer: node-http-proxy (npm http-proxy) in node:cluster, cookie-sticky over BACKENDS, with a
// keep-alive Agent per backend. Run: PORT=8000 BACKENDS=9001,9002,9003 node node-http-proxy.mjs
import http from 'node:http';
import httpProxy from 'http-proxy';
import { BACKENDS, PORT, pickBackend, runPrimary } from './node-common.mjs';

if (!runPrimary()) {
  const agents = BACKENDS.map(() => new http.Agent({ keepAlive: true, maxSockets: 256 }));
  const targets = BACKENDS.map((port) => ({ host: '127.0.0.1', port }));
  const proxy = httpProxy.createProxyServer({});
  proxy.on('error', (_err, _req, res) => {
    if (res.headersSent) res.destroy();
    else { res.writeHead(502); res.end(); }
  });
  http.createServer((req, res) => {
    const i = pickBackend(req);
    proxy.web(req, res, { target: targets[i], agent: agents[i] });
  }).listen(PORT, '127.0.0.1');
}
