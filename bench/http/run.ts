// `npm run bench`: stickyd side by side with nginx, HAProxy and the Node proxies, in one run on
// one machine. Starts the backends and every subject, checks each is cookie-sticky, warms each
// up, then measures them interleaved (run 1 of every subject, then run 2, ...) with wrk and
// autocannon, recording requests/s, p50/p99, errors and the CPU of each proxy's processes.
// Writes bench/RESULTS.md (its http block), bench/results.json and bench/out/http-*.json.
// Every process it starts is stopped at the end, on Ctrl-C and on errors.
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { describeMachine, packageVersion } from '../machine.js';
import { DEMO_HOST, writeStickydConfig, writeStickydEditsConfig, writeStickydPinsConfig, writeStickydSplitConfig } from '../stickyd-config.js';
import { PAIR_WARMUP_SEC, parseBenchArgs, type Tool } from './args.js';
import { startBackends } from './backends.js';
import { checkSticky } from './check.js';
import { machineCpu, treeCpu } from './cpu.js';
import { buildCookies, runLoad, stopLoad, type LoadSpec } from './load.js';
import { ensureBinaries, prepareRunDir, versionOf } from './peers.js';
import { ProcessGroup, sleep } from './procs.js';
import { median } from '../results-md.js';
import { OUT_DIR, renderMarkdown, usPerReq, writeReport, type FeatureCost, type Report, type Sample, type SubjectInfo } from './report.js';
import { buildSubjects, type BenchEnv, type Running, type Subject } from './subjects.js';

/** Proxies run this many workers, like the issue's table (1 with --pin, on its own core). */
const WORKERS = 2;
/** --pin: the measured proxy's core, and the core for everything else (load generator, backends). */
const PIN = { proxy: '1', rest: '0' } as const;
/** Pause between measurements so sockets in TIME_WAIT and GC from the previous one settle. */
const GAP_MS = 300;
/** The fixed-rate phase measures these (the issue's comparison: stickyd beside nginx and the bare undici proxy). */
const RATE_SUBJECTS = ['nginx', 'undici', 'stickyd'];
/**
 * What the pairs phase loads beside stickyd: each variant with one default feature changed, the
 * bare undici proxy (the 1.05x target's floor, measured the same way); also every --stickyd build
 * and opt-in subject (experiments, which run only when --only names them).
 */
const PAIR_VARIANTS = ['stickyd-nolog', 'stickyd-cache', 'stickyd-mint', 'undici'];

