// Turns the samples of one `npm run bench` into the medians, the ratios (to direct, to nginx, to
// node-http-proxy, all from the same run), the checks against the issue's targets, the RESULTS.md
// block and the JSON files (bench/results.json, summary; bench/out/http-<time>.json, raw).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, Tool } from './args.js';
import type { LoadSample } from './load.js';
import { machineLine, type Machine } from '../machine.js';
import { median, replaceSection, table } from '../results-md.js';

export const OUT_DIR = fileURLToPath(new URL('../out/', import.meta.url));
const SUMMARY_JSON = fileURLToPath(new URL('../results.json', import.meta.url));

export interface Sample extends LoadSample {
  readonly subject: string;
  readonly run: number;
  /** CPU seconds of the proxy's process tree during the measurement; null for direct */
  readonly cpuSec: number | null;
  /** share of all cores busy during the measurement (everything on the machine) */
  readonly machineBusy: number;
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
  readonly errors: number;
  readonly non2xx: number;
  readonly cpuUsPerReq: number | null;
  readonly cpuUsPerReqMin: number | null;
  readonly cpuUsPerReqMax: number | null;
  readonly xDirect: number | null;
  readonly xNodeHttpProxy: number | null;
  readonly cpuXNginx: number | null;
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
      rps: median(mine.map((s) => s.rps)), p50Ms: median(mine.map((s) => s.p50Ms)), p99Ms: median(mine.map((s) => s.p99Ms)),
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
  return base.map((s) => ({
    ...s,
    xDirect: direct ? s.rps / direct.rps : null,
    xNodeHttpProxy: nhp ? s.rps / nhp.rps : null,
    cpuXNginx: nginx?.cpuUsPerReq != null && s.cpuUsPerReq !== null ? s.cpuUsPerReq / nginx.cpuUsPerReq : null,
    p99OverDirectMs: direct && s.subject !== 'direct' ? s.p99Ms - direct.p99Ms : null,
  }));
}

const f = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits));

function summaryTable(rows: readonly Summary[], subjects: readonly SubjectInfo[], workers: number): string {
  return table(
    [`proxy (${workers} worker${workers === 1 ? '' : 's'})`, 'sticky check', 'req/s', 'x direct', 'x node-http-proxy', 'p50 ms', 'p99 ms', 'p99 over direct, ms', 'errors / non-2xx', 'proxy CPU µs/req (min-max)', 'CPU x nginx'],
    rows.map((r) => {
      const info = subjects.find((s) => s.name === r.subject)!;
      return [
        `**${r.subject}**: ${info.what}${info.sendsCookies ? '' : ' (no cookie sent)'}`, info.sticky,
        Math.round(r.rps).toLocaleString('en'), f(r.xDirect, 2), f(r.xNodeHttpProxy, 2), f(r.p50Ms, 2), f(r.p99Ms, 2), f(r.p99OverDirectMs, 2),
        `${r.errors} / ${r.non2xx}`,
        r.cpuUsPerReq === null ? '-' : `${f(r.cpuUsPerReq)} (${f(r.cpuUsPerReqMin)}-${f(r.cpuUsPerReqMax)})`, f(r.cpuXNginx, 2),
      ];
    }),
  );
}

function targets(rows: readonly Summary[]): string[] {
  const get = (n: string): Summary | undefined => rows.find((r) => r.subject === n);
  const s = get('stickyd');
  const lines: string[] = [];
  const verdict = (ok: boolean): string => (ok ? '**met**' : '**missed**');
  if (s?.cpuXNginx != null) lines.push(`- stickyd CPU per request <= 2.0x nginx: ${f(s.cpuUsPerReq)} µs vs ${f(get('nginx')?.cpuUsPerReq)} µs = ${f(s.cpuXNginx, 2)}x: ${verdict(s.cpuXNginx <= 2)}`);
  if (s?.xNodeHttpProxy != null) lines.push(`- stickyd throughput >= 1.5x node-http-proxy: ${f(s.xNodeHttpProxy, 2)}x: ${verdict(s.xNodeHttpProxy >= 1.5)}`);
  if (s?.p99OverDirectMs != null) lines.push(`- stickyd p99 added over direct <= 2 ms: ${f(s.p99OverDirectMs, 2)} ms: ${verdict(s.p99OverDirectMs <= 2)}`);
  const nodeBest = ['node-http-proxy', 'node-plain', 'undici'].map(get).filter((x): x is Summary => x?.cpuUsPerReq != null);
  if (s?.cpuUsPerReq != null && nodeBest.length > 0) {
    const best = nodeBest.reduce((a, b) => (a.cpuUsPerReq! <= b.cpuUsPerReq! ? a : b));
    lines.push(`- stickyd CPU per request below every Node proxy: best Node peer ${best.subject} ${f(best.cpuUsPerReq)} µs, stickyd ${f(s.cpuUsPerReq)} µs: ${verdict(s.cpuUsPerReq < best.cpuUsPerReq!)}`);
  }
  const diff = (a: string, b: string, what: string): void => {
    const x = get(a)?.cpuUsPerReq;
    const y = get(b)?.cpuUsPerReq;
    if (x != null && y != null) lines.push(`- ${what}: ${a} ${f(x)} µs vs ${b} ${f(y)} µs per request (${x - y >= 0 ? '+' : ''}${f(x - y)} µs)`);
  };
  diff('stickyd-nocache', 'stickyd', 'session cache off vs on (1,000 live sessions, all hits after warm-up)');
  diff('stickyd-mint', 'stickyd', 'minting a cookie on every request vs honouring one');
  if (get('stickyd-accesslog')) diff('stickyd-accesslog', 'stickyd', 'access log on vs off');
  else lines.push('- access log on vs off: not measured in this run (the build has no `--access-log <on|off>`, or stickyd-accesslog was not selected)');
  return lines;
}

