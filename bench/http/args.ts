// Command-line options of `npm run bench` (bench/http/run.ts). Defaults reproduce the issue's
// setup: 50 connections, 10 s per measurement, 3 interleaved runs, 1,000 distinct session cookies.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

/**
 * saturation tools, and the fixed-rate phases (bench/http/rate-load.c): 'rate' offers every proxy
 * one rate (half of nginx's saturation), 'rate-own' offers each proxy half of its own; 'pair': wrk
 * samples of the pairs phase (stickyd and one of its variants loaded at once)
 */
export type Tool = 'wrk' | 'autocannon' | 'rate' | 'rate-own' | 'pair';

/** Seconds both of a pair are loaded together before its first run (the first runs read high: JIT warm-up). */
export const PAIR_WARMUP_SEC = 10;

export interface BenchOptions {
  readonly runs: number;
  readonly durationSec: number;
  /** seconds per autocannon measurement; null: half of durationSec when wrk runs too, else durationSec */
  readonly acDurationSec: number | null;
  readonly warmupSec: number;
  readonly connections: number;
  /** distinct `session` cookie values the load generators cycle through */
  readonly cookies: number;
  readonly tools: readonly Tool[];
  /** subject names to run (null: all that can start) */
  readonly only: readonly string[] | null;
  /** apt-get install nginx/haproxy/wrk when missing (as root) */
  readonly install: boolean;
  /** extra stickyd builds to compare: label -> path of a cli.js, plus `run` arguments */
  readonly variants: readonly { label: string; cli: string; args: readonly string[] }[];
  /** write V8 CPU profiles of stickyd's processes to bench/out/prof/<subject>/ */
  readonly cpuProf: boolean;
  readonly quick: boolean;
  /** the fixed-rate phase: its rate in req/s, null for half of nginx's saturation throughput in this run */
  readonly rate: number | null;
  /** run the fixed-rate phase after the saturation runs */
  readonly ratePhase: boolean;
  /** time each default feature in-process at the end (bench/features/micro.ts) */
  readonly features: boolean;
  /** proxies on CPU 1 with 1 worker, load generator and backends on CPU 0 (less noise for A/B) */
  readonly pin: boolean;
  /** runs of the pairs phase: stickyd and each feature variant, undici and each --stickyd build loaded at once (0: none) */
  readonly pairs: number;
  /** every subject of a run measured at once, each under its own wrk, so the machine's noise falls on all alike */
  readonly concurrent: boolean;
  /** RESULTS.md block to write: 'http' (also bench/results.json) or another name for an experiment */
  readonly section: string;
}

const HELP = `Usage: npm run bench -- [options]

  --runs <n>          interleaved runs per subject and tool (default 3; --quick: 1)
  --duration <s>      seconds per measurement (default 10; --quick: 3)
  --ac-duration <s>   seconds per autocannon measurement (default: half of --duration when wrk
                      also runs, so the default run stays near 10 minutes; else --duration)
  --warmup <s>        unrecorded warm-up per subject before the first run (default 1)
  --connections <n>   concurrent connections (default 50)
  --cookies <n>       distinct session cookie values (default 1000)
  --tools <list>      wrk,autocannon (default: both; wrk only when installed)
  --only <list>       subjects to run, e.g. direct,nginx,stickyd
  --no-install        never apt-get install the missing peers
  --stickyd <l>=<cli> [args]  also measure another stickyd build (cookie sent, its defaults), e.g.
                      --stickyd undici=bench/out/variants/undici/dist/cli.js or
                      --stickyd 'cache=dist/cli.js --session-cache 100000'
  --cpu-prof          V8 CPU profiles of every stickyd and Node peer process into bench/out/prof/
  --rate <req/s>      the fixed-rate phase's rate (default: half of nginx's median wrk req/s in
                      this run). After the saturation runs, nginx, undici and stickyd get this
                      rate from bench/http/rate-load.c (built with cc): p50/p99/p99.9 measured
                      from when each request was due, CPU per request at equal load
  --no-rate-phase     skip the fixed-rate phase
  --pairs <n>         runs of the pairs phase (default 9; 0 skips it; not with --concurrent): after
                      the saturation runs, stickyd and each of stickyd-nolog, stickyd-cache,
                      stickyd-mint, undici, every --stickyd build and every opt-in subject,
                      started afresh for every run, are loaded at the same time, each by its
                      own wrk, so each feature's cost (and stickyd's ratio to the other) is
                      read within one window; 9 runs is the fewest whose median interval is
                      not [min, max]
  --no-features       skip the in-process cost of each default feature (bench/features/micro.ts)
  --pin               A/B mode: each proxy with 1 worker pinned to CPU 1, the load generator, the
                      backends and this script on CPU 0 (taskset); steadier CPU per request when
                      other work shares the machine, but not the issue's 2-worker setup
  --concurrent        A/B mode: in each run every subject is loaded at the same time, each by its
                      own wrk, and its CPU per request read over the same window; what slows the
                      machine then slows all subjects alike. wrk only; with --pin the proxies
                      share CPU 1. Compare rows with each other, not with other tables
  --section <name>    write RESULTS.md block <name> instead of 'http' (bench/results.json is then
                      left alone): keeps an experiment beside the headline run
  --quick             smoke run: 3 s x 1 run, 1 s warm-up
`;