const started = Date.now();
const say = (line: string): void => { process.stdout.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`); };

const opts = parseBenchArgs(process.argv.slice(2));
const group = new ProcessGroup();
let run = '';
let wrkBin: string | null = null;

async function cleanup(): Promise<void> {
  stopLoad();
  await group.stopAll();
  if (run !== '') await rm(run, { recursive: true, force: true });
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    say(`${signal}: stopping every process the benchmark started`);
    void cleanup().finally(() => process.exit(130));
  });
}

try {
  await main();
  await cleanup();
} catch (err) {
  // After Ctrl-C the load generator's failure is expected; the signal handler finishes the exit.
  if (!interrupted) {
    say(`failed: ${(err as Error).stack ?? String(err)}`);
    await cleanup();
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const machine = describeMachine();
  say(`machine: ${machine.cpu}, ${machine.cores} cores; load average ${machine.loadavg.join(' / ')}`);
  const bins = ensureBinaries(opts.install, say);
  wrkBin = bins.wrk;
  const tools = opts.tools.filter((t) => {
    if (t === 'wrk' && bins.wrk === null) { say('wrk is not installed: measuring with autocannon only'); return false; }
    return true;
  });
  // autocannon is the cross-check beside wrk (half as long, to keep the default run near 10 min)
  const acDurationSec = opts.acDurationSec ?? (tools.includes('wrk') ? Math.max(1, Math.ceil(opts.durationSec / 2)) : opts.durationSec);
  if (opts.pin) {
    if (os.availableParallelism() < 2) throw new Error('--pin needs at least 2 CPUs');
    group.pin = PIN;
    execFileSync('taskset', ['-p', '-c', PIN.rest, String(process.pid)], { stdio: 'ignore' }); // autocannon runs in this process
    say(`pinned: proxies on CPU ${PIN.proxy} with 1 worker; backends, load generator and this script on CPU ${PIN.rest}`);
  }
  run = await mkdtemp(join(os.tmpdir(), 'stickyd-bench-'));
  await prepareRunDir(run);
  const cookies = buildCookies(opts.cookies);
  const cookieFile = join(run, 'cookies.txt');
  await writeFile(cookieFile, cookies.join('\n') + '\n');

  const backends = await startBackends(group, run, bins.nginx);
  say(`backends on ${backends.ports.join(', ')}: ${backends.kind}`);
  const stickydConfig = await writeStickydConfig(join(run, 'stickyd'), backends.ports.map((port) => ({ address: '127.0.0.1', port })));
  const stickydEditsConfig = await writeStickydEditsConfig(join(run, 'stickyd-edits'), backends.ports.map((port) => ({ address: '127.0.0.1', port })));
  const stickydSplitConfig = await writeStickydSplitConfig(join(run, 'stickyd-split'), backends.ports.map((port) => ({ address: '127.0.0.1', port })));
  const stickydPins = await writeStickydPinsConfig(join(run, 'stickyd-pins'), backends.ports.map((port) => ({ address: '127.0.0.1', port })));
  const env: BenchEnv = {
    group, run, backends: backends.ports, stickydConfig, stickydEditsConfig, stickydSplitConfig, stickydPins, bins, workers: opts.pin ? 1 : WORKERS,
    profDir: opts.cpuProf ? join(OUT_DIR, 'prof') : null,
  };

  const all = buildSubjects(opts.variants);
  const wanted = opts.only === null ? all.filter((s) => s.optIn !== true) : all.filter((s) => opts.only!.includes(s.name));
  const skipped: { name: string; reason: string }[] = [];
  // a subject with sessions of its own (stickyd-pins) is driven and checked with those, same count
  const live: { subject: Subject; running: Running; info: SubjectInfo; cookies: readonly string[]; cookieFile: string }[] = [];
  for (const subject of wanted) {
    const why = subject.unavailable(env);
    if (why !== null) { skipped.push({ name: subject.name, reason: why }); say(`skip ${subject.name}: ${why}`); continue; }
    try {
      const running = await subject.start(env);
      let own = cookies;
      let ownFile = cookieFile;
      if (subject.sessions !== undefined) {
        own = await subject.sessions(running, cookies.length);
        ownFile = join(run, `cookies-${subject.name}.txt`);
        await writeFile(ownFile, own.join('\n') + '\n');
      }
      const sticky = subject.reference === true ? 'n/a' : await checkSticky(running.port, DEMO_HOST, own, subject.mints);
      say(`${subject.name} up on ${running.port}${running.pid === null ? '' : ` (pid ${running.pid})`}; sticky check: ${sticky}`);
      const info = { name: subject.name, what: subject.what, sticky, sendsCookies: subject.sendsCookies };
      live.push({ subject, running, info, cookies: own, cookieFile: ownFile });
    } catch (err) {
      skipped.push({ name: subject.name, reason: (err as Error).message });
      say(`skip ${subject.name}: ${(err as Error).message}`);
    }
  }

  const specFor = (s: Subject, port: number, durationSec: number): LoadSpec => {
    const l = live.find((x) => x.subject === s);
    return {
      url: `http://127.0.0.1:${port}/ping`, host: DEMO_HOST, connections: opts.connections, durationSec,
      cookies: s.sendsCookies ? (l?.cookies ?? cookies) : null, cookieFile: s.sendsCookies ? (l?.cookieFile ?? cookieFile) : null,
      rate: opts.rate, cpus: opts.pin ? PIN.rest : null,
    };
  };
  if (opts.warmupSec > 0) {
    for (const { subject, running } of live) {
      say(`warm-up ${subject.name} (${opts.warmupSec} s)`);
      await runLoad(tools[0]!, bins.wrk, specFor(subject, running.port, opts.warmupSec));
    }
  }

  const samples: Sample[] = [];
  const total = opts.runs * live.length * tools.length;
  for (let r = 1; r <= opts.runs; r++) {
    // Rotate the order each run so no subject always follows the same neighbour.
    const order = live.map((_, i) => live[(i + r - 1) % live.length]!);
    const report = (sample: Sample): void => {
      samples.push(sample);
      const cpu = usPerReq(sample);
      say(`[${samples.length}/${total}] run ${r} ${sample.subject.padEnd(17)} ${sample.tool.padEnd(10)} ${Math.round(sample.rps).toLocaleString('en').padStart(7)} req/s  p50 ${sample.p50Ms.toFixed(2)} ms  p99 ${sample.p99Ms.toFixed(2)} ms  errors ${sample.errors}/${sample.non2xx}${cpu === null ? '' : `  CPU ${cpu.toFixed(1)} µs/req`}  machine ${(sample.machineBusy * 100).toFixed(0)}% busy`);
    };
    if (opts.concurrent) {
      const together = order.map((l) => ({ subject: l.subject, running: l.running, spec: specFor(l.subject, l.running.port, opts.durationSec) }));
      for (const sample of await measureTogether(together, r)) report(sample);
      await sleep(GAP_MS);
      continue;
    }
    for (const { subject, running } of order) {
      for (const tool of tools) {
        report(await measure(subject, running, tool, r, specFor(subject, running.port, tool === 'wrk' ? opts.durationSec : acDurationSec)));
        await sleep(GAP_MS);
      }
    }
  }

  // Each default feature's cost as a difference within one window: stickyd and its variant loaded
  // at once, so the machine's changes between runs, which the sequential rows above carry, fall
  // on both alike. Each run starts both afresh: V8 makes its optimisation choices once per
  // process, and two processes of one build differed by up to 16 % for as long as they ran
  // (bench/RESULTS.md), so runs of one pair of processes are not independent samples.
  // The pair is pinned like --pin (1 worker each, both on CPU 1, their wrk on CPU 0): the
  // difference then resolves a few µs, where 2 workers beside the load generator on both cores
  // moved it by tens (bench/RESULTS.md).
  const stickyd = live.find((l) => l.subject.name === 'stickyd');
  // with --pin this script already runs on CPU 0 alone, where availableParallelism() reads 1
  const pairPin = opts.pin || os.availableParallelism() >= 2;
  const pairLive = stickyd === undefined || opts.pairs === 0 || bins.wrk === null ? [] : live.filter((l) => PAIR_VARIANTS.includes(l.subject.name) || l.subject.optIn === true || opts.variants.some((b) => l.subject.name === `stickyd-${b.label}`));
  const pairEnv: BenchEnv = { ...env, workers: pairPin ? 1 : env.workers };
  const pairSpec = (x: { subject: Subject; running: Running }, sec: number): LoadSpec =>
    ({ ...specFor(x.subject, x.running.port, sec), cpus: pairPin ? PIN.rest : null });
  for (const v of pairLive) {
    say(`pair stickyd + ${v.subject.name}: ${opts.pairs} runs, each on two fresh processes${pairPin ? ` (1 worker each, pinned to CPU ${PIN.proxy})` : ''} warmed up together for ${PAIR_WARMUP_SEC} s`);
    for (let r = 1; r <= opts.pairs; r++) {
      // alternate which starts first, so neither always has the head start
      const order = r % 2 === 0 ? [stickyd!, v] : [v, stickyd!];
      const fresh: { subject: Subject; running: Running }[] = [];
      const pinBefore = group.pin;
      try {
        if (pairPin) group.pin = PIN;
        for (const l of order) fresh.push({ subject: l.subject, running: await l.subject.start(pairEnv) });
        await Promise.all(fresh.map((x) => runLoad('wrk', bins.wrk, pairSpec(x, PAIR_WARMUP_SEC))));
        const got = await measureTogether(fresh.map((x) => ({ ...x, spec: pairSpec(x, opts.durationSec) })), r);
        const [a, b] = got.map((x) => ({ ...x, tool: 'pair' as const, pair: v.subject.name }));
        samples.push(a!, b!);
        const us = (x: Sample): string => usPerReq(x)?.toFixed(1) ?? '-';
        say(`pair run ${r} ${a!.subject} ${us(a!)} µs/req, ${b!.subject} ${us(b!)} µs/req`);
      } finally {
        group.pin = pinBefore;
        await Promise.all(fresh.map((x) => (x.running.pid === null ? undefined : group.stopPid(x.running.pid))));
      }
      await sleep(GAP_MS);
    }
  }

  let ratePhase: Report['ratePhase'] = null;
  if (opts.ratePhase) {
    const nginxRps = samples.filter((s) => s.subject === 'nginx' && s.tool === tools[0]).map((s) => s.rps);
    ratePhase = opts.rate !== null ? { rate: opts.rate, why: '--rate' }
      : nginxRps.length > 0 ? { rate: Math.round(median(nginxRps) / 2), why: `half of nginx's median ${tools[0]} throughput above, ${Math.round(median(nginxRps)).toLocaleString('en')} req/s` }
      : null;
    const rateLive = live.filter((l) => RATE_SUBJECTS.includes(l.subject.name));
    if (ratePhase === null) say('fixed-rate phase skipped: nginx was not measured here and no --rate was given');
    else {
      say(`fixed-rate phase: ${ratePhase.rate.toLocaleString('en')} req/s (${ratePhase.why}) for ${rateLive.map((l) => l.subject.name).join(', ')}`);
      for (let r = 1; r <= opts.runs; r++) {
        const order = rateLive.map((_, i) => rateLive[(i + r - 1) % rateLive.length]!);
        for (const { subject, running } of order) {
          const sample = await measure(subject, running, 'rate', r, { ...specFor(subject, running.port, opts.durationSec), rate: ratePhase.rate });
          samples.push(sample);
          const cpu = usPerReq(sample);
          say(`rate run ${r} ${subject.name.padEnd(17)} ${Math.round(sample.rps).toLocaleString('en').padStart(7)} req/s  p50 ${sample.p50Ms.toFixed(2)} ms  p99 ${sample.p99Ms.toFixed(2)} ms  p99.9 ${sample.p999Ms.toFixed(2)} ms  queued ${sample.maxQueued}  errors ${sample.errors}/${sample.non2xx}${cpu === null ? '' : `  CPU ${cpu.toFixed(1)} µs/req`}`);
          await sleep(GAP_MS);
        }
      }
    }
    // Half of nginx's throughput saturates a Node proxy on these cores, so its latencies are
    // queueing. Half of each proxy's own saturation is the load a user would run it at.
    const own = new Map<string, number>();
    for (const l of rateLive) {
      const rps = samples.filter((s) => s.subject === l.subject.name && s.tool === tools[0]).map((s) => s.rps);
      if (rps.length > 0) own.set(l.subject.name, Math.round(median(rps) / 2));
    }
    if (own.size > 0) {
      say(`fixed-rate phase at half of each proxy's own ${tools[0]} throughput: ${[...own].map(([n, r]) => `${n} ${r.toLocaleString('en')} req/s`).join(', ')}`);
      const ownLive = rateLive.filter((l) => own.has(l.subject.name));
      for (let r = 1; r <= opts.runs; r++) {
        const order = ownLive.map((_, i) => ownLive[(i + r - 1) % ownLive.length]!);
        for (const { subject, running } of order) {
          const sample = await measure(subject, running, 'rate-own', r, { ...specFor(subject, running.port, opts.durationSec), rate: own.get(subject.name)! });
          samples.push(sample);
          say(`own-rate run ${r} ${subject.name.padEnd(17)} ${Math.round(sample.rps).toLocaleString('en').padStart(7)} req/s  p50 ${sample.p50Ms.toFixed(2)} ms  p99 ${sample.p99Ms.toFixed(2)} ms  p99.9 ${sample.p999Ms.toFixed(2)} ms  queued ${sample.maxQueued}  errors ${sample.errors}/${sample.non2xx}`);
          await sleep(GAP_MS);
        }
      }
    }
  }

  let features: FeatureCost[] | null = null;
  if (opts.features && live.some((l) => l.subject.name === 'stickyd')) {
    say('in-process feature costs (bench/features/micro.ts)');
    try {
      features = await featureCosts(opts.pin ? PIN.proxy : null);
    } catch (err) {
      // the HTTP samples are worth keeping without it
      say(`in-process feature costs failed, reported without them: ${(err as Error).message}`);
    }
  }

  const report: Report = {
    date: new Date(started).toISOString(), machine, loadavgAfter: os.loadavg().map((x) => Math.round(x * 100) / 100),
    versions: versions(bins), options: { ...opts, tools, acDurationSec }, backends: backends.kind,
    subjects: live.map((l) => l.info), skipped, samples, elapsedSec: (Date.now() - started) / 1000, argv: process.argv.slice(2),
    ratePhase, features,
  };
  if (opts.quick) {
    await mkdir(OUT_DIR, { recursive: true });
    await writeFile(join(OUT_DIR, 'http-quick.json'), JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(`\n${renderMarkdown(report)}\n\n`);
    say('quick run: bench/RESULTS.md and bench/results.json left as they were; raw samples in bench/out/http-quick.json');
  } else {
    const { raw } = await writeReport(report);
    process.stdout.write(`\n${renderMarkdown(report)}\n\n`);
    say(`wrote the ${opts.section} block of bench/RESULTS.md${opts.section === 'http' ? ', bench/results.json' : ''} and ${raw}`);
  }
  if (opts.cpuProf) say(`stopping stickyd writes its CPU profiles to ${env.profDir}; summarise them with: node --import tsx bench/http/profile-summary.ts ${env.profDir}`);
}

