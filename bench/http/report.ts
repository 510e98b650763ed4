// Turns the samples of one `npm run bench` into the medians, the ratios (to direct, to nginx, to
// node-http-proxy, all from the same run), the checks against the issue's targets, the RESULTS.md
// block and the JSON files (bench/results.json, summary; bench/out/http-<time>.json, raw).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PAIR_WARMUP_SEC, type BenchOptions, type Tool } from './args.js';
import type { LoadSample } from './load.js';
import { machineLine, type Machine } from '../machine.js';
import { intervalVerdict, median, medianInterval, replaceSection, table } from '../results-md.js';

export const OUT_DIR = fileURLToPath(new URL('../out/', import.meta.url));
const SUMMARY_JSON = fileURLToPath(new URL('../results.json', import.meta.url));

export interface Sample extends LoadSample {
  readonly subject: string;
  readonly run: number;
  /** CPU seconds of the proxy's process tree during the measurement; null for direct */
  readonly cpuSec: number | null;
  /** of cpuSec, the seconds spent in threads other than each process's main thread (cpu.ts treeCpu) */
  readonly helperCpuSec?: number | null;
  /** of cpuSec, the seconds spent by the root process itself (cpu.ts treeCpu: the primary of a node:cluster proxy, nginx's master) */
  readonly rootCpuSec?: number | null;
  /** share of all cores busy during the measurement (everything on the machine) */
  readonly machineBusy: number;
  /** the pairs phase (tool 'pair'): the variant this sample was loaded beside stickyd with, on both of the pair's samples */
  readonly pair?: string;
  /** bytes of stdout (stickyd's access log) per request, when the harness reads the proxy's stdout */
  readonly stdoutBytesPerReq?: number | null;
}

export interface SubjectInfo {
  readonly name: string;
  readonly what: string;
  readonly sticky: string;
  readonly sendsCookies: boolean;
}

export interface Summary {
  readonly subject: string;
  readonly tool: Tool;
  readonly runs: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly errors: number;
  readonly non2xx: number;
  readonly cpuUsPerReq: number | null;
  readonly cpuUsPerReqMin: number | null;
  readonly cpuUsPerReqMax: number | null;
  readonly xDirect: number | null;
  readonly xNodeHttpProxy: number | null;
  readonly cpuXNginx: number | null;
  readonly cpuXUndici: number | null;
  readonly p99OverDirectMs: number | null;
  readonly machineBusy: number;
}

export interface Report {
  readonly date: string;
  readonly machine: Machine;
  readonly loadavgAfter: readonly number[];
  readonly versions: Readonly<Record<string, string | null>>;
  readonly options: BenchOptions;
  readonly backends: string;
  readonly subjects: readonly SubjectInfo[];
  readonly skipped: readonly { name: string; reason: string }[];
  readonly samples: readonly Sample[];
  readonly elapsedSec: number;
  /** the command-line arguments of the run, for the experiment blocks */
  readonly argv: readonly string[];
  /** the fixed-rate phase's rate and how it was chosen, or null when it did not run */
  readonly ratePhase: { readonly rate: number; readonly why: string } | null;
  /** in-process cost of each default feature, measured in the same run (bench/features/micro.ts) */
  readonly features: readonly FeatureCost[] | null;
}

export interface FeatureCost {
  readonly feature: string;
  readonly what: string;
  readonly ns: number;
  readonly minNs: number;
  readonly maxNs: number;
}

export function usPerReq(s: Sample): number | null {
  return s.cpuSec === null || s.requests === 0 ? null : (s.cpuSec * 1e6) / s.requests;
}