export function renderMarkdown(r: Report): string {
  const o = r.options;
  const out: string[] = [];
  out.push(o.section === 'http' ? '## HTTP: stickyd beside nginx, HAProxy and the Node proxies (`npm run bench`)' : `## HTTP experiment \`${o.section}\` (\`npm run bench -- ${r.argv.join(' ')}\`)`, '');
  out.push(`Run ${r.date} in ${Math.round(r.elapsedSec)} s on ${machineLine(r.machine)}.`);
  out.push(`Load average before ${r.machine.loadavg.join(' / ')}, after ${r.loadavgAfter.join(' / ')} (1/5/15 min): other work shares these cores, so req/s moves with it; CPU per request is the steadier figure.`);
  if (o.pin) out.push('**Pinned A/B mode (`--pin`)**: every proxy runs **1 worker on CPU 1**; backends, load generator and the harness share CPU 0. Not the issue\'s 2-worker setup: compare rows with each other, not with the 2-worker tables.');
  if (o.rate !== null) out.push(`**Fixed offered rate: ${o.rate.toLocaleString('en')} requests/s** (autocannon overallRate), not saturation: compare CPU per request, not req/s.`);
  out.push(`Setup: ${o.connections} connections, ${o.durationSec} s per measurement${o.tools.includes('autocannon') && o.acDurationSec !== null && o.acDurationSec !== o.durationSec ? ` (${o.acDurationSec} s with autocannon, the cross-check)` : ''}, ${o.runs} interleaved run(s) per subject and tool after a ${o.warmupSec} s warm-up, medians shown; every request is \`GET /ping\` with \`Host: demo.example.com\` and \`Cookie: session=<v>\` cycling over ${o.cookies.toLocaleString('en')} values (except where no cookie is sent). Backends: ${r.backends}. Every proxy runs ${o.pin ? 1 : 2} worker(s) (nginx worker_processes, HAProxy nbthread, node:cluster workers).`);
  out.push(`Versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v ?? 'n/a'}`).join('; ')}.`);
  out.push('autocannon reports latency in whole milliseconds, so its p50 of a sub-millisecond answer reads 0.');
  out.push('Proxy CPU: user+system time of all the proxy\'s processes (from /proc) over the measurement, divided by requests completed; the load generator and backends are not included. "machine busy" in the JSON is the share of both cores in use during each run.');
  if (r.skipped.length > 0) out.push('', `Skipped: ${r.skipped.map((s) => `${s.name} (${s.reason})`).join('; ')}.`);
  const tools = o.tools.filter((t) => r.samples.some((s) => s.tool === t));
  const primary = tools[0];
  for (const tool of tools) {
    out.push('', `### ${tool}${tool === primary && tools.length > 1 ? ' (headline)' : ''}`, '', summaryTable(summarise(r.samples, r.subjects, tool), r.subjects, o.pin ? 1 : 2));
  }
  if (primary !== undefined) out.push('', `### Targets (${primary}, same run)`, '', ...targets(summarise(r.samples, r.subjects, primary)));
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
    results: Object.fromEntries(r.options.tools.map((t) => [t, summarise(r.samples, r.subjects, t)])),
  };
  if (r.options.section === 'http') await writeFile(SUMMARY_JSON, JSON.stringify(summary, null, 2) + '\n');
  await replaceSection(r.options.section, renderMarkdown(r));
  return { raw };
}
