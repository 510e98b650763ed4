// `npm run bench:reload`: what a reload costs the traffic and how long it takes.
// 1. Steady state vs SIGHUP every 500 ms under load (the real daemon, 2 workers, the seed's cookie
//    policy): requests/s, p50/p99 and errors, interleaved runs. Each SIGHUP reloads a config that
//    really changed (the parked v2 endpoint alternates between two ports), so every reload builds
//    and publishes a new snapshot while v1's traffic keeps its three backends.
// 2. Signal-to-live: from SIGHUP to /status saying the new generation is live in every worker,
//    at 100 and 10,000 endpoints in the sticky subset (ring, the seed's policy).
// Writes the reload block of bench/RESULTS.md and bench/out/reload-*.json.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { startBackends } from '../http/backends.js';
import { waitForOk } from '../http/check.js';
import { runLoad, stopLoad, type LoadSample } from '../http/load.js';
import { ensureBinaries, prepareRunDir } from '../http/peers.js';
import { freePort, ProcessGroup, sleep, type Started } from '../http/procs.js';
import { describeMachine, machineLine } from '../machine.js';
import { median, table } from '../results-md.js';
import { benchLog, parseBenchArgs, runBench, runLine, writeReport } from '../runner.js';
import { CLI, DEMO_HOST, endpointsYaml, writeStickydConfig, type V1Endpoint } from '../stickyd-config.js';

const HUP_INTERVAL_MS = 500;
const WORKERS = 2;
/** How often /status is polled while waiting for a reload to go live. */
const POLL_MS = 5;
const LIVE_TIMEOUT_MS = 120_000;

const flags = parseBenchArgs(
  'Usage: npm run bench:reload -- [--runs 2] [--duration 10] [--connections 50] [--sizes 100,10000] [--reloads 5] [--quick] [--no-install]\n',
  { full: 10, quick: 4 }, ['sizes', 'reloads'],
);
const { quick, runs, durationSec, connections } = flags;
const sizes = (flags.extra.sizes ?? '100,10000').split(',').map(Number);
const reloadsPerSize = Number(flags.extra.reloads ?? (quick ? 2 : 5));

const started = Date.now();
const say = benchLog('reload', started);
const group = new ProcessGroup();
let run = '';

async function cleanup(): Promise<void> {
  stopLoad();
  await group.stopAll();
  if (run !== '') await rm(run, { recursive: true, force: true });
}

interface Status {
  generation: number;
  ready: boolean;
  reloads: { ok: number; failed: number; requested: number };
  lastReload: { ok: boolean; covers: number; error: string | null } | null;
}

async function status(adminPort: number): Promise<Status> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/status`, { signal: AbortSignal.timeout(5_000) });
  return (await res.json()) as Status;
}

interface Daemon { readonly proc: Started; readonly port: number; readonly adminPort: number }

async function startStickyd(label: string, configDir: string): Promise<Daemon> {
  const port = await freePort();
  const adminPort = await freePort();
  const args = [CLI, 'run', '-c', configDir, '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${adminPort}`, '--workers', String(WORKERS)];
  const proc = group.spawn(label, process.execPath, args, { logFile: join(run, 'logs', `${label}.out`) });
  return { proc, port, adminPort };
}

/** Waits until /status answers and every worker serves; returns the status. */
async function waitReady(d: Daemon, what: string): Promise<Status> {
  const deadline = Date.now() + LIVE_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const s = await status(d.adminPort).catch(() => null);
    if (s?.ready) return s;
    await sleep(50);
  }
  throw new Error(`${what} did not become ready in ${LIVE_TIMEOUT_MS} ms (see its log in the run directory)`);
}