export function summarise(samples: readonly Sample[], subjects: readonly SubjectInfo[], tool: Tool): Summary[] {
  const base = subjects.map((info) => {
    const mine = samples.filter((s) => s.subject === info.name && s.tool === tool);
    const cpu = mine.map(usPerReq).filter((x): x is number => x !== null);
    return {
      subject: info.name, tool, runs: mine.length,
      rps: median(mine.map((s) => s.rps)),
      p50Ms: median(mine.map((s) => s.p50Ms)),
      p99Ms: median(mine.map((s) => s.p99Ms)),
      p999Ms: median(mine.map((s) => s.p999Ms)),
      errors: mine.reduce((a, s) => a + s.errors, 0), non2xx: mine.reduce((a, s) => a + s.non2xx, 0),
      cpuUsPerReq: cpu.length > 0 ? median(cpu) : null,
      cpuUsPerReqMin: cpu.length > 0 ? Math.min(...cpu) : null,
      cpuUsPerReqMax: cpu.length > 0 ? Math.max(...cpu) : null,
      machineBusy: median(mine.map((s) => s.machineBusy)),
    };
  }).filter((s) => s.runs > 0);
  const find = (name: string): (typeof base)[number] | undefined => base.find((s) => s.subject === name);
  const direct = find('direct');
  const nhp = find('node-http-proxy');
  const nginx = find('nginx');
  const undici = find('undici');
  return base.map((s) => ({
    ...s,
    cpuXUndici: undici?.cpuUsPerReq != null && s.cpuUsPerReq !== null ? s.cpuUsPerReq / undici.cpuUsPerReq : null,
    xDirect: direct ? s.rps / direct.rps : null,
    xNodeHttpProxy: nhp ? s.rps / nhp.rps : null,
    cpuXNginx: nginx?.cpuUsPerReq != null && s.cpuUsPerReq !== null ? s.cpuUsPerReq / nginx.cpuUsPerReq : null,
    p99OverDirectMs: direct && s.subject !== 'direct' ? s.p99Ms - direct.p99Ms : null,
  }));
}

const f = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits));

function summaryTable(rows: readonly Summary[], subjects: readonly SubjectInfo[], workers: number): string {
  return table(
    [`proxy (${workers} worker${workers === 1 ? '' : 's'})`, 'sticky check', 'req/s', 'x direct', 'x node-http-proxy', 'p50 ms', 'p99 ms', 'p99.9 ms', 'p99 over direct, ms', 'errors / non-2xx', 'proxy CPU µs/req (min-max)', 'CPU x nginx', 'CPU x undici'],
    rows.map((r) => {
      const info = subjects.find((s) => s.name === r.subject)!;
      return [
        `**${r.subject}**: ${info.what}${info.sendsCookies ? '' : ' (no cookie sent)'}`, info.sticky,
        Math.round(r.rps).toLocaleString('en'), f(r.xDirect, 2), f(r.xNodeHttpProxy, 2), f(r.p50Ms, 2), f(r.p99Ms, 2), f(r.p999Ms, 2), f(r.p99OverDirectMs, 2),
        `${r.errors} / ${r.non2xx}`,
        r.cpuUsPerReq === null ? '-' : `${f(r.cpuUsPerReq)} (${f(r.cpuUsPerReqMin)}-${f(r.cpuUsPerReqMax)})`, f(r.cpuXNginx, 2), f(r.cpuXUndici, 2),
      ];
    }),
  );
}

/** Per-run differences `a - b` of CPU per request (same run, same tool: interleaved neighbours); with `pair`, only that pair of the pairs phase. */
function paired(samples: readonly Sample[], tool: Tool, a: string, b: string, pair?: string): number[] {
  return pairedBy(samples, tool, a, b, pair, (x, y) => x - y);
}

/** Per-run ratios `a / b` of CPU per request, as paired() pairs them. */
function pairedRatios(samples: readonly Sample[], tool: Tool, a: string, b: string, pair?: string): number[] {
  return pairedBy(samples, tool, a, b, pair, (x, y) => x / y);
}

