// CPU per access-log line, in-process: stickyd's AccessLog (the build in dist/, or another with
// --build <dist dir>) beside pino 10 writing the same fields through sonic-boom, both into a real
// file with synchronous writes (as stdout on a file or journald's stream socket is written). 64
// lines per event-loop turn, as a busy worker finishes them; variants interleaved round by round;
// CPU time (user + system) per line, median and spread of the rounds.
// Usage: node --import tsx bench/access-log/micro.ts [--build dist] [--rounds 7] [--lines 100000]
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { AccessFields, AccessLog as AccessLogClass } from '../../src/worker/telemetry/access-log.js';
import { REPO } from '../stickyd-config.js';

const { values } = parseArgs({ options: { build: { type: 'string' }, rounds: { type: 'string' }, lines: { type: 'string' }, json: { type: 'boolean' } } });
const build = resolve(values.build ?? join(REPO, 'dist'));
const ROUNDS = Number(values.rounds ?? 7);
const N = Number(values.lines ?? 100_000);
const BATCH = 64;

// dist/, not src/ through tsx: tsx keeps function names with a defineProperty per closure it creates
const { AccessLog } = (await import(new URL(`file://${build}/worker/telemetry/access-log.js`).href)) as { AccessLog: typeof AccessLogClass };
// pino is a bench-only dependency (bench/package.json, installed by bench/setup.mjs): imported by a
// computed name so the repository typechecks without bench/node_modules
interface PinoDest { flushSync(): void }
interface Pino {
  (opts: object, dest: PinoDest): { info(obj: object, msg: string): void };
  destination(opts: object): PinoDest;
  stdTimeFunctions: { isoTime: () => string; epochTime: () => string };
}
const PINO = 'pino';
const { default: pino } = (await import(PINO)) as { default: Pino };

const dir = await mkdtemp(join(tmpdir(), 'stickyd-access-log-'));

interface Variant { readonly name: string; readonly file: string; readonly write: (f: AccessFields) => void; readonly end: () => void }

/** Fields as observe.ts hands them over for a proxied request (a fresh start time each). */
function fields(i: number): AccessFields {
  return {
    requestId: '9f1c2a7e-1b7e-4c8e-9d5b-0c9a3c2f' + String(i % 10_000).padStart(4, '0'), client: '127.0.0.1', method: 'GET', host: 'demo.example.com', path: '/ping',
    status: 200, bytes: 130, startedAt: performance.now(), durationMs: 0.8123 + (i % 7) / 10, destinationJson: ',"route":"demo-vs/http[1]","subset":"demo-service/v1","upstream":"127.0.0.1:18081"',
    session: 'reused', sessionKeyHash: (i * 2654435761) >>> 0, upgradeRefused: null,
  };
}

function ours(name: string, chunk: number | undefined): Variant {
  const file = join(dir, `${name}.log`);
  const fd = openSync(file, 'w');
  const sink = { writableLength: 0, write(c: Buffer | string): boolean { if (typeof c === 'string') writeSync(fd, c, null, 'latin1'); else writeSync(fd, c); return true; } };
  // the third argument (chunk size) exists from the build that batches by chunk; older builds ignore it
  const log = new (AccessLog as unknown as new (s: unknown, k: unknown, c?: number) => AccessLogClass)({ enabled: true, sample: 1 }, sink, chunk);
  return { name, file, write: (f) => log.write(f), end: () => { log.flush(); closeSync(fd); } };
}

function viaPino(name: string, timestamp: 'iso' | 'epoch'): Variant {
  const file = join(dir, `${name}.log`);
  const fd = openSync(file, 'w');
  // the same fields as stickyd's line; pino adds level and puts msg last
  const dest = pino.destination({ dest: fd, sync: true, minLength: 4096 });
  const logger = pino({ base: { pid: process.pid }, timestamp: timestamp === 'iso' ? pino.stdTimeFunctions.isoTime : pino.stdTimeFunctions.epochTime }, dest);
  return {
    name, file,
    write: (f) => logger.info({
      requestId: f.requestId, client: f.client, method: f.method, host: f.host, path: f.path, status: f.status, bytes: f.bytes,
      durationMs: Math.round(f.durationMs * 1000) / 1000, route: 'demo-vs/http[1]', subset: 'demo-service/v1', upstream: '127.0.0.1:18081', session: f.session,
      sessionKeyHash: f.sessionKeyHash === null ? null : (f.sessionKeyHash >>> 0).toString(16).padStart(8, '0'),
    }, 'access'),
    end: () => { dest.flushSync(); closeSync(fd); },
  };
}

async function round(v: Variant): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < N; i += BATCH) {
    for (let j = i; j < i + BATCH; j++) v.write(fields(j));
    await new Promise((r) => setImmediate(r));
  }
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / N;
}

const empty: Variant = { name: 'baseline: the fields object alone', file: '', write: (f) => { if (f.status === -1) process.stdout.write(''); }, end: () => {} };
const variants = [
  empty,
  ours('stickyd, 4 KiB chunks (pipe or journald socket)', undefined),
  ours('stickyd, 64 KiB chunks (stdout on a file)', 65_536),
  viaPino('pino 10, ISO time (same fields)', 'iso'),
  viaPino('pino 10, epoch time (its default)', 'epoch'),
];
const samples = new Map<Variant, number[]>(variants.map((v) => [v, []]));
try {
  for (const v of variants) await round(v); // warm-up
  for (let r = 0; r < ROUNDS; r++) for (const v of variants) samples.get(v)!.push(await round(v));
  for (const v of variants) v.end();
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const base = med(samples.get(empty)!);
  const rows = variants.map((v) => {
    const xs = samples.get(v)!;
    const lines = (ROUNDS + 1) * N;
    return { name: v.name, ns: med(xs) - (v === empty ? 0 : base), min: Math.min(...xs) - (v === empty ? 0 : base), max: Math.max(...xs) - (v === empty ? 0 : base), bytesPerLine: v.file === '' ? 0 : statSync(v.file).size / lines };
  });
  process.stdout.write(`Node ${process.version}; AccessLog from ${build}; ${ROUNDS} interleaved rounds of ${N.toLocaleString('en')} lines, ${BATCH} per event-loop turn; CPU ns per line over the baseline (min-max of rounds)\n`);
  for (const r of rows) process.stdout.write(`  ${r.name.padEnd(52)} ${r.ns.toFixed(0).padStart(6)} ns  (${r.min.toFixed(0)}-${r.max.toFixed(0)})${r.bytesPerLine > 0 ? `  ${r.bytesPerLine.toFixed(0)} B/line` : ''}\n`);
  if (values.json) process.stdout.write(`ACCESS_LOG_JSON ${JSON.stringify(rows)}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
