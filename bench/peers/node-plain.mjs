// Peer: the plain node:http proxy everyone writes first: http.request to the backend through a
// keep-alive Agent, pipe both ways, in node:cluster, cookie-sticky over BACKENDS.
import http from 'node:http';
import { BACKENDS, PORT, pickBackend, runPrimary } from './node-common.mjs';

if (!runPrimary()) {
  const agents = BACKENDS.map(() => new http.Agent({ keepAlive: true, maxSockets: 256 }));
  http.createServer((req, res) => {
    const i = pickBackend(req);
    const up = http.request({ host: '127.0.0.1', port: BACKENDS[i], method: req.method, path: req.url, headers: req.headers, agent: agents[i] }, (upRes) => {
      res.writeHead(upRes.statusCode, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => {
      if (res.headersSent) res.destroy();
      else { res.writeHead(502); res.end(); }
    });
    req.pipe(up);
  }).listen(PORT, '127.0.0.1');
}