function pairedBy(samples: readonly Sample[], tool: Tool, a: string, b: string, pair: string | undefined, combine: (a: number, b: number) => number): number[] {
  const out: number[] = [];
  const mine = pair === undefined ? samples : samples.filter((s) => s.pair === pair);
  for (const x of mine) {
    if (x.subject !== a || x.tool !== tool) continue;
    const y = mine.find((s) => s.subject === b && s.tool === tool && s.run === x.run);
    const ux = usPerReq(x);
    const uy = y === undefined ? null : usPerReq(y);
    if (ux !== null && uy !== null) out.push(combine(ux, uy));
  }
  return out;
}

function targets(rows: readonly Summary[], samples: readonly Sample[], tool: Tool, concurrent = false): string[] {
  const get = (n: string): Summary | undefined => rows.find((r) => r.subject === n);
  const s = get('stickyd');
  const lines: string[] = [];
  const verdict = (ok: boolean): string => (ok ? '**met**' : '**missed**');
  const spread = (xs: readonly number[]): string => (xs.length === 0 ? '' : `; per run ${xs.map((x) => f(x)).join(', ')}`);
  const undici = get('undici');
  if (s?.cpuXUndici != null && undici?.cpuUsPerReq != null) {
    const perRun = samples.filter((x) => x.subject === 'stickyd' && x.tool === tool).map((x) => {
      const y = samples.find((u) => u.subject === 'undici' && u.tool === tool && u.run === x.run);
      const a = usPerReq(x);
      const b = y === undefined ? null : usPerReq(y);
      return a !== null && b !== null ? a / b : null;
    }).filter((x): x is number => x !== null);
    lines.push(`- stickyd (defaults) CPU per request <= 1.05x the bare undici proxy: ${f(s.cpuUsPerReq)} µs vs ${f(undici.cpuUsPerReq)} µs = ${f(s.cpuXUndici, 3)}x (per run ${perRun.map((x) => f(x, 2)).join(', ')}): ${verdict(s.cpuXUndici <= 1.05)}`);
  }
  const floor = pairedRatios(samples, 'pair', 'stickyd', 'undici', 'undici');
  if (floor.length > 0) {
    const ci = medianInterval(floor);
    lines.push(`- the same, from the pairs phase below (both loaded at once, fresh processes every run): ${f(median(floor), 3)}x${ci === null ? '' : ` (95 % interval of the median ${f(ci.low, 3)} to ${f(ci.high, 3)}x)`}: ${verdictText(floor, 1.05, '1.05x')}`);
  }
  const root = (subject: string): number | null => {
    const xs = samples
      .filter((x) => x.subject === subject && x.tool === tool && x.rootCpuSec != null && x.requests > 0)
      .map((x) => (x.rootCpuSec! * 1e6) / x.requests);
    return xs.length === 0 ? null : median(xs);
  };
  const rootStickyd = root('stickyd');
  const rootUndici = root('undici');
  if (rootStickyd !== null && s?.cpuUsPerReq != null) {
    lines.push(`- of it, stickyd's primary process (supervision, stats, no proxying): ${f(rootStickyd)} µs per request${rootUndici === null ? '' : `; the undici proxy's node:cluster primary ${f(rootUndici)} µs`}`);
  }
  if (s?.cpuXNginx != null) lines.push(`- stickyd CPU per request vs nginx: ${f(s.cpuUsPerReq)} µs vs ${f(get('nginx')?.cpuUsPerReq)} µs = ${f(s.cpuXNginx, 2)}x`);
  if (s?.xNodeHttpProxy != null) lines.push(`- stickyd throughput vs node-http-proxy: ${f(s.xNodeHttpProxy, 2)}x`);
  if (s?.p99OverDirectMs != null) lines.push(`- stickyd p99 added over direct: ${f(s.p99OverDirectMs, 2)} ms`);
  const cost = (variant: string, what: string, sign: 1 | -1): void => {
    const v = get(variant)?.cpuUsPerReq;
    if (v == null || s?.cpuUsPerReq == null) return;
    // sign 1: the variant has the feature off, so stickyd - variant is its cost; -1: the variant adds work
    const diffs = sign === 1 ? paired(samples, tool, 'stickyd', variant) : paired(samples, tool, variant, 'stickyd');
    const d = diffs.length > 0 ? median(diffs) : sign * (s.cpuUsPerReq - v);
    lines.push(`- ${what}: ${d >= 0 ? '+' : ''}${f(d)} µs per request, ${f((d / s.cpuUsPerReq) * 100)} % of stickyd's ${f(s.cpuUsPerReq)} µs (median of per-run differences${spread(diffs)})`);
  };
  cost('stickyd-nolog', 'access log (stickyd - stickyd-nolog)', 1);
  cost('stickyd-cache', 'session cache (stickyd-cache - stickyd; negative: the cache saves CPU)', -1);
  cost('stickyd-mint', 'minting a cookie on every request (stickyd-mint - stickyd)', -1);
  // the pairs phase measures the log's cost within one window; the sequential rows only when it did not run
  const pair = pairCost(samples, PAIR_FEATURES[0]!);
  const nolog = get('stickyd-nolog')?.cpuUsPerReq;
  if (pair !== null) lines.push(logVerdict(pair.diffs, pair.stickyd, 'the pairs phase below'));
  else if (nolog != null && s?.cpuUsPerReq != null) {
    const diffs = paired(samples, tool, 'stickyd', 'stickyd-nolog');
    lines.push(logVerdict(diffs.length > 0 ? diffs : [s.cpuUsPerReq - nolog], s.cpuUsPerReq, concurrent ? 'the concurrent runs above' : 'the sequential runs above'));
  }
  return lines;
}

/**
 * The access-log target's line. A verdict only where the run resolves it: the median's 95 %
 * interval (sign test) wholly at or below 3 % of stickyd's CPU (met) or above it (missed); an
 * interval across 3 % says the run cannot tell.
 */
function logVerdict(diffs: readonly number[], stickydUs: number, from: string): string {
  const pct = (x: number): number => (x / stickydUs) * 100;
  const ci = medianInterval(diffs);
  const range = ci === null ? '' : ` (95 % interval of the median ${f(pct(ci.low))} to ${f(pct(ci.high))} %)`;
  return `- access log <= 3 % of stickyd's CPU per request at full load, from ${from}: ${f(pct(median(diffs)))} %${range}: ${verdictText(diffs.map(pct), 3, '3 %')}`;
}

function verdictText(values: readonly number[], limit: number, limitText: string): string {
  switch (intervalVerdict(values, limit)) {
    case 'met': return '**met**';
    case 'missed': return '**missed**';
    case 'spans': return `**not shown**: the interval spans ${limitText}, so this run cannot tell`;
    case 'too few': return `**not shown**: ${values.length} paired runs, 6 are needed for an interval of the median`;
  }
}

/** The pairs phase's variants, each stickyd with one default feature changed. */
interface PairFeature {
  readonly variant: string;
  readonly feature: string;
  /** 1: the variant has the feature off, so stickyd - variant is its cost; -1: the variant adds work */
  readonly sign: 1 | -1;
}
const PAIR_FEATURES: readonly PairFeature[] = [
  { variant: 'stickyd-nolog', feature: 'access log (stickyd - stickyd-nolog)', sign: 1 },
  { variant: 'stickyd-cache', feature: 'session cache, not a default (stickyd-cache - stickyd; negative: it saves CPU)', sign: -1 },
  { variant: 'stickyd-mint', feature: 'minting a cookie on every request (stickyd-mint - stickyd)', sign: -1 },
];

/** A pair's per-run differences (the feature's cost) and stickyd's CPU per request in it; null: the pair did not run. */
function pairCost(samples: readonly Sample[], p: PairFeature): { diffs: number[]; stickyd: number; runs: number } | null {
  const diffs = paired(samples, 'pair', 'stickyd', p.variant, p.variant).map((d) => p.sign * d);
  return diffs.length === 0 ? null : { diffs, stickyd: pairMedian(samples, p.variant, 'stickyd'), runs: diffs.length };
}

function pairTable(samples: readonly Sample[]): string | null {
  const rows = PAIR_FEATURES.flatMap((p) => {
    const c = pairCost(samples, p);
    if (c === null) return [];
    const ci = medianInterval(c.diffs);
    const d = median(c.diffs);
    const dearer = c.diffs.filter((x) => x > 0).length;
    return [[p.feature, f(c.stickyd), `${d >= 0 ? '+' : ''}${f(d)}`, f((d / c.stickyd) * 100), ci === null ? '-' : `${f(ci.low)} to ${f(ci.high)}`, `${dearer} of ${c.runs}`, c.diffs.map((x) => f(x)).join(', ')]];
  });
  if (rows.length === 0) return null;
  return table(['feature', 'stickyd µs/req in the pair', 'cost µs/req (median of per-run differences)', '% of stickyd', '95 % interval of the median, µs', 'runs with a positive cost', 'per run'], rows);
}

/** Median CPU per request of `subject`'s samples in the pairs phase beside `pair`. */
function pairMedian(samples: readonly Sample[], pair: string, subject: string): number {
  return median(samples.filter((x) => x.tool === 'pair' && x.pair === pair && x.subject === subject).map(usPerReq).filter((x): x is number => x !== null));
}

/** stickyd beside a whole other proxy or build in the pairs phase (undici, --stickyd builds): per-run ratios. */
function pairRatioTable(samples: readonly Sample[]): string | null {
  const features = new Set(PAIR_FEATURES.map((p) => p.variant));
  const others = [...new Set(samples.filter((x) => x.tool === 'pair' && x.pair !== undefined && !features.has(x.pair)).map((x) => x.pair!))];
  const rows = others.flatMap((other) => {
    const ratios = pairedRatios(samples, 'pair', 'stickyd', other, other);
    if (ratios.length === 0) return [];
    const ci = medianInterval(ratios);
    return [[`stickyd / ${other}`, f(pairMedian(samples, other, 'stickyd')), f(pairMedian(samples, other, other)), f(median(ratios), 3), ci === null ? '-' : `${f(ci.low, 3)} to ${f(ci.high, 3)}`, `${ratios.filter((x) => x > 1).length} of ${ratios.length}`, ratios.map((x) => f(x, 2)).join(', ')]];
  });
  if (rows.length === 0) return null;
  return table(['pair', 'stickyd µs/req in the pair', 'the other µs/req', 'ratio (median of per-run ratios)', '95 % interval of the median', 'runs where stickyd cost more', 'per run'], rows);
}

function rateTable(r: Report, tool: 'rate' | 'rate-own' = 'rate'): string {
  const rows = summarise(r.samples, r.subjects, tool);
  return table(
    ['proxy', 'offered req/s', 'answered req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'most requests waiting for a connection', 'errors / non-2xx', 'proxy CPU µs/req (min-max)'],
    rows.map((x) => {
      const mine = r.samples.filter((s) => s.subject === x.subject && s.tool === tool);
      const offered = tool === 'rate' ? (r.ratePhase?.rate ?? 0) : Math.max(...mine.map((s) => s.offered ?? 0));
      return [
        `**${x.subject}**`, offered.toLocaleString('en'), Math.round(x.rps).toLocaleString('en'), f(x.p50Ms, 2), f(x.p99Ms, 2), f(x.p999Ms, 2),
        String(Math.max(...mine.map((s) => s.maxQueued ?? 0))), `${x.errors} / ${x.non2xx}`,
        x.cpuUsPerReq === null ? '-' : `${f(x.cpuUsPerReq)} (${f(x.cpuUsPerReqMin)}-${f(x.cpuUsPerReqMax)})`,
      ];
    }),
  );
}

function featureTable(features: readonly FeatureCost[]): string {
  return table(['default feature', 'what was timed', 'ns per request (min-max of rounds)'], features.map((x) => [x.feature, x.what, `${x.ns.toFixed(0)} (${x.minNs.toFixed(0)}-${x.maxNs.toFixed(0)})`]));
}

export function renderMarkdown(r: Report): string {
  const o = r.options;
  const out: string[] = [];
  out.push(o.section === 'http' ? '## HTTP: stickyd beside nginx, HAProxy and the Node proxies (`npm run bench`)' : `## HTTP experiment \`${o.section}\` (\`npm run bench -- ${r.argv.join(' ')}\`)`, '');
  out.push(`Run ${r.date} in ${Math.round(r.elapsedSec)} s on ${machineLine(r.machine)}.`);
  out.push(`Load average before ${r.machine.loadavg.join(' / ')}, after ${r.loadavgAfter.join(' / ')} (1/5/15 min): other work shares these cores, so req/s moves with it; CPU per request is the steadier figure.`);
  if (o.concurrent) out.push('**Concurrent A/B mode (`--concurrent`)**: in each run every subject below was loaded at the same time, each by its own wrk, and each proxy\'s CPU per request read over the same window, so the machine\'s changes fall on all of them alike. Each proxy had a share of the cores, not a core: compare rows with each other and per-run ratios, not with other tables.');
  if (o.pin) out.push('**Pinned A/B mode (`--pin`)**: every proxy runs **1 worker on CPU 1**; backends, load generator and the harness share CPU 0. Not the issue\'s 2-worker setup: compare rows with each other, not with the 2-worker tables.');
  out.push(`Setup: ${o.connections} connections, ${o.durationSec} s per measurement${o.tools.includes('autocannon') && o.acDurationSec !== null && o.acDurationSec !== o.durationSec ? ` (${o.acDurationSec} s with autocannon, the cross-check)` : ''}, ${o.runs} interleaved run(s) per subject and tool after a ${o.warmupSec} s warm-up, medians shown; every request is \`GET /ping\` with \`Host: demo.example.com\` and \`Cookie: session=<v>\` cycling over ${o.cookies.toLocaleString('en')} values (except where no cookie is sent). Backends: ${r.backends}. Every proxy runs ${o.pin ? 1 : 2} worker(s) (nginx worker_processes, HAProxy nbthread, node:cluster workers).`);
  out.push(`Versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v ?? 'n/a'}`).join('; ')}.`);
  out.push('autocannon reports latency in whole milliseconds, so its p50 of a sub-millisecond answer reads 0.');
  out.push('Proxy CPU: user+system time of all the proxy\'s processes (from /proc) over the measurement, divided by requests completed; the load generator and backends are not included. "machine busy" in the JSON is the share of both cores in use during each run.');
  if (r.skipped.length > 0) out.push('', `Skipped: ${r.skipped.map((s) => `${s.name} (${s.reason})`).join('; ')}.`);
  const tools = o.tools.filter((t) => r.samples.some((s) => s.tool === t && t !== 'rate' && t !== 'rate-own'));
  const primary = tools[0];
  for (const tool of tools) {
    out.push('', `### ${tool}${tool === primary && tools.length > 1 ? ' (headline)' : ''}`, '', summaryTable(summarise(r.samples, r.subjects, tool), r.subjects, o.pin ? 1 : 2));
  }
  if (primary !== undefined) out.push('', `### Targets and feature costs (${primary}, same run)`, '', ...targets(summarise(r.samples, r.subjects, primary), r.samples, primary, o.concurrent === true));
  const pairs = pairTable(r.samples);
  if (pairs !== null) {
    out.push('', '### Each default feature\'s cost: stickyd and its variant loaded at once (the pairs phase)', '',
      `After the saturation runs, stickyd and one variant at a time were loaded at the same time, each by its own wrk (${o.connections} connections), ${o.durationSec} s per run, each one's CPU per request read over the same window. Pinned as with --pin: 1 worker each, both on CPU 1, backends and load generators on CPU 0. Every run started both afresh and warmed them up together for ${PAIR_WARMUP_SEC} s, so a process's own JIT choices do not stay in every run. A run's difference is the feature's cost with the machine's changes between runs taken out (the sequential rows above carry them). Both shared the cores, so their absolute figures are not the table's above. The interval is the sign test's 95 % interval of the median difference, which assumes nothing of the noise's shape.`,
      '', pairs);
  }
  const ratios = pairRatioTable(r.samples);
  if (ratios !== null) {
    out.push('', '### stickyd beside another proxy or build, loaded at once (the pairs phase)', '',
      `Run like every pair of this phase (${o.durationSec} s per run, both afresh for every run, 1 worker each on CPU 1, warmed up together for ${PAIR_WARMUP_SEC} s), with a whole other proxy or build beside stickyd instead of a variant of one feature (undici: the floor of the 1.05x target). A run's ratio is stickyd's CPU per request over the other's in the same window; the interval is the sign test's, as above.`,
      '', ratios);
  }
  if (r.ratePhase !== null && r.samples.some((s) => s.tool === 'rate')) {
    out.push('', `### Fixed rate: ${r.ratePhase.rate.toLocaleString('en')} req/s (${r.ratePhase.why})`, '',
      `bench/http/rate-load.c, ${o.connections} keep-alive connections, one request in flight on each, ${o.durationSec} s x ${o.runs} interleaved runs (after the saturation runs); each latency runs from when its request was due, so time spent waiting for a free connection counts (wrk2's correction for coordinated omission). Medians of the runs.`,
      '', rateTable(r));
    if (r.samples.some((s) => s.tool === 'rate-own')) {
      out.push('', `### Fixed rate: half of each proxy's own ${tools[0] ?? 'wrk'} throughput above`, '',
        'The same tool and runs, each proxy offered half of what it answered at saturation: latency at the load a user would run it at, where the shared rate above saturates the Node proxies.', '', rateTable(r, 'rate-own'));
    }
  }
  if (r.features !== null && r.features.length > 0) {
    out.push('', '### Each default feature in-process (`bench/features/micro.ts`, same run)', '',
      'The HTTP rows above differ by less than their spread for the smaller features, and request ids and metrics have no switch; so each feature\'s own work is also timed in-process, in a child of this run, over the same RuntimeSnapshot code the workers run. Median of rounds.',
      '', featureTable(r.features));
  }
  out.push('', 'Raw samples: `bench/out/http-*.json`; summary: `bench/results.json`.');
  return out.join('\n');
}

export async function writeReport(r: Report): Promise<{ raw: string }> {
  await mkdir(OUT_DIR, { recursive: true });
  const stamp = r.date.replace(/[:.]/g, '-');
  const raw = join(OUT_DIR, `${r.options.section}-${stamp}.json`);
  await writeFile(raw, JSON.stringify(r, null, 2) + '\n');
  const summary = {
    date: r.date, machine: r.machine, loadavgAfter: r.loadavgAfter, versions: r.versions, options: r.options, backends: r.backends, skipped: r.skipped,
    subjects: r.subjects,
    results: Object.fromEntries([...r.options.tools, ...(r.ratePhase !== null ? ['rate' as const, 'rate-own' as const] : [])].map((t) => [t, summarise(r.samples, r.subjects, t)])),
    ratePhase: r.ratePhase, features: r.features,
  };
  if (r.options.section === 'http') await writeFile(SUMMARY_JSON, JSON.stringify(summary, null, 2) + '\n');
  await replaceSection(r.options.section, renderMarkdown(r));
  return { raw };
}
