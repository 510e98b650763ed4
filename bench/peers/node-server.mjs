// Reference, not a proxy: a node:http server in node:cluster answering GET /ping itself with the
// seed's JSON. Its CPU per request is what Node's HTTP server side alone costs on the machine, the
// floor under any Node proxy (which adds an HTTP client on top).
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { PORT, runPrimary } from './node-common.mjs';

if (!runPrimary({ needsBackends: false })) {
  http.createServer((req, res) => {
    const body = JSON.stringify({ instance: 'node-server', version: 'v1', metadata: 'production', request_id: randomUUID() });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    req.resume();
  }).listen(PORT, '127.0.0.1');
}
