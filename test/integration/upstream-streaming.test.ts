// Bodies through the upstream client, both ways, with the real daemon: a 64 MB chunked response
// to a client that stops reading for a while (backpressure end to end, every byte intact), and
// 4 MB uploads with Expect: 100-continue from real curl (100 sent only once the request is routed,
// never forwarded; a refused request is answered before any byte of its body is sent), and
// 1 GiB each way through one worker without its peak RSS moving.
import test from 'ava';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curl } from '../helpers/curl.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { sleep } from '../helpers/http.js';
import { cookieStickyYaml } from '../helpers/istio-yaml.js';

const CHUNK = 64 * 1024;

/** Byte i of every generated body is i % 251, so any lost, repeated or reordered chunk shows. */
function pattern(offset: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (offset + i) % 251;
  return b;
}

function sha256(parts: Buffer[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

interface Upload { bytes: number; sha256: string; expect: string | null }

let backend: http.Server;
let daemon: Daemon;
let dir: string;
const uploads: Upload[] = [];
/** bytes the /big handler has handed to its socket so far */
let bigSent = 0;

test.before(async () => {
  backend = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/big') {
      // chunked (no Content-Length), written as fast as the proxy takes it and no faster
      const total = Number(url.searchParams.get('bytes'));
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          const n = Math.min(CHUNK, total - sent);
          const ok = res.write(pattern(sent, n));
          sent += n;
          bigSent = sent;
          if (!ok) { res.once('drain', pump); return; }
        }
        res.end();
      };
      pump();
      req.resume();
      return;
    }
    if (url.pathname === '/count') {
      let bytes = 0;
      req.on('data', (d: Buffer) => { bytes += d.length; });
      req.on('end', () => res.end(JSON.stringify({ bytes })));
      return;
    }
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const rec: Upload = { bytes: parts.reduce((n, p) => n + p.length, 0), sha256: sha256(parts), expect: (req.headers.expect as string | undefined) ?? null };
      uploads.push(rec);
      const body = JSON.stringify(rec);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  dir = await mkdtemp(join(tmpdir(), 'stickyd-streaming-'));
  await writeFile(join(dir, 'config.yaml'), cookieStickyYaml('bodies', [(backend.address() as AddressInfo).port]));
  daemon = await startDaemon(dir, { workers: 1 });
});

test.after.always(async () => {
  await daemon?.stop();
  backend?.closeAllConnections();
  await new Promise<void>((r) => (backend ? backend.close(() => r()) : r()));
  await rm(dir, { recursive: true, force: true });
});

test.serial('a 64 MB chunked response to a client that pauses reading: the backend is held off; every byte arrives, in order', async (t) => {
  const total = 64 * 1024 * 1024;
  const received: Buffer[] = [];
  let sentWhilePaused = -1;
  const result = await new Promise<{ status: number; encoding: string | undefined; error: string | null }>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: daemon.port, path: `/big?bytes=${total}`, headers: { host: 'demo.example.com' }, agent: false }, (res) => {
      // stop reading after the first chunk: the proxy must hold off the backend, not buffer 16 MB
      res.once('data', (d: Buffer) => {
        received.push(d);
        res.pause();
        setTimeout(() => { sentWhilePaused = bigSent; res.resume(); }, 1_000);
        res.on('data', (more: Buffer) => received.push(more));
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, encoding: res.headers['transfer-encoding'], error: null }));
      res.on('error', (err) => resolve({ status: res.statusCode ?? 0, encoding: undefined, error: err.message }));
    });
    req.on('error', (err) => resolve({ status: 0, encoding: undefined, error: err.message }));
  });
  t.is(result.error, null);
  t.is(result.status, 200);
  // Only socket buffers (two loopback hops) and stream high-water marks may hold data meanwhile.
  t.log(`backend had written ${(sentWhilePaused / 2 ** 20).toFixed(1)} MB after the client paused for 1 s`);
  t.true(sentWhilePaused > 0 && sentWhilePaused < total / 2, `${sentWhilePaused} bytes`);
  t.is(result.encoding, 'chunked', 'a body of unknown length is re-chunked on the client hop');
  t.is(received.reduce((n, b) => n + b.length, 0), total);
  t.is(sha256(received), sha256([pattern(0, total)]));
});

