// The two load generators, driven the same way: keep-alive connections to a loopback URL, every
// request carrying a `session` cookie taken in turn from a fixed list (or none, to measure
// minting), one sample per run. wrk (C, one thread) is the lighter client and the headline;
// autocannon (Node, in this process) is the cross-check that needs nothing installed.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { Tool } from './args.js';

export interface LoadSpec {
  readonly url: string;
  readonly host: string;
  readonly connections: number;
  readonly durationSec: number;
  /** cookie values to cycle through; null sends no cookie */
  readonly cookies: readonly string[] | null;
  /** the same values one per line, for wrk's Lua script; null with cookies null */
  readonly cookieFile: string | null;
  /** total requests per second to offer (autocannon); absent or null for as many as answered */
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
  /** socket errors and timeouts */
  readonly errors: number;
  /** responses with a status >= 400 (wrk) or outside 2xx (autocannon) */
  readonly non2xx: number;
}

const WRK_SCRIPT = fileURLToPath(new URL('./wrk-sticky.lua', import.meta.url));
const running = new Set<ChildProcess>();

export function assertLoopback(url: string): void {
  if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url)) throw new Error(`benchmarks target 127.0.0.1 only, not ${url}`);
}

export async function runLoad(tool: Tool, wrkBin: string | null, spec: LoadSpec): Promise<LoadSample> {
  assertLoopback(spec.url);
  if (tool === 'wrk') {
    if (wrkBin === null) throw new Error('wrk is not installed');
    return runWrk(wrkBin, spec);
  }
  return runAutocannon(spec);
}

async function runWrk(bin: string, spec: LoadSpec): Promise<LoadSample> {
  const args = ['-t1', `-c${spec.connections}`, `-d${spec.durationSec}s`, '--timeout', '10s', '-s', WRK_SCRIPT, spec.url, '--', spec.cookieFile ?? '', spec.host];
  const proc = spec.cpus == null ? spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn('taskset', ['-c', spec.cpus, bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  let out = '';
  proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((resolve) => proc.once('close', resolve));
  running.delete(proc);
  const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (code !== 0 || line === undefined) throw new Error(`wrk exited ${code}: ${out.trim()}`);
  const r = JSON.parse(line.slice('BENCH_JSON '.length)) as Record<string, number>;
  const durationSec = r.durationUs! / 1e6;
  return {
    tool: 'wrk', requests: r.requests!, durationSec, rps: r.requests! / durationSec,
    p50Ms: r.p50Us! / 1000, p99Ms: r.p99Us! / 1000,
    errors: r.connect! + r.read! + r.write! + r.timeout!, non2xx: r.status!,
  };
}

async function runAutocannon(spec: LoadSpec): Promise<LoadSample> {
  const headers = { host: spec.host };
  // Requests without setupRequest are serialised once per connection and replayed in turn.
  const requests = spec.cookies === null ? undefined : spec.cookies.map((v) => ({ method: 'GET' as const, headers: { ...headers, cookie: `session=${v}` } }));
  const r = await autocannon({ url: spec.url, connections: spec.connections, duration: spec.durationSec, headers, timeout: 10, ...(requests ? { requests } : {}), ...(spec.rate != null ? { overallRate: spec.rate } : {}) });
  const total = r.requests.total;
  return {
    tool: 'autocannon', requests: total, durationSec: r.duration, rps: total / r.duration,
    p50Ms: r.latency.p50, p99Ms: r.latency.p99,
    errors: r.errors + r.timeouts, non2xx: r.non2xx,
  };
}

/** Stops a wrk still running (Ctrl-C, errors); autocannon stops with this process. */
export function stopLoad(): void {
  for (const p of running) p.kill('SIGKILL');
}
