// The request's key path step by step (hash, hash + table lookup, session-cache hit) at the
// HTTP benchmark's working set of 1,000 live sessions. Each op cuts its key from a Cookie
// header decoded afresh from bytes, as a request hands it over: a key string reused across ops
// has its V8 hash cached after the first Map lookup, which made a cache hit look 2-3x cheaper
// than it is in a worker. The cost of producing the key is measured apart and subtracted.
import { buildTables } from '../../src/balancing/build-tables.js';
import type { Hasher } from '../../src/balancing/hash.js';
import type { Kernel, KernelLookup } from '../../src/kernel/index.js';
import { SessionCache } from '../../src/worker/routing/session-cache.js';
import { findCookie, mintSessionKey } from '../../src/worker/routing/sticky.js';
import { hashSubset, nsPerOp, row, snapshotOf } from './measure.js';

const ITERATIONS = 1_000_000;
/** live sessions in the working set: the HTTP benchmark's 1,000 cookies */
const SESSIONS = 1_000;

export function benchHashPath(hasher: Hasher, kernel: Kernel): void {
  const headers = Array.from({ length: SESSIONS }, () => Buffer.from(`theme=dark; session=${mintSessionKey()}; lang=en`, 'latin1'));
  const n = SESSIONS;
  const freshKey = (i: number): string => findCookie(headers[(i * 7919) % n]!.toString('latin1'), 'session')!;
  process.stdout.write(`\n## request key path: ns/op over ${n.toLocaleString('en')} live session keys (median of 5 x ${ITERATIONS.toLocaleString('en')})\n`);
  const widths = [46, 10, 10, 10];
  process.stdout.write(row(['step', 'N=3', 'N=1000', 'N=10000'], widths) + '\n');
  const at = (size: number, table: 'ring' | 'maglev'): KernelLookup => kernel.load(buildTables(snapshotOf([hashSubset(size, table)]), hasher).subsets);
  const loop = (f: (k: string) => number) => (count: number): number => {
    let s = 0;
    for (let i = 0; i < count; i++) s += f(freshKey(i));
    return s;
  };
  const baseline = nsPerOp(ITERATIONS, loop((k) => k.length));
  process.stdout.write(row(['(a fresh key from a Cookie header: subtracted)', baseline.toFixed(0), baseline.toFixed(0), baseline.toFixed(0)], widths) + '\n');
  const hash = (k: string): number => hasher.hash32(k);
  const lines: [string, 'ring' | 'maglev', (l: KernelLookup) => (k: string) => number][] = [
    ['hash32 (xxhash-wasm)', 'ring', () => hash],
    ['hash + ring lookup (= cache off)', 'ring', (l) => (k) => l.select(0, hash(k))],
    ['hash + maglev lookup (= cache off)', 'maglev', (l) => (k) => l.select(0, hash(k))],
    ['SessionCache.resolve, ring, all hits', 'ring', (l) => { const c = new SessionCache(l, hasher, 100_000); return (k) => c.resolve(0, k); }],
  ];
  for (const [name, table, make] of lines) {
    const a = nsPerOp(ITERATIONS, loop(make(at(3, table)))) - baseline;
    const b = nsPerOp(ITERATIONS, loop(make(at(1_000, table)))) - baseline;
    const c = nsPerOp(ITERATIONS, loop(make(at(10_000, table)))) - baseline;
    process.stdout.write(row([name, a.toFixed(0), b.toFixed(0), c.toFixed(0)], widths) + '\n');
  }
}
