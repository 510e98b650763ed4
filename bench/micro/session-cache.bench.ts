// The session cache at 1 M entries: retained heap per entry (heap after a full GC, filled minus
// empty, over the entry count) and resolve() throughput for hits, misses that evict, and the
// cache disabled (hash + kernel lookup every time, the `--session-cache 0` baseline). Keys are cut
// from a Cookie header with the worker's own findCookie, as on the request path, and every op gets
// a string object of its own: V8 caches a string's hash in the object after its first Map lookup,
// so reusing key objects across ops makes hits look cheaper than they are for real requests.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { buildTables } from '../../src/balancing/build-tables.js';
import type { Hasher } from '../../src/balancing/hash.js';
import type { Kernel } from '../../src/kernel/index.js';
import { SessionCache } from '../../src/worker/routing/session-cache.js';
import { findCookie, mintSessionKey } from '../../src/worker/routing/sticky.js';
import { hashSubset, row, snapshotOf } from './measure.js';

export const CACHE_ENTRIES = 1_000_000;
/** endpoints behind the cached subset: the seed's v1 has 3; the size barely matters to the cache */
const ENDPOINTS = 3;
const OPS = 2_000_000;

/** global.gc, exposed at run time when node was not started with --expose-gc. */
function gcFunction(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g !== undefined) return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function heapAfterGc(gc: () => void): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Session keys as the worker sees them: sliced out of a Cookie header that carries more. */
function sessionKeys(n: number): string[] {
  const keys = new Array<string>(n);
  for (let i = 0; i < n; i++) keys[i] = findCookie(`theme=dark; session=${mintSessionKey()}; lang=en`, 'session')!;
  return keys;
}

function opsPerSec(ops: number, body: () => number): number {
  const start = process.hrtime.bigint();
  const sink = body();
  const ns = Number(process.hrtime.bigint() - start);
  if (sink === -1) process.stdout.write('');
  return (ops / ns) * 1e9;
}

export function benchSessionCache(hasher: Hasher, kernel: Kernel): void {
  const gc = gcFunction();
  const built = buildTables(snapshotOf([hashSubset(ENDPOINTS, 'ring')]), hasher);
  const lookup = kernel.load(built.subsets);
  const keys = sessionKeys(CACHE_ENTRIES);
  const fresh = sessionKeys(OPS);
  process.stdout.write(`\n## session cache: ${CACHE_ENTRIES.toLocaleString('en')} entries (lru-cache, keys of 32 hex digits cut from a Cookie header)\n`);

  const before = heapAfterGc(gc);
  const cache = new SessionCache(lookup, hasher, CACHE_ENTRIES);
  for (let i = 0; i < keys.length; i++) cache.resolve(0, keys[i]!);
  const after = heapAfterGc(gc);
  const perEntry = (after - before) / cache.size;

  const mask = (1 << 19) - 1; // a 512 Ki working set of the live keys, visited in a scrambled order
  // fresh copies (no cached hash), made before the clock starts
  const visits = new Array<string>(OPS);
  for (let i = 0; i < OPS; i++) visits[i] = Buffer.from(keys[(i * 7919) & mask]!, 'latin1').toString('latin1');
  const hit = opsPerSec(OPS, () => {
    let s = 0;
    for (let i = 0; i < OPS; i++) s += cache.resolve(0, visits[i]!);
    return s;
  });
  const evict = opsPerSec(OPS, () => {
    let s = 0;
    for (let i = 0; i < OPS; i++) s += cache.resolve(0, fresh[i]!);
    return s;
  });
  const off = new SessionCache(lookup, hasher, 0);
  const disabled = opsPerSec(OPS, () => {
    let s = 0;
    for (let i = 0; i < OPS; i++) s += off.resolve(0, fresh[i]!);
    return s;
  });
  const widths = [34, 14, 10];
  process.stdout.write(row(['case', 'ops/s', 'ns/op'], widths) + '\n');
  for (const [name, rate] of [['hit (cache full)', hit], ['miss + insert + evict (cache full)', evict], ['cache off: hash + kernel lookup', disabled]] as const) {
    process.stdout.write(row([name, Math.round(rate).toLocaleString('en'), (1e9 / rate).toFixed(0)], widths) + '\n');
  }
  process.stdout.write(`retained heap: ${((after - before) / 2 ** 20).toFixed(0)} MiB for ${cache.size.toLocaleString('en')} entries = ${perEntry.toFixed(0)} bytes/entry (key string included)\n`);
  process.stdout.write(`the default --session-cache 100000 is then ~${((perEntry * 100_000) / 2 ** 20).toFixed(0)} MiB per worker\n`);
}
