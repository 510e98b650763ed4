// Access log on vs off: the same stickyd build, config, backends and load, alternating runs.
// stickyd's stdout is a pipe this process reads and throws away, as journald reads a unit's
// stdout stream; with the log on, every request writes a line into that pipe. wrk (one thread,
// keep-alive, 1,000 session cookies in turn) when installed, else autocannon. Prints requests/s
// and latency per mode, the on/off ratio, and writes bench/out/access-log.json.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBackends } from '../http/backends.js';
import { waitForOk } from '../http/check.js';
import { runLoad, type LoadSample } from '../http/load.js';
import { freePort, ProcessGroup } from '../http/procs.js';
import { describeMachine, machineLine } from '../machine.js';
import { CLI, DEMO_HOST, REPO, writeStickydConfig } from '../stickyd-config.js';

const HELP = `Usage: npm run bench:access-log -- [--runs 3] [--duration 8] [--workers 1] [--connections 50]`;
const COOKIES = 1_000;

interface ModeResult { readonly mode: 'on' | 'off'; readonly samples: LoadSample[]; readonly logBytes: number[] }

const { values } = parseArgs({ options: { runs: { type: 'string' }, duration: { type: 'string' }, workers: { type: 'string' }, connections: { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) { process.stdout.write(HELP + '\n'); process.exit(0); }
const runs = Number(values.runs ?? 3);
const durationSec = Number(values.duration ?? 8);
const workers = Number(values.workers ?? 1);
const connections = Number(values.connections ?? 50);

function which(bin: string): string | null {
  try { return execFileSync('which', [bin], { encoding: 'utf8' }).trim() || null; } catch { return null; }
}

/** stickyd with stdout piped here and drained; resolves once it answers /ping. */
async function startStickyd(config: string, accessLog: 'on' | 'off'): Promise<{ port: number; proc: ChildProcess; bytes: () => number; stop: () => Promise<void> }> {
  const port = await freePort();
  const proc = spawn(process.execPath, [CLI, 'run', '-c', config, '--listen', `127.0.0.1:${port}`, '--admin', 'off', '--workers', String(workers), '--access-log', accessLog], { stdio: ['ignore', 'pipe', 'ignore'] });
  let bytes = 0;
  proc.stdout!.on('data', (d: Buffer) => { bytes += d.length; });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await waitForOk(port, DEMO_HOST, 30_000, `stickyd (access log ${accessLog})`);
  return {
    port, proc, bytes: () => bytes,
    stop: async () => { proc.kill('SIGTERM'); const t = setTimeout(() => proc.kill('SIGKILL'), 15_000); await exited; clearTimeout(t); },
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const run = await mkdtemp(join(tmpdir(), 'stickyd-bench-log-'));
  await mkdir(join(run, 'logs'), { recursive: true });
  await mkdir(join(run, 'tmp'), { recursive: true }); // nginx backends keep their temp files here
  const group = new ProcessGroup();
  const wrk = which('wrk');
  const tool = wrk === null ? 'autocannon' : 'wrk';
  try {
    const backends = await startBackends(group, run, which('nginx'));
    const config = await writeStickydConfig(join(run, 'config'), backends.ports.map((port) => ({ address: '127.0.0.1', port })));
    const cookies = Array.from({ length: COOKIES }, (_, i) => `bench-session-${i}`);
    const cookieFile = join(run, 'cookies.txt');
    await writeFile(cookieFile, cookies.join('\n') + '\n');
    const results: Record<'on' | 'off', ModeResult> = { on: { mode: 'on', samples: [], logBytes: [] }, off: { mode: 'off', samples: [], logBytes: [] } };
    process.stdout.write(`${machineLine(describeMachine())}\nbackends: ${backends.kind}; load: ${tool}, ${connections} connections, ${durationSec} s x ${runs} runs per mode, alternating; stickyd --workers ${workers}\n`);
    for (let r = 0; r < runs; r++) {
      for (const mode of (r % 2 === 0 ? ['on', 'off'] : ['off', 'on']) as ('on' | 'off')[]) {
        const s = await startStickyd(config, mode);
        try {
          const spec = { url: `http://127.0.0.1:${s.port}/ping`, host: DEMO_HOST, connections, durationSec: 1, cookies, cookieFile };
          await runLoad(tool, wrk, spec); // warm-up, not recorded
          const before = s.bytes();
          const sample = await runLoad(tool, wrk, { ...spec, durationSec });
          results[mode].samples.push(sample);
          results[mode].logBytes.push(s.bytes() - before);
          process.stdout.write(`  run ${r + 1} log ${mode.padEnd(3)}  ${sample.rps.toFixed(0).padStart(7)} req/s  p50 ${sample.p50Ms.toFixed(2)} ms  p99 ${sample.p99Ms.toFixed(2)} ms  errors ${sample.errors}  non-2xx ${sample.non2xx}  stdout ${(s.bytes() - before) / 1e6} MB\n`);
        } finally {
          await s.stop();
        }
      }
    }
    const row = (m: ModeResult) => ({
      rps: median(m.samples.map((x) => x.rps)),
      p50Ms: median(m.samples.map((x) => x.p50Ms)),
      p99Ms: median(m.samples.map((x) => x.p99Ms)),
      bytesPerRequest: median(m.samples.map((x, i) => m.logBytes[i]! / x.requests)),
    });
    const on = row(results.on);
    const off = row(results.off);
    // each run measures on and off back to back, so their ratio cancels most of the drift of a shared machine
    const paired = results.on.samples.map((x, i) => x.rps / results.off.samples[i]!.rps);
    process.stdout.write(`\nmedian of ${runs}:\n  log off  ${off.rps.toFixed(0)} req/s  p50 ${off.p50Ms.toFixed(2)} ms  p99 ${off.p99Ms.toFixed(2)} ms\n  log on   ${on.rps.toFixed(0)} req/s  p50 ${on.p50Ms.toFixed(2)} ms  p99 ${on.p99Ms.toFixed(2)} ms  (${on.bytesPerRequest.toFixed(0)} bytes of log per request)\n  on/off   ${(on.rps / off.rps).toFixed(3)} of the throughput (1.000 = no cost); per run ${paired.map((r) => r.toFixed(2)).join(' ')}, median ${median(paired).toFixed(3)}\n`);
    await mkdir(join(REPO, 'bench', 'out'), { recursive: true });
    await writeFile(join(REPO, 'bench', 'out', 'access-log.json'), JSON.stringify({ machine: describeMachine(), tool, connections, durationSec, runs, workers, on, off, pairedRatios: paired, samples: results }, null, 2) + '\n');
  } finally {
    await group.stopAll();
    await rm(run, { recursive: true, force: true });
  }
}

await main();
