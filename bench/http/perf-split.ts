// Where a proxy's CPU per request goes, by layer, from a native profile: the kernel, V8's builtins,
// V8 and Node's C++, the JavaScript of the proxy itself (stickyd's dist/, or a peer's script in
// bench/peers/), of undici and of Node's own library, other JIT code (regular expressions,
// WebAssembly), and shared libraries. `npm run bench` says how much CPU each
// subject spends per request; this says on what, in µs per request, so the gap to the undici floor
// can be set against the code that makes it (issue 16).
//
// Each subject runs alone on CPU 1 with one worker, under `--perf-basic-prof` (V8 names its JIT code
// for perf), while wrk loads it from CPU 0 against nginx backends on CPU 0. After a warm-up as long
// as a measurement, `perf record -e cpu-clock` samples every thread of its process tree while the
// tree's CPU (/proc, as `npm run bench` counts it) and wrk's request count are read around the same
// window. Each layer's µs per request is its share of the samples times the tree's CPU per request.
// Runs are interleaved (run 1 of every subject, then run 2, ...), and the tables are medians.
// Sampling costs the same for every subject, so compare subjects within one run, as differences.
//
// Usage: node --import tsx bench/http/perf-split.ts [--runs 5] [--seconds 8] [--top 15]
//          [--only stickyd,stickyd-nolog,undici] [--stickyd NAME=path/to/cli.js]
// Writes the tables to stdout and the raw figures to bench/out/perf-split-<time>.json.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine } from '../machine.js';
import { median } from '../results-md.js';
import { DEMO_HOST, writeStickydConfig, writeStickydEditsConfig, writeStickydPinsConfig, writeStickydSplitConfig } from '../stickyd-config.js';
import { startBackends } from './backends.js';
import { treeCpu, treePids } from './cpu.js';
import { buildCookies, runLoad, stopLoad } from './load.js';
import { ensureBinaries, prepareRunDir } from './peers.js';
import { ProcessGroup, sleep } from './procs.js';
import { OUT_DIR } from './report.js';
import { jitTier, LAYERS, layerOf, symbolKey, TIERS, type Layer, type Tier } from './perf-layers.js';
import { buildSubjects, type BenchEnv, type Running, type Subject } from './subjects.js';

const PIN = { proxy: '1', rest: '0' } as const;
const SAMPLE_HZ = 2999;
const CONNECTIONS = 50;
const COOKIES = 1000;

interface Sample {
  readonly subject: string;
  readonly run: number;
  readonly requests: number;
  readonly rps: number;
  readonly usPerReq: number;
  readonly samples: number;
  readonly layers: Record<Layer, number>;
  /** µs per request by symbol (symbolKey), every symbol with a sample */
  readonly symbols: Record<string, number>;
  /** µs per request of the proxy's own JavaScript and of all JavaScript, by V8 tier */
  readonly tiers: { readonly proxy: Record<Tier, number>; readonly all: Record<Tier, number> };
  /** µs per request of the proxy's own functions, keyed `<tier> <symbol>` */
  readonly proxySymbols: Record<string, number>;
}

const USAGE = 'Usage: node --import tsx bench/http/perf-split.ts [--runs 5] [--seconds 8] [--top 15] [--only a,b,c] [--stickyd NAME=cli.js]\n';

interface Options {
  readonly runs: number;
  readonly seconds: number;
  readonly top: number;
  readonly only: string[];
  readonly variants: { label: string; cli: string; args: string[] }[];
}