async function measure(subject: Subject, running: Running, tool: Tool, run: number, spec: LoadSpec): Promise<Sample> {
  return (await measureTogether([{ subject, running, spec }], run, tool))[0]!;
}

/**
 * Loads every subject at once, each under its own load generator, and reads each proxy's CPU over
 * the same window (from before the first load starts to after the last ends). One subject is an
 * ordinary measurement; several are --concurrent, where a slower machine for a while costs every
 * subject alike and the per-run ratios keep only the subjects' own difference.
 */
async function measureTogether(subjects: readonly { subject: Subject; running: Running; spec: LoadSpec }[], run: number, tool: Tool = 'wrk'): Promise<Sample[]> {
  const cpu0 = subjects.map((s) => (s.running.pid === null ? null : treeCpu(s.running.pid)));
  const out0 = subjects.map((s) => s.running.stdoutBytes?.() ?? 0);
  const m0 = machineCpu();
  const loads = await Promise.all(subjects.map((s) => runLoad(tool, wrkBin, s.spec)));
  const m1 = machineCpu();
  return subjects.map(({ subject, running }, i) => {
    const load = loads[i]!;
    const c0 = cpu0[i] ?? null;
    const c1 = running.pid === null ? null : treeCpu(running.pid);
    return {
      ...load, subject: subject.name, run,
      stdoutBytesPerReq: running.stdoutBytes === undefined || load.requests === 0 ? null : ((running.stdoutBytes() - out0[i]!) / load.requests),
      cpuSec: c0 === null || c1 === null ? null : c1.total - c0.total,
      helperCpuSec: c0 === null || c1 === null ? null : c1.helpers - c0.helpers,
      rootCpuSec: c0 === null || c1 === null ? null : c1.root - c0.root,
      machineBusy: (m1.busy - m0.busy) / Math.max(1, m1.total - m0.total),
    };
  });
}

