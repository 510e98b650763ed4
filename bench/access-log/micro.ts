// CPU per request of the observability path, in-process (steadier than HTTP runs on a shared
// machine): the meter updates every request pays, and what an access log line adds on top
// (building it, buffering it, and one write per event-loop turn into a sink that discards).
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_SETTINGS } from '../../src/config/settings.js';
import { initHasher } from '../../src/balancing/hash.js';
import type { Kernel } from '../../src/kernel/index.js';
import type { Snapshot } from '../../src/snapshot/types.js';
import { AccessLog, buildAccessLine, type AccessFields } from '../../src/worker/access-log.js';
import { RequestObservation } from '../../src/worker/observe.js';
import { buildRuntimeSnapshot } from '../../src/worker/runtime-snapshot.js';

const ROUNDS = 7;
const N = 200_000;
/** requests completing in one event-loop turn */
const BATCH = 100;

const snapshot: Snapshot = {
  epoch: 1, configHash: 'bench', configPath: 'bench', settings: DEFAULT_SETTINGS,
  subsets: [{ id: 0, name: 'demo-service/v1', host: 'demo-service', subsetName: 'v1', port: 8080, policy: { kind: 'roundRobin' }, table: null,
    endpoints: [1, 2, 3].map((i) => ({ id: `127.0.0.1:1808${i}`, address: '127.0.0.1', port: 18080 + i, weight: 1, labels: {} })) }],
  listeners: [{ port: 80, protocol: 'HTTP', servers: [], gatewayHosts: ['*'], virtualHosts: [{ name: 'demo-vs', hosts: ['demo.example.com'], routes: [{ name: 'demo-vs/http[1]', matches: [], destinations: [{ subset: 0, weight: 1 }], totalWeight: 1, timeoutMs: null, retries: null }] }] }],
};
const kernel: Kernel = { load: () => ({ select: () => 0 }) };
const hasher = await initHasher();
const rt = buildRuntimeSnapshot(snapshot, { kernel, hasher });
const target = rt.listeners.get(80)!.virtualHosts.exact.get('demo.example.com')!.routes[0]!.targets[0]!;

const req = { method: 'GET', url: '/ping?x=1', headers: { host: 'demo.example.com' }, socket: { remoteAddress: '::ffff:127.0.0.1' } } as unknown as IncomingMessage;
class Res extends EventEmitter { headersSent = true; statusCode = 200; _header = 'HTTP/1.1 200 OK\r\nContent-Length: 130\r\n\r\n'; }

const nullSink = { writableLength: 0, bytes: 0, write(chunk: string): boolean { this.bytes += chunk.length; return true; } };

async function nsPerRequest(label: string, body: (i: number) => void): Promise<number> {
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    // BATCH requests per event-loop turn, as a busy worker sees them; the log's flush runs in between, inside the timing
    for (let i = 0; i < N; i += BATCH) {
      for (let j = i; j < i + BATCH; j++) body(j);
      await new Promise((resolve) => setImmediate(resolve));
    }
    samples.push(Number(process.hrtime.bigint() - start) / N);
  }
  const ns = samples.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!;
  process.stdout.write(`${label.padEnd(58)} ${ns.toFixed(0).padStart(6)} ns/request\n`);
  return ns;
}

const fields: AccessFields = {
  requestId: '9f1c2a7e-1b7e-4c8e-9d5b-0c9a3c2f1e77', client: '127.0.0.1', method: 'GET', host: 'demo.example.com', path: '/ping',
  status: 200, bytes: 130, startedAt: performance.now(), durationMs: 0.8123, routeJson: '"demo-vs/http[1]"', subsetJson: '"demo-service/v1"', upstreamJson: '"127.0.0.1:18081"',
  session: 'reused', sessionKeyHash: 0x1234abcd,
};

process.stdout.write(`Node ${process.version}; median of ${ROUNDS} rounds of ${N} requests\n`);
const baseline = await nsPerRequest('baseline: a response object and its close event', () => {
  const res = new Res();
  res.on('close', () => {});
  res.emit('close');
});
const meterOnly = await nsPerRequest('metrics only (observation, access log off)', () => {
  const res = new Res();
  const o = new RequestObservation(rt, null, req, res as unknown as ServerResponse, 'id');
  o.routed(target, 1, 'session-key-0123456789abcdef', false);
  res.emit('close');
});
const log = new AccessLog({ enabled: true, sample: 1 }, nullSink);
const withLog = await nsPerRequest('metrics + access log line (built, buffered, written)', () => {
  const res = new Res();
  const o = new RequestObservation(rt, log, req, res as unknown as ServerResponse, 'id');
  o.routed(target, 1, 'session-key-0123456789abcdef', false);
  res.emit('close');
});
await nsPerRequest('  of which: buildAccessLine alone', () => { buildAccessLine(fields); });
process.stdout.write(`metrics cost ${(meterOnly - baseline).toFixed(0)} ns per request over the baseline; the access log adds ${(withLog - meterOnly).toFixed(0)} ns (${(nullSink.bytes / log.lines).toFixed(0)} bytes per line; ${log.lines} lines, ${log.dropped} dropped)\n`);
