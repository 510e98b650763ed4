// `npm run bench:tls`: what TLS costs at the edge, stickyd beside nginx with the same certificate
// (an ECDSA P-256 leaf made with openssl for the run), both terminating TLS 1.3 with ALPN and
// proxying cookie-sticky to the same 3 backends, 2 workers each, interleaved. h2load (Debian's
// nghttp2-client) drives all four modes:
// - keep-alive, HTTP/1.1 (`--h1`) and h2 (one stream per connection): CPU per request;
// - a new TLS connection per request, HTTP/1.1 and h2: h2load's rate mode (`-r R -c N -n N`: R
//   new clients per second, each making one request on its own connection), so every request
//   pays a full handshake (h2load keeps no session cache); CPU per connection, and the
//   handshakes per second one core would sustain at that cost.
// CPU is user + system time of the proxy's whole process tree from /proc (bench/http/cpu.ts),
// as `npm run bench` measures it. Writes the tls block of bench/RESULTS.md and bench/out/tls-*.json.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { startBackends } from '../http/backends.js';
import { treeCpuSeconds } from '../http/cpu.js';
import { ensureBinaries, findBinary, PEERS_DIR, prepareRunDir, startNginx, versionOf } from '../http/peers.js';
import { freePort, ProcessGroup, sleep, waitForPort, type Started } from '../http/procs.js';
import { describeMachine, machineLine } from '../machine.js';
import { median, table } from '../results-md.js';
import { benchLog, parseBenchArgs, runBench, runLine, writeReport } from '../runner.js';
import { CLI, DEMO_HOST, writeStickydConfig } from '../stickyd-config.js';

const WORKERS = 2;
const COOKIE = 'session=bench000000000000000000000000001';

const flags = parseBenchArgs(
  'Usage: npm run bench:tls -- [--runs 2] [--duration 5] [--connections 50] [--rate 100] [--quick] [--no-install]\n',
  { full: 5, quick: 3 }, ['rate'],
);
const { quick, runs, durationSec, connections } = flags;
/** new connections per second offered in the handshake modes */
const rate = Number(flags.extra.rate ?? 100);

const started = Date.now();
const say = benchLog('tls', started);
const group = new ProcessGroup();
let run = '';

async function cleanup(): Promise<void> {
  await group.stopAll();
  if (run !== '') await rm(run, { recursive: true, force: true });
}

type Mode = 'h1-keepalive' | 'h2-keepalive' | 'h1-new' | 'h2-new';
const MODES: readonly Mode[] = ['h1-keepalive', 'h2-keepalive', 'h1-new', 'h2-new'];

interface Subject { readonly name: string; readonly proc: Started; readonly port: number }

interface Sample {
  readonly subject: string;
  readonly mode: Mode;
  readonly run: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly seconds: number;
  readonly rps: number;
  readonly cpuSeconds: number;
  /** µs of proxy CPU per succeeded request */
  readonly cpuUsPerRequest: number;
  readonly protocol: string;
}

/** One h2load run against `port`; the proxy's CPU over it. */
async function measure(subject: Subject, mode: Mode, h2load: string, r: number): Promise<Sample> {
  const url = `https://${DEMO_HOST}/ping`;
  const common = ['--connect-to', `127.0.0.1:${subject.port}`, '-H', `cookie: ${COOKIE}`, ...(mode.startsWith('h1') ? ['--h1'] : [])];
  const args = mode.endsWith('keepalive')
    ? [...common, '-c', String(connections), '-m', '1', '-D', String(durationSec), url]
    : [...common, '-r', String(rate), '-c', String(rate * durationSec), '-n', String(rate * durationSec), url];
  const cpu0 = treeCpuSeconds(subject.proc.pid);
  const out = await runTool(h2load, args);
  const cpu = treeCpuSeconds(subject.proc.pid) - cpu0;
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const fin = /finished in ([\d.]+)(m?s), ([\d.]+) req\/s/.exec(out);
  const proto = /Application protocol: (\S+)/.exec(out)?.[1] ?? '?';
  if (req === null || fin === null) throw new Error(`h2load output not understood:\n${out}`);
  const succeeded = Number(req[4]);
  const failed = Number(req[5]) + Number(req[6]) + Number(req[7]);
  const seconds = Number(fin[1]) / (fin[2] === 'ms' ? 1000 : 1);
  return {
    subject: subject.name, mode, run: r, succeeded, failed, seconds, rps: Number(fin[3]),
    cpuSeconds: cpu, cpuUsPerRequest: (cpu * 1e6) / Math.max(1, succeeded), protocol: proto,
  };
}

