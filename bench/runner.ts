// What the one-shot bench scripts (bench:reload, bench:tls) share around their measurements: their
// common flags, the timed log line, stopping what they started on a signal or a failure, the report's "Run ... on"
// line, and where a report goes (bench/out/<name>-<time>.json and the <name> block of RESULTS.md).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OUT_DIR } from './http/report.js';
import { machineLine, type Machine } from './machine.js';
import { replaceSection } from './results-md.js';

/** The flags every one-shot bench script takes. */
export interface BenchArgs {
  readonly quick: boolean;
  readonly runs: number;
  readonly durationSec: number;
  readonly connections: number;
  /** false with --no-install: use what is on the machine, install nothing */
  readonly install: boolean;
}

/**
 * Parses --runs (default 2, quick 1), --duration (`duration`: full and quick defaults, seconds),
 * --connections (50), --quick, --no-install and `extra` string flags; --help prints `usage` and exits.
 */
export function parseBenchArgs<const E extends string>(
  usage: string, duration: { readonly full: number; readonly quick: number }, extra: readonly E[] = [],
): BenchArgs & { readonly extra: Partial<Record<E, string>> } {
  const options = Object.fromEntries(extra.map((name) => [name, { type: 'string' as const }]));
  const { values } = parseArgs({
    options: {
      ...options, runs: { type: 'string' }, duration: { type: 'string' }, connections: { type: 'string' },
      quick: { type: 'boolean' }, 'no-install': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const quick = values.quick === true;
  const strings = values as Record<string, string | boolean | undefined>;
  return {
    quick,
    runs: Number(values.runs ?? (quick ? 1 : 2)),
    durationSec: Number(values.duration ?? (quick ? duration.quick : duration.full)),
    connections: Number(values.connections ?? 50),
    install: values['no-install'] !== true,
    extra: Object.fromEntries(extra.flatMap((name) => typeof strings[name] === 'string' ? [[name, strings[name]]] : [])) as Partial<Record<E, string>>,
  };
}

/** `[name    12 s] line` on stdout, seconds since `started`. */
export function benchLog(name: string, started: number): (line: string) => void {
  return (line) => { process.stdout.write(`[${name} ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`); };
}

/**
 * Runs `main`, then `cleanup`; on SIGINT/SIGTERM cleans up and exits 130, on a failure says why,
 * cleans up and exits 1, so no backend or daemon outlives the script.
 */
export async function runBench(say: (line: string) => void, main: () => Promise<void>, cleanup: () => Promise<void>): Promise<void> {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => { say(`${signal}: stopping`); void cleanup().finally(() => process.exit(130)); });
  }
  try {
    await main();
    await cleanup();
  } catch (err) {
    say(`failed: ${(err as Error).stack ?? String(err)}`);
    await cleanup();
    process.exit(1);
  }
}

/** The fields of a raw report that say when and where it ran. */
export interface RunContext {
  readonly date: string;
  readonly machine: Machine;
  readonly loadavgAfter: readonly number[];
}

/** "Run <date> on <machine>; load average <before> before, <after> after." */
export function runLine(r: RunContext): string {
  return `Run ${r.date} on ${machineLine(r.machine)}; load average ${r.machine.loadavg.join(' / ')} before, ${r.loadavgAfter.map((x) => x.toFixed(2)).join(' / ')} after.`;
}

/**
 * Writes `raw` to bench/out/<name>-<date>.json first (kept if rendering fails), prints its markdown,
 * and puts that in the <name> block of bench/RESULTS.md unless `quick` (a quick run's figures are
 * not the ones the file reports).
 */
export async function writeReport<R extends RunContext>(
  name: string, raw: R, render: (raw: R) => string, quick: boolean, say: (line: string) => void,
): Promise<void> {
  await mkdir(OUT_DIR, { recursive: true });
  await writeFile(join(OUT_DIR, `${name}-${raw.date.replace(/[:.]/g, '-')}.json`), JSON.stringify(raw, null, 2) + '\n');
  const md = render(raw);
  process.stdout.write(`\n${md}\n\n`);
  if (!quick) {
    await replaceSection(name, md);
    say(`wrote the ${name} block of bench/RESULTS.md`);
  } else {
    say('quick run: bench/RESULTS.md left as it was');
  }
}