export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      runs: { type: 'string' }, duration: { type: 'string' }, 'ac-duration': { type: 'string' }, warmup: { type: 'string' }, connections: { type: 'string' },
      cookies: { type: 'string' }, tools: { type: 'string' }, only: { type: 'string' }, 'no-install': { type: 'boolean' },
      stickyd: { type: 'string', multiple: true }, 'cpu-prof': { type: 'boolean' }, quick: { type: 'boolean' }, rate: { type: 'string' }, 'no-rate-phase': { type: 'boolean' }, 'no-features': { type: 'boolean' }, pin: { type: 'boolean' }, concurrent: { type: 'boolean' }, pairs: { type: 'string' }, section: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const quick = values.quick === true;
  const rate = values.rate === undefined ? null : count(values.rate, '--rate', 0);
  const tools = (values.tools ?? 'wrk,autocannon').split(',').map((t) => t.trim());
  for (const t of tools) if (t !== 'wrk' && t !== 'autocannon') throw new Error(`--tools: unknown tool '${t}'`);
  const durationSec = count(values.duration, '--duration', quick ? 3 : 10);
  const concurrent = values.concurrent === true;
  if (concurrent && tools.some((t) => t !== 'wrk')) throw new Error('--concurrent measures with wrk only: add --tools wrk');
  return {
    runs: count(values.runs, '--runs', quick ? 1 : 3),
    durationSec,
    acDurationSec: values['ac-duration'] === undefined ? null : count(values['ac-duration'], '--ac-duration', durationSec),
    warmupSec: count(values.warmup, '--warmup', 1, true),
    connections: count(values.connections, '--connections', 50),
    cookies: count(values.cookies, '--cookies', 1000),
    tools: tools as Tool[],
    only: values.only === undefined ? null : values.only.split(',').map((s) => s.trim()).filter((s) => s !== ''),
    install: values['no-install'] !== true,
    variants: (values.stickyd ?? []).map(parseVariant),
    cpuProf: values['cpu-prof'] === true,
    quick,
    rate,
    ratePhase: values['no-rate-phase'] !== true,
    features: values['no-features'] !== true,
    pin: values.pin === true,
    pairs: concurrent ? 0 : count(values.pairs, '--pairs', quick ? 0 : 9, true),
    concurrent,
    section: values.section ?? 'http',
  };
}

function count(value: string | undefined, flag: string, fallback: number, zeroOk = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < (zeroOk ? 0 : 1)) throw new Error(`${flag}: expected a ${zeroOk ? 'non-negative' : 'positive'} integer, got '${value}'`);
  return n;
}

function parseVariant(spec: string): { label: string; cli: string; args: string[] } {
  const eq = spec.indexOf('=');
  if (eq <= 0 || eq === spec.length - 1) throw new Error(`--stickyd: expected <label>=<path to cli.js> [run arguments], got '${spec}'`);
  const [cli, ...args] = spec.slice(eq + 1).trim().split(/\s+/);
  return { label: spec.slice(0, eq), cli: resolve(cli!), args };
}
