// Attempt (issue 16: "fewer closures per request"): what c04835b's shape saves per request, in
// isolation. Before it, each response got two 'close' listeners (the observation's and the
// exchange's) and each exchange made four per-instance arrow closures; after it, one listener (the
// exchange's step runs from the observation's) and two closures. Both shapes are rebuilt here on a
// real http.ServerResponse, which is created, listened on, closed and dropped once per op, as a
// request does; the difference of the two is what the change saves. The HTTP bench cannot resolve
// it (its rounds spread by more than the whole of stickyd's own code), so this is its measurement.
// Usage: node --import tsx bench/http/attempt-listeners.ts [--ops 1000000] [--rounds 7]
import http from 'node:http';
import { Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { ops: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '7' } } });
const OPS = Number(values.ops);
const ROUNDS = Number(values.rounds);

let sink = 0;
const socket = new Socket();
const req = new http.IncomingMessage(socket);
req.method = 'GET';
req.httpVersionMajor = 1;
req.httpVersionMinor = 1;

/** The observation: one arrow-field listener; `then` is the exchange's step (after). */
class Observation {
  then: (() => void) | null = null;
  constructor(readonly res: http.ServerResponse) {
    res.on('close', this.onClose);
  }
  readonly onClose = (): void => {
    sink += this.res.statusCode;
    this.then?.();
  };
}

/** The exchange before: four arrow fields, its own 'close' listener. */
class ExchangeBefore {
  done = false;
  constructor(readonly res: http.ServerResponse) {}
  start(): void { this.res.on('close', this.onClientClose); }
  readonly onClientClose = (): void => { this.done = true; };
  readonly onClientError = (): void => { this.done = true; };
  readonly armRouteTimer = (): void => { sink++; };
  readonly resume = (): void => { sink++; };
}

/** The exchange after: two arrow fields, its step run by the observation. */
class ExchangeAfter {
  done = false;
  constructor(readonly res: http.ServerResponse, readonly observation: Observation) {}
  start(): void { this.observation.then = this.onClientClose; }
  readonly onClientClose = (): void => { this.done = true; };
  readonly onClientError = (): void => { this.done = true; };
}

function one(before: boolean): void {
  const res = new http.ServerResponse(req);
  const obs = new Observation(res);
  if (before) {
    const ex = new ExchangeBefore(res);
    ex.start();
    res.emit('close');
    if (ex.done) sink++;
  } else {
    const ex = new ExchangeAfter(res, obs);
    ex.start();
    res.emit('close');
    if (ex.done) sink++;
  }
}

function round(before: boolean): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < OPS; i++) one(before);
  return Number(process.hrtime.bigint() - start) / OPS;
}

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
round(true);
round(false);
const b: number[] = [];
const a: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  // interleaved, so a slow stretch of the shared machine hits both
  b.push(round(true));
  a.push(round(false));
}
const d = b.map((x, i) => x - a[i]!);
process.stdout.write(
  `node ${process.version}, ${ROUNDS} rounds x ${OPS.toLocaleString('en')} ops, ns per request (a ServerResponse made, listened on, closed)\n` +
    `before (2 'close' listeners, 4 closures): median ${median(b).toFixed(0)} (${Math.min(...b).toFixed(0)}-${Math.max(...b).toFixed(0)})\n` +
    `after  (1 'close' listener, 2 closures):  median ${median(a).toFixed(0)} (${Math.min(...a).toFixed(0)}-${Math.max(...a).toFixed(0)})\n` +
    `saved per request: median ${median(d).toFixed(0)} ns (per round ${d.map((x) => x.toFixed(0)).join(', ')})\n`,
);
if (sink === -1) process.stdout.write('');