/** Runs bench/features/micro.ts in a child (on the proxies' CPU with --pin) and reads its JSON line. */
async function featureCosts(cpu: string | null): Promise<FeatureCost[]> {
  const script = new URL('../features/micro.ts', import.meta.url).pathname;
  const args = ['--import', 'tsx', script, '--json'];
  const proc = cpu === null ? spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] }) : spawn('taskset', ['-c', cpu, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((resolve) => proc.once('close', resolve));
  const line = out.split('\n').find((l) => l.startsWith('FEATURES_JSON '));
  if (code !== 0 || line === undefined) throw new Error(`bench/features/micro.ts exited ${code}: ${out.trim()}`);
  return JSON.parse(line.slice('FEATURES_JSON '.length)) as FeatureCost[];
}

function versions(b: ReturnType<typeof ensureBinaries>): Record<string, string | null> {
  return {
    nginx: versionOf(b.nginx, ['-v'])?.replace(/^nginx version: /, '') ?? null,
    haproxy: versionOf(b.haproxy, ['-v'])?.replace(/^HAProxy version /, '').split(' ')[0] ?? null,
    wrk: versionOf(b.wrk, ['--version'])?.split(' ')[1] ?? null,
    autocannon: packageVersion('autocannon'),
    'http-proxy': packageVersion('http-proxy'),
    undici: packageVersion('undici'),
    cc: versionOf('cc', ['--version'])?.split('\n')[0] ?? null,
  };
}