function runTool(bin: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => { text += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { text += d.toString(); });
    child.once('error', reject);
    child.once('exit', () => resolve(text));
  });
}

/** The seed's config with its HTTP server replaced by HTTPS 443 with the run's certificate. */
async function writeTlsConfig(dir: string, ports: readonly number[], cert: string, key: string): Promise<string> {
  await writeStickydConfig(dir, ports.map((port) => ({ address: '127.0.0.1', port })));
  const file = join(dir, 'ingress-sticky.yaml');
  const seed = await readFile(file, 'utf8');
  const http = '  - port:\n      number: 80\n      name: http\n      protocol: HTTP\n    hosts:\n    - "*"\n';
  if (!seed.includes(http)) throw new Error('the seed config changed: bench:tls cannot find its HTTP server');
  await writeFile(file, seed.replace(http, `  - port:\n      number: 443\n      name: https\n      protocol: HTTPS\n    hosts:\n    - "*"\n    tls:\n      mode: SIMPLE\n      serverCertificate: ${cert}\n      privateKey: ${key}\n`));
  return dir;
}

async function main(): Promise<void> {
  const machine = describeMachine();
  say(`machine: ${machineLine(machine)}; load average ${machine.loadavg.join(' / ')}`);
  const bins = ensureBinaries(flags.install, say);
  const h2load = findBinary('h2load');
  if (h2load === null) throw new Error('h2load is missing: apt-get install nghttp2-client');
  if (bins.nginx === null) throw new Error('nginx is missing: apt-get install nginx');
  run = await mkdtemp(join(os.tmpdir(), 'stickyd-tls-bench-'));
  await prepareRunDir(run);
  const cert = join(run, 'demo.crt');
  const key = join(run, 'demo.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', `/CN=${DEMO_HOST}`, '-days', '2', '-addext', `subjectAltName=DNS:${DEMO_HOST}`], { stdio: 'ignore' });
  const backends = await startBackends(group, run, bins.nginx);
  say(`backends: ${backends.kind}; certificate: ECDSA P-256, self-signed for ${DEMO_HOST}`);

  const nginxPort = await freePort();
  let conf = await readFile(join(PEERS_DIR, 'nginx-tls-proxy.conf.tmpl'), 'utf8');
  conf = conf.replaceAll('@RUN@', run).replaceAll('@PORT@', String(nginxPort)).replaceAll('@CERT@', cert).replaceAll('@KEY@', key);
  backends.ports.forEach((p, i) => { conf = conf.replaceAll(`@B${i + 1}@`, String(p)); });
  await writeFile(join(run, 'nginx-tls-proxy.conf'), conf);
  const nginx: Subject = { name: 'nginx', proc: startNginx(group, bins.nginx, 'nginx-tls', join(run, 'nginx-tls-proxy.conf'), run, 'proxy'), port: nginxPort };
  await waitForPort(nginxPort, 10_000, 'nginx');

  const stickydPort = await freePort();
  const adminPort = await freePort();
  const dir = await writeTlsConfig(join(run, 'stickyd'), backends.ports, cert, key);
  // --access-log off: like the nginx peer, which logs nothing; the http bench prices the log
  const args = [CLI, 'run', '-c', dir, '--listen', `443=127.0.0.1:${stickydPort}`, '--admin', `127.0.0.1:${adminPort}`, '--workers', String(WORKERS), '--access-log', 'off'];
  const stickyd: Subject = { name: 'stickyd', proc: group.spawn('stickyd', process.execPath, args, { logFile: join(run, 'logs', 'stickyd.out') }), port: stickydPort };
  await waitForPort(stickydPort, 30_000, 'stickyd');
  await sleep(500);

  const subjects = [nginx, stickyd];
  for (const s of subjects) await measure(s, 'h2-keepalive', h2load, 0); // warm-up (JIT, pools)
  const samples: Sample[] = [];
  for (let r = 1; r <= runs; r++) {
    for (const mode of MODES) {
      for (const s of subjects) {
        const x = await measure(s, mode, h2load, r);
        samples.push(x);
        say(`run ${r} ${mode.padEnd(12)} ${s.name.padEnd(7)} ${x.protocol.padEnd(8)} ${Math.round(x.rps).toLocaleString('en').padStart(7)} req/s  ${x.cpuUsPerRequest.toFixed(1).padStart(7)} µs CPU/request  ok ${x.succeeded} failed ${x.failed}`);
      }
    }
  }
  const date = new Date(started).toISOString();
  const raw = { date, machine, loadavgAfter: os.loadavg(), h2load: versionOf(h2load, ['--version']), nginx: versionOf(bins.nginx, ['-v']), connections, durationSec, rate, runs, backends: backends.kind, samples };
  await writeReport('tls', raw, render, quick, say);
}