async function main(): Promise<void> {
  const machine = describeMachine();
  say(`machine: ${machineLine(machine)}; load average ${machine.loadavg.join(' / ')}`);
  const bins = ensureBinaries(flags.install, say);
  run = await mkdtemp(join(os.tmpdir(), 'stickyd-reload-'));
  await prepareRunDir(run);
  const tool = bins.wrk !== null ? 'wrk' : 'autocannon';
  const backends = await startBackends(group, run, bins.nginx);
  say(`backends: ${backends.kind}; load generator: ${tool}`);

  // Part 1: steady vs SIGHUP every 500 ms.
  const v1: V1Endpoint[] = backends.ports.map((port) => ({ address: '127.0.0.1', port }));
  const configDir = await writeStickydConfig(join(run, 'hup'), v1);
  const daemon = await startStickyd('stickyd-hup', configDir);
  await waitForOk(daemon.port, DEMO_HOST, 30_000, 'stickyd');
  const cookies = Array.from({ length: 1_000 }, (_, i) => `bench${String(i).padStart(27, '0')}`);
  const cookieFile = join(run, 'cookies.txt');
  await writeFile(cookieFile, cookies.join('\n') + '\n');
  const spec = { url: `http://127.0.0.1:${daemon.port}/ping`, host: DEMO_HOST, connections, durationSec, cookies, cookieFile };
  await runLoad(tool, bins.wrk, { ...spec, durationSec: 2 }); // warm-up
  const samples: { mode: 'steady' | 'sighup'; sample: LoadSample; reloads: Status['reloads'] | null }[] = [];
  let flip = false;
  for (let r = 1; r <= runs; r++) {
    for (const mode of ['steady', 'sighup'] as const) {
      const before = await status(daemon.adminPort);
      let timer: NodeJS.Timeout | null = null;
      if (mode === 'sighup') {
        timer = setInterval(() => {
          flip = !flip;
          // a real change each time: the parked v2 endpoint moves between two ports
          void writeFile(join(configDir, 'endpoints.yaml'), endpointsYaml(v1, v1[0]!.port + (flip ? 1 : 0)))
            .then(() => process.kill(daemon.proc.pid, 'SIGHUP'));
        }, HUP_INTERVAL_MS);
      }
      const sample = await runLoad(tool, bins.wrk, spec);
      if (timer !== null) clearInterval(timer);
      await sleep(1_000); // let the last reload finish before reading the counters
      const after = await status(daemon.adminPort);
      const reloads = mode === 'sighup' ? { ok: after.reloads.ok - before.reloads.ok, failed: after.reloads.failed - before.reloads.failed, requested: after.reloads.requested - before.reloads.requested } : null;
      samples.push({ mode, sample, reloads });
      say(`run ${r} ${mode.padEnd(6)} ${Math.round(sample.rps).toLocaleString('en')} req/s  p50 ${sample.p50Ms.toFixed(2)} ms  p99 ${sample.p99Ms.toFixed(2)} ms  errors ${sample.errors}/${sample.non2xx}${reloads ? `  reloads: ${reloads.requested} signalled, ${reloads.ok} applied, ${reloads.failed} failed` : ''}`);
    }
  }
  await group.stop(daemon.proc);

  // Part 2: signal-to-live at each size.
  const live: { endpoints: number; startMs: number; ms: number[] }[] = [];
  for (const n of sizes) {
    const dir = join(run, `size-${n}`);
    await mkdir(dir, { recursive: true });
    const many = manyEndpoints(n, v1);
    await writeStickydConfig(dir, many);
    const t0 = Date.now();
    const d = await startStickyd(`stickyd-${n}`, dir);
    let s = await waitReady(d, `stickyd with ${n} endpoints`);
    const startMs = Date.now() - t0;
    const ms: number[] = [];
    for (let i = 0; i < reloadsPerSize; i++) {
      await writeFile(join(dir, 'endpoints.yaml'), endpointsYaml(many, many[0]!.port + ((i + 1) % 2)));
      const target = s.reloads.requested + 1;
      const t = performance.now();
      process.kill(d.proc.pid, 'SIGHUP');
      for (;;) {
        s = await status(d.adminPort);
        if (s.lastReload !== null && s.lastReload.covers >= target) {
          if (!s.lastReload.ok) throw new Error(`reload at ${n} endpoints failed: ${s.lastReload.error}`);
          if (s.ready) break;
        }
        if (performance.now() - t > LIVE_TIMEOUT_MS) throw new Error(`reload at ${n} endpoints not live in ${LIVE_TIMEOUT_MS} ms`);
        await sleep(POLL_MS);
      }
      ms.push(performance.now() - t);
    }
    live.push({ endpoints: n, startMs, ms });
    say(`${n.toLocaleString('en')} endpoints: start to ready ${startMs} ms; SIGHUP to live ${ms.map((x) => x.toFixed(0)).join(', ')} ms (median ${median(ms).toFixed(0)})`);
    await group.stop(d.proc);
  }

  const date = new Date(started).toISOString();
  const raw = {
    date,
    machine,
    loadavgAfter: os.loadavg(),
    tool,
    connections,
    durationSec,
    runs,
    hupIntervalMs: HUP_INTERVAL_MS,
    backends: backends.kind,
    samples,
    live,
  };
  await writeReport('reload', raw, render, quick, say);
}

