// The sticky cookie's lookup (`findCookie` with its value check) from two builds, A against B,
// in-process: ns per call over 1,000 Cookie headers, each decoded afresh from bytes as a request
// hands it over (a reused string would keep what V8 learnt of it between calls). Half the headers
// carry only the session cookie, as wrk-sticky.lua sends it; half put it between two others, as a
// browser does. 9 alternating rounds after a warm-up, medians and the round-by-round difference
// B - A (bench/RESULTS.md, Attempts).
// Usage: node bench/micro/cookie-ab.mjs <dist dir A> <dist dir B>   (run it in both orders)
import { resolve } from 'node:path';

const [a, b] = process.argv.slice(2).map((d) => new URL(`file://${resolve(d)}/`).href);
if (a === undefined || b === undefined) {
  process.stderr.write('usage: node bench/micro/cookie-ab.mjs <dist dir A> <dist dir B>\n');
  process.exit(2);
}
const A = await import(a + 'worker/routing/sticky.js');
const B = await import(b + 'worker/routing/sticky.js');
const MAX = 256;
const hex = (i) => ((i * 2654435761) >>> 0).toString(16).padStart(8, '0').repeat(4);
const bytes = Array.from({ length: 1000 }, (_, i) =>
  Buffer.from(i % 2 ? `_ga=GA1.2.${i}.1733300000; session=${hex(i)}; theme=dark` : `session=${hex(i)}`, 'latin1'));
for (let i = 0; i < bytes.length; i++) {
  const h = bytes[i].toString('latin1');
  if (A.findCookie(h, 'session', MAX) !== hex(i) || B.findCookie(h, 'session', MAX) !== hex(i)) throw new Error(`header ${i}: the builds disagree`);
}
let sink = 0;
function round(find, n) {
  const t0 = performance.now();
  for (let k = 0; k < n; k++) sink += find(bytes[k % 1000].toString('latin1'), 'session', MAX).length;
  return ((performance.now() - t0) * 1e6) / n;
}
// what decoding the header costs alone, so that the figures are the lookup's own
function decodeOnly(n) {
  const t0 = performance.now();
  for (let k = 0; k < n; k++) sink += bytes[k % 1000].toString('latin1').length;
  return ((performance.now() - t0) * 1e6) / n;
}
for (let w = 0; w < 3; w++) { round(A.findCookie, 300000); round(B.findCookie, 300000); decodeOnly(300000); }
const ra = [], rb = [], rd = [];
for (let r = 0; r < 9; r++) {
  const d = decodeOnly(1000000);
  // alternate which build goes first in a round
  const first = r % 2 ? [ra, A] : [rb, B];
  const second = r % 2 ? [rb, B] : [ra, A];
  first[0].push(round(first[1].findCookie, 1000000) - d);
  second[0].push(round(second[1].findCookie, 1000000) - d);
  rd.push(d);
}
const med = (x) => [...x].sort((p, q) => p - q)[x.length >> 1];
const fmt = (x) => x.map((v) => v.toFixed(0)).join(' ');
console.log('decode alone (subtracted)', med(rd).toFixed(0), fmt(rd));
console.log('A', a, med(ra).toFixed(0), fmt(ra));
console.log('B', b, med(rb).toFixed(0), fmt(rb));
const diff = ra.map((x, i) => rb[i] - x);
console.log('B-A per round', fmt(diff), 'median', med(diff).toFixed(0), `B cheaper in ${diff.filter((x) => x < 0).length} of 9`, sink > 0);
