// The access line's builder from two builds, A against B, in-process: ten lines built, joined into
// one chunk and copied as latin1 into a Buffer (what the stream's write does to the chunk), ns per
// line; 9 alternating rounds after a warm-up, medians and the run-by-run difference B - A. No
// syscall, so what it compares is building and flattening alone (bench/RESULTS.md, Attempts).
// Usage: node bench/access-log/line-ab.mjs <dist dir A> <dist dir B>   (run it in both orders)
import { resolve } from 'node:path';
const [a, b] = process.argv.slice(2).map((d) => new URL(`file://${resolve(d)}/`).href);
const A = await import(a + 'worker/telemetry/access-log.js');
const B = await import(b + 'worker/telemetry/access-log.js');
const dest = ',"route":"demo-vs/http[1]","subset":"demo-service/v1","upstream":"127.0.0.1:18081"';
const F = Array.from({ length: 1000 }, (_, i) => ({
  requestId: '9f1c2a7e-1b7e-4c8e-9d5b-0c9a3c2f' + String(i).padStart(4, '0'), client: '127.0.0.1', method: 'GET', host: 'demo.example.com', path: '/ping',
  status: 200, bytes: 130 + (i % 3), startedAt: performance.now(), durationMs: 0.8123 + (i % 7) / 10, destinationJson: dest,
  session: 'reused', sessionKeyHash: (i * 2654435761) >>> 0, upgradeRefused: null,
}));
const buf = Buffer.allocUnsafe(8192);
let sink = 0;
function round(build, n) {
  const t0 = performance.now();
  for (let k = 0; k < n; k += 10) {
    const off = Date.now() - performance.now();
    let text = '';
    for (let j = 0; j < 10; j++) text = j === 0 ? build(F[(k + j) % 1000], off) : text + build(F[(k + j) % 1000], off);
    sink += buf.latin1Write(text, 0);
  }
  return ((performance.now() - t0) * 1e6) / n;
}
if (A.buildAccessLine(F[5], 1) !== B.buildAccessLine(F[5], 1)) throw new Error('lines differ');
for (let w = 0; w < 3; w++) { round(A.buildAccessLine, 200000); round(B.buildAccessLine, 200000); }
const ra = [], rb = [];
for (let r = 0; r < 9; r++) {
  // alternate which build goes first in a round
  const first = r % 2 ? [ra, A] : [rb, B];
  const second = r % 2 ? [rb, B] : [ra, A];
  first[0].push(round(first[1].buildAccessLine, 300000));
  second[0].push(round(second[1].buildAccessLine, 300000));
}
const med = (x) => [...x].sort((p, q) => p - q)[x.length >> 1];
console.log('A', a, med(ra).toFixed(0), ra.map((x) => x.toFixed(0)).join(' '));
console.log('B', b, med(rb).toFixed(0), rb.map((x) => x.toFixed(0)).join(' '));
console.log('B-A per round', ra.map((x, i) => (rb[i] - x).toFixed(0)).join(' '), sink > 0);