/** The three real backends first, then addresses on 127.1/16 that take no traffic in this test. */
function manyEndpoints(n: number, real: readonly V1Endpoint[]): V1Endpoint[] {
  const out = real.slice(0, n);
  for (let i = out.length; i < n; i++) out.push({ address: `127.1.${(i >> 8) & 255}.${i & 255}`, port: 9 + (i >> 16) });
  return out;
}

function render(r: { date: string; machine: ReturnType<typeof describeMachine>; loadavgAfter: number[]; tool: string; samples: { mode: string; sample: LoadSample; reloads: Status['reloads'] | null }[]; live: { endpoints: number; startMs: number; ms: number[] }[] }): string {
  const rows = (['steady', 'sighup'] as const).map((mode) => {
    const mine = r.samples.filter((s) => s.mode === mode);
    const reloads = mine.map((s) => s.reloads).filter((x): x is Status['reloads'] => x !== null);
    return [
      mode === 'steady' ? 'steady state' : `SIGHUP every ${HUP_INTERVAL_MS} ms`,
      Math.round(median(mine.map((s) => s.sample.rps))).toLocaleString('en'),
      median(mine.map((s) => s.sample.p50Ms)).toFixed(2), median(mine.map((s) => s.sample.p99Ms)).toFixed(2),
      `${mine.reduce((a, s) => a + s.sample.errors, 0)} / ${mine.reduce((a, s) => a + s.sample.non2xx, 0)}`,
      mine.reduce((a, s) => a + s.sample.requests, 0).toLocaleString('en'),
      reloads.length === 0 ? '-' : `${reloads.reduce((a, x) => a + x.requested, 0)} / ${reloads.reduce((a, x) => a + x.ok, 0)} / ${reloads.reduce((a, x) => a + x.failed, 0)}`,
    ];
  });
  return [
    '## Reload: traffic during SIGHUP, and signal-to-live time (`npm run bench:reload`)',
    '',
    runLine(r),
    `stickyd with ${WORKERS} workers and the seed's cookie policy; ${r.tool}, ${connections} connections, ${durationSec} s per run, ${runs} interleaved run(s) per mode, medians. Each SIGHUP follows a real config change (a parked endpoint moves), so each applied reload builds and publishes a new snapshot.`,
    '',
    table(['mode', 'req/s', 'p50 ms', 'p99 ms', 'errors / non-2xx', 'requests', 'reloads signalled / applied / failed'], rows),
    '',
    "Signal-to-live: SIGHUP until `/status` reports the reload covering it applied and every worker ready (polled every 5 ms); the sticky subset (the seed's ring policy) holds N endpoints.",
    '',
    table(['endpoints', 'start to ready, ms', 'SIGHUP to live, median ms', 'min-max ms', 'reloads'], r.live.map((l) => [
      l.endpoints.toLocaleString('en'), String(l.startMs), median(l.ms).toFixed(0), `${Math.min(...l.ms).toFixed(0)}-${Math.max(...l.ms).toFixed(0)}`, String(l.ms.length),
    ])),
    '',
    'Raw: `bench/out/reload-*.json`.',
  ].join('\n');
}

await runBench(say, main, cleanup);