test.serial('a 4 MB upload with Expect: 100-continue (curl) arrives whole; Expect is not forwarded', async (t) => {
  const body = pattern(7, 4 * 1024 * 1024);
  const file = join(dir, 'upload.bin');
  await writeFile(file, body);
  uploads.length = 0;
  const r = await curl(['-H', 'Host: demo.example.com', '-H', 'Expect: 100-continue', '--data-binary', `@${file}`, '-w', '\n%{http_code}', `http://127.0.0.1:${daemon.port}/upload`], 20_000);
  t.is(r.code, 0, r.stderr);
  const [json, status] = r.stdout.split('\n');
  t.is(status, '200');
  const seen = JSON.parse(json!) as Upload;
  t.deepEqual(seen, { bytes: body.length, sha256: sha256([body]), expect: null });
  t.is(uploads.length, 1);
});

test.serial('Expect: 100-continue to a host with no route: 404 before the body, which curl then never sends', async (t) => {
  const file = join(dir, 'upload.bin');
  await writeFile(file, pattern(7, 4 * 1024 * 1024));
  uploads.length = 0;
  const r = await curl(['-H', 'Host: nowhere.example', '-H', 'Expect: 100-continue', '--expect100-timeout', '5', '--data-binary', `@${file}`,
    '-o', '/dev/null', '-D', '-', '-w', '%{http_code} %{size_upload}', `http://127.0.0.1:${daemon.port}/upload`], 20_000);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /404 0$/, 'answered without 100 Continue; not one byte of the body was uploaded');
  t.regex(r.stdout, /\r\nConnection: close\r\n/i, 'the connection closes: the body may follow, unread');
  t.notRegex(r.stdout, /100 Continue/);
  t.is(uploads.length, 0);
});

/** The worker's peak resident set so far (VmHWM), in MiB. */
async function workerPeakMiB(): Promise<number> {
  const status = (await (await fetch(`http://127.0.0.1:${daemon.adminPort}/status`)).json()) as { workers: { pid: number }[] };
  const text = await readFile(`/proc/${status.workers[0]!.pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(text)![1]) / 1024;
}

test.serial('1 GiB up and 1 GiB down through one worker: its peak RSS stays flat', async (t) => {
  const before = await workerPeakMiB();
  const GiB = 1024 ** 3;
  // upload: curl streams stdin as a chunked PUT, never holding it
  const up = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn('sh', ['-c', `head -c ${GiB} /dev/zero | curl -sS -T - -H 'Host: demo.example.com' http://127.0.0.1:${daemon.port}/count`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('exit', (code) => resolve({ code, out }));
  });
  t.is(up.code, 0);
  t.deepEqual(JSON.parse(up.out), { bytes: GiB });
  // download: read and dropped as it comes
  const down = await new Promise<number>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: daemon.port, path: `/big?bytes=${GiB}`, headers: { host: 'demo.example.com' }, agent: false }, (res) => {
      let n = 0;
      res.on('data', (d: Buffer) => { n += d.length; });
      res.on('end', () => resolve(n));
      res.on('error', reject);
    }).on('error', reject);
  });
  t.is(down, GiB);
  const after = await workerPeakMiB();
  t.log(`worker peak RSS ${before.toFixed(1)} MiB before, ${after.toFixed(1)} MiB after 2 GiB through it`);
  t.true(after - before < 64, `peak grew by ${(after - before).toFixed(1)} MiB`);
});

test.serial('a client that leaves mid-download frees the upstream: the next request is answered at once', async (t) => {
  const total = 64 * 1024 * 1024;
  await new Promise<void>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: daemon.port, path: `/big?bytes=${total}`, headers: { host: 'demo.example.com' }, agent: false }, (res) => {
      res.once('data', () => { req.destroy(); resolve(); });
    });
    req.on('error', () => resolve());
  });
  await sleep(100);
  const r = await curl(['-H', 'Host: demo.example.com', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', `http://127.0.0.1:${daemon.port}/big?bytes=1000`]);
  t.is(r.stdout, '200 1000');
  t.false(daemon.stderr.some((l) => l.includes('worker died')));
});