/** The command line, or a one-line reason it is wrong (exit 2, before anything starts). */
function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '5' }, seconds: { type: 'string', default: '8' }, top: { type: 'string', default: '15' },
      only: { type: 'string', default: 'stickyd,stickyd-nolog,undici' }, stickyd: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const count = (v: string, what: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a whole number >= 1, not ${JSON.stringify(v)}`);
    return n;
  };
  const variants = values.stickyd.map((v) => {
    const eq = v.indexOf('=');
    if (eq < 1) throw new Error(`--stickyd takes NAME=path/to/cli.js, not ${JSON.stringify(v)}`);
    return { label: v.slice(0, eq), cli: resolve(v.slice(eq + 1)), args: [] as string[] };
  });
  const only = values.only.split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (only.length === 0) throw new Error('--only names no subject');
  return { runs: count(values.runs, '--runs'), seconds: count(values.seconds, '--seconds'), top: count(values.top, '--top'), only, variants };
}

let options: Options;
try {
  options = parseOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`perf-split: ${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
const { runs: RUNS, seconds: SECONDS, top: TOP, only: ONLY, variants: VARIANTS } = options;

const t0 = Date.now();
const say = (line: string): void => { process.stderr.write(`[perf-split ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}\n`); };
const group = new ProcessGroup();
let run = '';
const perfMaps = new Set<string>();

async function cleanup(): Promise<void> {
  stopLoad();
  await group.stopAll();
  for (const f of perfMaps) rmSync(f, { force: true });
  if (run !== '') await rm(run, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { say(`${signal}: stopping`); void cleanup().finally(() => process.exit(130)); });

async function main(): Promise<void> {
  // the names first, so a typo fails before anything starts
  const all = buildSubjects(VARIANTS);
  const subjects = ONLY.map((name) => {
    const s = all.find((x) => x.name === name);
    if (s === undefined) throw new Error(`--only: no subject ${JSON.stringify(name)}; there are ${all.map((x) => x.name).join(', ')}`);
    if (s.reference === true || s.sessions !== undefined) throw new Error(`--only: ${name} is not measured by perf-split (a reference point, or sessions of its own)`);
    return s;
  });
  if (os.availableParallelism() < 2) throw new Error('perf-split pins the proxy to CPU 1 and the rest to CPU 0: it needs 2 CPUs');
  try {
    execFileSync('perf', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('perf is not installed (Debian: apt-get install linux-perf)');
  }
  const bins = ensureBinaries(false, say);
  if (bins.wrk === null) throw new Error('wrk is not installed (apt-get install wrk)');
  const machine = describeMachine();
  say(`machine: ${machine.cpu}, ${machine.cores} cores; load average ${machine.loadavg.join(' / ')}`);
  group.pin = PIN;
  execFileSync('taskset', ['-p', '-c', PIN.rest, String(process.pid)], { stdio: 'ignore' });
  run = await mkdtemp(join(os.tmpdir(), 'stickyd-perf-split-'));
  await prepareRunDir(run);
  const cookies = buildCookies(COOKIES);
  const cookieFile = join(run, 'cookies.txt');
  await writeFile(cookieFile, cookies.join('\n') + '\n');
  const backends = await startBackends(group, run, bins.nginx);
  say(`backends on ${backends.ports.join(', ')}: ${backends.kind}`);
  const v1 = backends.ports.map((port) => ({ address: '127.0.0.1', port }));
  const env: BenchEnv = {
    group, run, backends: backends.ports, bins, workers: 1, profDir: null,
    stickydConfig: await writeStickydConfig(join(run, 'stickyd'), v1),
    stickydEditsConfig: await writeStickydEditsConfig(join(run, 'stickyd-edits'), v1),
    stickydSplitConfig: await writeStickydSplitConfig(join(run, 'stickyd-split'), v1),
    stickydPins: await writeStickydPinsConfig(join(run, 'stickyd-pins'), v1),
  };
  for (const s of subjects) {
    const why = s.unavailable(env);
    if (why !== null) throw new Error(`${s.name}: ${why}`);
  }
  const samples: Sample[] = [];
  for (let r = 1; r <= RUNS; r++) {
    for (const subject of subjects) {
      say(`run ${r}/${RUNS}: ${subject.name}`);
      samples.push(await measure(subject, env, r, cookieFile, bins.wrk));
    }
  }
  const text = render(samples, subjects.map((s) => s.name), machine.cpu);
  process.stdout.write(text);
  await mkdir(OUT_DIR, { recursive: true });
  const file = join(OUT_DIR, `perf-split-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify({ date: new Date().toISOString(), machine, runs: RUNS, seconds: SECONDS, hz: SAMPLE_HZ, connections: CONNECTIONS, samples }, null, 2) + '\n');
  say(`raw figures: ${file}`);
}

/** Starts `subject` under --perf-basic-prof, warms it up, and profiles one measurement. */
async function measure(subject: Subject, env: BenchEnv, r: number, cookieFile: string, wrk: string): Promise<Sample> {
  const before = process.env.NODE_OPTIONS;
  // cluster workers inherit the environment, so every Node process of the subject writes a perf map
  process.env.NODE_OPTIONS = `${before ?? ''} --perf-basic-prof`.trim();
  let running: Running;
  try {
    running = await subject.start(env);
  } finally {
    if (before === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = before;
  }
  const root = running.pid!;
  try {
    const spec = { url: `http://127.0.0.1:${running.port}/ping`, host: DEMO_HOST, connections: CONNECTIONS, durationSec: SECONDS, cookies: [], cookieFile, cpus: PIN.rest };
    const warm = await runLoad('wrk', wrk, spec);
    if (warm.errors > 0 || warm.non2xx > 0) throw new Error(`${subject.name}: warm-up had ${warm.errors} socket errors and ${warm.non2xx} error statuses`);
    const pids = treePids(root);
    for (const pid of pids) perfMaps.add(`/tmp/perf-${pid}.map`);
    const data = join(run, `perf-${subject.name}-${r}.data`);
    const perf = spawn('taskset', ['-c', PIN.rest, 'perf', 'record', '-q', '-e', 'cpu-clock', '-F', String(SAMPLE_HZ), '-p', pids.join(','), '-o', data], { stdio: ['ignore', 'ignore', 'pipe'] });
    let perfErr = '';
    perf.stderr.on('data', (d: Buffer) => { perfErr += d.toString(); });
    const perfDone = new Promise<number | null>((res) => perf.once('close', (code) => res(code)));
    await sleep(300); // perf attaches to every thread before the window opens
    const cpu0 = treeCpu(root).total;
    const load = await runLoad('wrk', wrk, spec);
    const cpu1 = treeCpu(root).total;
    perf.kill('SIGINT');
    const code = await perfDone;
    if (!existsSync(data)) throw new Error(`${subject.name}: perf record wrote nothing (exit ${code}): ${perfErr.trim()}`);
    if (load.errors > 0 || load.non2xx > 0) throw new Error(`${subject.name}: ${load.errors} socket errors and ${load.non2xx} error statuses`);
    const usPerReq = ((cpu1 - cpu0) * 1e6) / load.requests;
    const rows = perfReport(data);
    const total = rows.reduce((a, x) => a + x.samples, 0);
    if (total === 0) throw new Error(`${subject.name}: perf recorded no samples`);
    const layers = Object.fromEntries(LAYERS.map((l) => [l, 0])) as Record<Layer, number>;
    const symbols: Record<string, number> = {};
    const zero = (): Record<Tier, number> => ({ interpreted: 0, baseline: 0, optimised: 0 });
    const tiers = { proxy: zero(), all: zero() };
    const proxySymbols: Record<string, number> = {};
    for (const row of rows) {
      const us = (row.samples / total) * usPerReq;
      const layer = layerOf(row.dso, row.sym);
      const key = symbolKey(row.dso, row.sym);
      layers[layer] += us;
      symbols[key] = (symbols[key] ?? 0) + us;
      const tier = jitTier(row.sym);
      if (tier !== null) {
        tiers.all[tier] += us;
        if (layer === 'JS the proxy') {
          tiers.proxy[tier] += us;
          proxySymbols[`${tier} ${key}`] = (proxySymbols[`${tier} ${key}`] ?? 0) + us;
        }
      }
    }
    say(`  ${load.requests} requests, ${load.rps.toFixed(0)} req/s, ${usPerReq.toFixed(1)} µs CPU per request, ${total} samples`);
    return { subject: subject.name, run: r, requests: load.requests, rps: load.rps, usPerReq, samples: total, layers, symbols, tiers, proxySymbols };
  } finally {
    await group.stopPid(root);
    for (const f of perfMaps) rmSync(f, { force: true });
    perfMaps.clear();
  }
}

/** `perf report`'s rows: samples per (dso, symbol), while the process's perf maps are still on disk. */
function perfReport(data: string): { dso: string; sym: string; samples: number }[] {
  const out = execFileSync('perf', ['report', '-i', data, '--stdio', '--no-children', '--sort', 'dso,sym', '-F', 'sample,dso,sym', '-t', '\t', '-q'], { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  const rows: { dso: string; sym: string; samples: number }[] = [];
  for (const line of out.split('\n')) {
    const [n, dso, sym] = line.split('\t');
    if (n === undefined || dso === undefined || sym === undefined || !/^\s*\d+\s*$/.test(n)) continue;
    rows.push({ samples: Number(n), dso: dso.trim(), sym: sym.trim() });
  }
  return rows;
}

const f1 = (x: number): string => x.toFixed(1);
const signed = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;

function render(samples: readonly Sample[], names: readonly string[], cpu: string): string {
  const of = (name: string): Sample[] => samples.filter((s) => s.subject === name);
  const runs = Math.max(...names.map((n) => of(n).length));
  const lines = [
    `perf-split, ${new Date().toISOString().slice(0, 16)} UTC, ${cpu}: ${runs} interleaved runs of ${SECONDS} s per subject, wrk -c${CONNECTIONS} with ${COOKIES} cookies,`,
    `each subject alone on CPU 1 with 1 worker; cpu-clock samples at ${SAMPLE_HZ} Hz; µs of CPU per request (medians)`,
    '',
    `| layer | ${names.join(' | ')} |${names.slice(1).map((n) => ` ${names[0]} − ${n} |`).join('')}`,
    `| --- |${names.map(() => ' ---: |').join('')}${names.slice(1).map(() => ' ---: |').join('')}`,
  ];
  // a difference is the median of run-by-run differences (run i of one subject beside run i of the other)
  const diff = (a: string, b: string, pick: (s: Sample) => number): number => {
    const A = of(a);
    const B = of(b);
    return median(A.slice(0, Math.min(A.length, B.length)).map((s, i) => pick(s) - pick(B[i]!)));
  };
  const row = (label: string, pick: (s: Sample) => number): string =>
    `| ${label} | ${names.map((n) => f1(median(of(n).map(pick)))).join(' | ')} |${names.slice(1).map((n) => ` ${signed(diff(names[0]!, n, pick))} |`).join('')}`;
  for (const layer of LAYERS) lines.push(row(layer, (s) => s.layers[layer]));
  lines.push(row('**total (the tree\'s CPU per request)**', (s) => s.usPerReq));
  lines.push(`| req/s | ${names.map((n) => median(of(n).map((s) => s.rps)).toFixed(0)).join(' | ')} |${names.slice(1).map(() => ' |').join('')}`);
  lines.push('', 'JavaScript by V8 tier, µs per request (medians): the proxy\'s own / all JavaScript', '', `| tier | ${names.join(' | ')} |`, `| --- |${names.map(() => ' ---: |').join('')}`);
  for (const tier of TIERS) lines.push(`| ${tier} | ${names.map((n) => `${f1(median(of(n).map((s) => s.tiers.proxy[tier])))} / ${f1(median(of(n).map((s) => s.tiers.all[tier])))}`).join(' | ')} |`);
  // a subject's TOP entries of one of its per-sample records, by their median over its runs (0 where a run has none)
  const topOf = (n: string, record: (s: Sample) => Record<string, number>): (readonly [string, number])[] => {
    const keys = new Set(of(n).flatMap((s) => Object.keys(record(s))));
    return [...keys].map((k) => [k, median(of(n).map((s) => record(s)[k] ?? 0))] as const).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).slice(0, TOP);
  };
  const list = (title: string, top: readonly (readonly [string, number])[]): void => {
    lines.push('', title, '');
    for (const [k, v] of top) lines.push(`    ${v.toFixed(2).padStart(6)}  ${k}`);
  };
  for (const n of names) {
    const top = topOf(n, (s) => s.proxySymbols);
    if (top.length > 0) list(`${n}: the proxy's own functions by tier, µs per request (median)`, top);
  }
  for (const n of names) list(`${n}: top ${TOP} symbols, µs per request (median)`, topOf(n, (s) => s.symbols));
  const sym = (s: Sample, k: string): number => s.symbols[k] ?? 0;
  for (const n of names.slice(1)) {
    const keys = new Set([...of(names[0]!), ...of(n)].flatMap((s) => Object.keys(s.symbols)));
    const d = [...keys].map((k) => [k, diff(names[0]!, n, (s) => sym(s, k))] as const).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, TOP);
    lines.push('', `${names[0]} − ${n}: the ${TOP} symbols that differ most, µs per request (median of run-by-run differences)`, '');
    for (const [k, v] of d) lines.push(`    ${signed(v).padStart(6)}  ${k}`);
  }
  return lines.join('\n') + '\n';
}

// last, so that every module-level constant above is initialised before main() reads it
try {
  await main();
} catch (err) {
  say(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