const MODE_TEXT: Readonly<Record<Mode, string>> = {
  'h1-keepalive': 'HTTP/1.1, keep-alive',
  'h2-keepalive': 'h2, keep-alive (1 stream per connection)',
  'h1-new': 'HTTP/1.1, new TLS connection per request',
  'h2-new': 'h2, new TLS connection per request',
};

interface Raw {
  readonly date: string;
  readonly machine: ReturnType<typeof describeMachine>;
  readonly loadavgAfter: number[];
  readonly h2load: string | null;
  readonly nginx: string | null;
  readonly samples: Sample[];
}

function render(r: Raw): string {
  const rows = MODES.flatMap((mode) => {
    const of = (name: string) => r.samples.filter((s) => s.mode === mode && s.subject === name);
    const ng = median(of('nginx').map((s) => s.cpuUsPerRequest));
    return ['nginx', 'stickyd'].map((name) => {
      const mine = of(name);
      const cpu = median(mine.map((s) => s.cpuUsPerRequest));
      const newConn = mode.endsWith('new');
      return [
        name === 'nginx' ? MODE_TEXT[mode] : '',
        name,
        mine[0]?.protocol ?? '?',
        Math.round(median(mine.map((s) => s.rps))).toLocaleString('en'),
        cpu.toFixed(1),
        (cpu / ng).toFixed(2),
        newConn ? Math.round(1e6 / cpu).toLocaleString('en') : '-',
        `${mine.reduce((a, s) => a + s.failed, 0)} / ${mine.reduce((a, s) => a + s.succeeded, 0).toLocaleString('en')}`,
      ];
    });
  });
  return [
    '## TLS at the edge: keep-alive and a handshake per request, HTTP/1.1 and h2 (`npm run bench:tls`)',
    '',
    `${runLine(r)} ${r.h2load ?? 'h2load'}, ${r.nginx ?? 'nginx'}.`,
    `stickyd (the seed's cookie policy on an HTTPS server, \`--access-log off\`) and nginx (\`bench/peers/nginx-tls-proxy.conf.tmpl\`), ${WORKERS} workers each, the same ECDSA P-256 certificate, TLS 1.3, both proxying to the same backends over HTTP/1.1; interleaved, ${runs} run(s) per mode and proxy, medians. Keep-alive: ${connections} connections, ${durationSec} s. New connection per request: h2load's rate mode, ${rate} new connections per second for ${durationSec} s, one request each (a full handshake each: h2load resumes no sessions). CPU is the proxy's process tree (user + system) over the run per succeeded request; "handshakes/s per core" is 1 s divided by the CPU of one connection and its request.`,
    '',
    table(['mode', 'proxy', 'ALPN', 'req/s', 'CPU µs/request', 'x nginx', 'handshakes/s per core', 'failed / ok'], rows),
    '',
    'Raw: `bench/out/tls-*.json`.',
  ].join('\n');
}

await runBench(say, main, cleanup);
