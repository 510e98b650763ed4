// The load generators, driven the same way: keep-alive connections to a loopback URL, every
// request carrying a `session` cookie taken in turn from a fixed list (or none, to measure
// minting), one sample per run. wrk (C, one thread) is the lighter client and the headline;
// autocannon (Node, in this process) is the cross-check that needs nothing installed; rate-load
// (C, bench/http/rate-load.c) offers a fixed request rate and measures latency from when each
// request was due.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Tool } from './args.js';
import { rateLoadBinary } from './rate-load.js';

export interface LoadSpec {
  readonly url: string;
  readonly host: string;
  readonly connections: number;
  readonly durationSec: number;
  /** cookie values to cycle through; null sends no cookie */
  readonly cookies: readonly string[] | null;
  /** the same values one per line, for wrk's Lua script; null with cookies null */
  readonly cookieFile: string | null;
  /** total requests per second to offer (the rate tool) */
  readonly rate?: number | null;
  /** run wrk under `taskset -c <cpus>` (--pin) */
  readonly cpus?: string | null;
}

export interface LoadSample {
  readonly tool: Tool;
  readonly requests: number;
  readonly durationSec: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** p99.9 (wrk and the rate tool; autocannon's whole-millisecond histogram too) */
  readonly p999Ms: number;
  /** the rate tool: the rate offered, and the most requests that were due but waiting for a free connection */
  readonly offered?: number;
  readonly maxQueued?: number;
  /** socket errors and timeouts */
  readonly errors: number;
  /** responses with a status >= 400 (wrk) or outside 2xx (autocannon) */
  readonly non2xx: number;
}

const WRK_SCRIPT = fileURLToPath(new URL('./wrk-sticky.lua', import.meta.url));
const running = new Set<ChildProcess>();

/** Session values shaped like stickyd's minted ones (32 hex digits), fixed so runs are comparable. */
export function buildCookies(n: number): string[] {
  const out: string[] = [];
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    let v = '';
    for (let w = 0; w < 4; w++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; // xorshift32
      v += x.toString(16).padStart(8, '0');
    }
    out.push(v);
  }
  return out;
}

export function assertLoopback(url: string): void {
  if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url)) throw new Error(`benchmarks target 127.0.0.1 only, not ${url}`);
}

export async function runLoad(tool: Tool, wrkBin: string | null, spec: LoadSpec): Promise<LoadSample> {
  assertLoopback(spec.url);
  if (tool === 'wrk') {
    if (wrkBin === null) throw new Error('wrk is not installed');
    return runWrk(wrkBin, spec);
  }
  if (tool === 'rate' || tool === 'rate-own') return { ...(await runRate(spec)), tool };
  return runAutocannon(spec);
}

function spawnTracked(bin: string, args: string[], cpus: string | null | undefined): Promise<{ code: number | null; out: string }> {
  const proc = cpus == null ? spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn('taskset', ['-c', cpus, bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  return new Promise((resolve) => proc.once('close', (code) => { running.delete(proc); resolve({ code, out }); }));
}

async function runRate(spec: LoadSpec): Promise<LoadSample> {
  if (spec.rate == null) throw new Error('the rate tool needs a rate');
  const port = /:(\d+)\//.exec(spec.url)![1]!;
  const path = new URL(spec.url).pathname;
  const { code, out } = await spawnTracked(rateLoadBinary(), [port, String(spec.rate), String(spec.durationSec), String(spec.connections), spec.host, path, spec.cookieFile ?? ''], spec.cpus);
  const line = out.split('\n').find((l) => l.startsWith('RATE_JSON '));
  if (code !== 0 || line === undefined) throw new Error(`rate-load exited ${code}: ${out.trim()}`);
  const r = JSON.parse(line.slice('RATE_JSON '.length)) as Record<string, number>;
  return {
    tool: 'rate', requests: r.requests!, durationSec: r.seconds!, rps: r.requests! / r.seconds!,
    p50Ms: r.p50Us! / 1000, p99Ms: r.p99Us! / 1000, p999Ms: r.p999Us! / 1000,
    offered: r.rate!, maxQueued: r.maxQueued!,
    errors: r.errors!, non2xx: r.non2xx!,
  };
}

async function runWrk(bin: string, spec: LoadSpec): Promise<LoadSample> {
  const args = ['-t1', `-c${spec.connections}`, `-d${spec.durationSec}s`, '--timeout', '10s', '-s', WRK_SCRIPT, spec.url, '--', spec.cookieFile ?? '', spec.host];
  const { code, out } = await spawnTracked(bin, args, spec.cpus);
  const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (code !== 0 || line === undefined) throw new Error(`wrk exited ${code}: ${out.trim()}`);
  const r = JSON.parse(line.slice('BENCH_JSON '.length)) as Record<string, number>;
  const durationSec = r.durationUs! / 1e6;
  return {
    tool: 'wrk', requests: r.requests!, durationSec, rps: r.requests! / durationSec,
    p50Ms: r.p50Us! / 1000, p99Ms: r.p99Us! / 1000, p999Ms: r.p999Us! / 1000,
    errors: r.connect! + r.read! + r.write! + r.timeout!, non2xx: r.status!,
  };
}

async function runAutocannon(spec: LoadSpec): Promise<LoadSample> {
  // a bench-only dependency (bench/package.json), loaded only when autocannon measures
  const { default: autocannon } = await import('autocannon');
  const headers = { host: spec.host };
  // Requests without setupRequest are serialised once per connection and replayed in turn.
  const requests = spec.cookies === null ? undefined : spec.cookies.map((v) => ({ method: 'GET' as const, headers: { ...headers, cookie: `session=${v}` } }));
  const r = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationSec,
    headers,
    timeout: 10,
    ...(requests ? { requests } : {}),
  });
  const total = r.requests.total;
  return {
    tool: 'autocannon', requests: total, durationSec: r.duration, rps: total / r.duration,
    p50Ms: r.latency.p50, p99Ms: r.latency.p99, p999Ms: r.latency.p99_9,
    errors: r.errors + r.timeouts, non2xx: r.non2xx,
  };
}

/** Stops a wrk or rate-load still running (Ctrl-C, errors); autocannon stops with this process. */
export function stopLoad(): void {
  for (const p of running) p.kill('SIGKILL');
}
