// Attempt (issue 16: "raw header arrays instead of header objects"): what the request's header
// object costs a node:http server, against one pass over rawHeaders for the headers stickyd reads.
// The bench's request (wrk-sticky.lua: Host and a session Cookie) is sent over keep-alive
// connections to an in-process server; the handler times, on each request, the first read of
// req.headers (node:http builds the object then) or the raw scan, and an empty timed section
// (the clock's own cost, subtracted). An upper bound on what replacing the object could save.
// Usage: node --import tsx bench/http/attempt-headers.ts [--requests 200000] [--rounds 5]
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } } });
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);
const CONNECTIONS = 10;
/** the names stickyd's request path reads (worker/handle-request.ts, routing/, upstream/proxy.ts) */
const WANTED = ['host', 'cookie', 'expect', 'x-request-id', 'upgrade', 'transfer-encoding', 'content-length', 'connection'];

type Mode = 'object' | 'raw' | 'empty';
let mode: Mode = 'empty';
let total = 0;
let count = 0;
let sink = 0;

function scanRaw(raw: readonly string[]): number {
  let found = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // node:http keeps the client's case: compare without allocating a lower-cased copy
    for (let j = 0; j < WANTED.length; j++) {
      if (name.length === WANTED[j]!.length && name.toLowerCase() === WANTED[j]) { found += raw[i + 1]!.length; break; }
    }
  }
  return found;
}

const server = http.createServer((req, res) => {
  const t0 = performance.now();
  if (mode === 'object') {
    const h = req.headers;
    sink += (h.host?.length ?? 0) + (h.cookie?.length ?? 0) + (h.expect === undefined ? 0 : 1) + (h['x-request-id'] === undefined ? 0 : 1) +
      (h.upgrade === undefined ? 0 : 1) + (h['transfer-encoding'] === undefined ? 0 : 1) + (h['content-length'] === undefined ? 0 : 1) + (h.connection === undefined ? 0 : 1);
  } else if (mode === 'raw') sink += scanRaw(req.rawHeaders);
  total += performance.now() - t0;
  count++;
  res.writeHead(200, { 'content-length': '3' });
  res.end('ok\n');
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;

/** REQUESTS requests over CONNECTIONS keep-alive connections, one in flight on each. */
async function drive(n: number): Promise<void> {
  let left = n;
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, c) => new Promise<void>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const req = Buffer.from(`GET /ping HTTP/1.1\r\nHost: demo.example.com\r\nCookie: session=user-${c}-0123456789abcdef\r\n\r\n`);
    let seen = 0;
    const next = (): void => {
      if (left <= 0) { s.end(); resolve(); return; }
      left--;
      s.write(req);
    };
    s.on('data', (d: Buffer) => {
      // one short response per request: count its status lines
      for (let i = d.indexOf('HTTP/1.1 '); i !== -1; i = d.indexOf('HTTP/1.1 ', i + 1)) seen++;
      while (seen > 0) { seen--; next(); }
    });
    s.on('error', reject);
    s.on('connect', next);
  })));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const perMode: Record<Mode, number[]> = { object: [], raw: [], empty: [] };
await drive(20_000); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const m of ['empty', 'object', 'raw'] as const) {
    mode = m;
    total = 0;
    count = 0;
    await drive(REQUESTS);
    perMode[m].push((total / count) * 1e6);
  }
}
server.close();
const empty = median(perMode.empty);
const line = (m: Mode): string => `${(median(perMode[m]) - empty).toFixed(0)} ns (rounds ${perMode[m].map((x) => (x - empty).toFixed(0)).join(', ')})`;
console.log(`node ${process.version}, ${ROUNDS} rounds x ${REQUESTS.toLocaleString('en')} requests, clock cost ${empty.toFixed(0)} ns subtracted`);
console.log(`req.headers built and read (8 names): ${line('object')}`);
console.log(`one pass over rawHeaders for the same 8 names: ${line('raw')}`);
if (sink === -1) console.log(sink);
