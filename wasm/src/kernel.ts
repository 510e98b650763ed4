// stickyd lookup kernel (AssemblyScript). Pure lookups over tables the host copied into this
// instance's memory; no allocation, no imports. The ABI is described in wasm/README.md and
// every answer must equal src/balancing/reference.ts.

const KIND_RING: u32 = 1;
const KIND_MAGLEV: u32 = 2;
// Descriptor fields (byte offsets within a 32-byte descriptor).
const DESCRIPTOR_BYTES: u32 = 32;
const D_DATA = 4;
const D_COUNT = 8;
const D_INDEX = 12;
const D_BITS = 16;

/** Returned for a subset id out of range or a subset without a table. */
const NO_TABLE: i32 = -1;

let descriptors: u32 = 0;
let subsetCount: u32 = 0;

/** First byte the host may use: the end of the kernel's own static data, 16-byte aligned. */
export function dataBase(): u32 {
  return (<u32>__heap_base + 15) & ~15;
}

/** Points the kernel at the host's descriptors and fills every ring's bucket index. Call once. */
export function init(descriptorOffset: u32, count: u32): void {
  descriptors = descriptorOffset;
  subsetCount = count;
  for (let i: u32 = 0; i < count; i++) {
    const d = descriptorOffset + i * DESCRIPTOR_BYTES;
    if (load<u32>(d) == KIND_RING) {
      buildRingIndex(load<u32>(d, D_DATA), load<u32>(d, D_COUNT), load<u32>(d, D_INDEX), load<u32>(d, D_BITS));
    }
  }
}

/** The whole per-request lookup in one call, so a request crosses into wasm once. */
export function selectSubset(subset: u32, hash: u32): i32 {
  if (subset >= subsetCount) return NO_TABLE;
  const d = descriptors + subset * DESCRIPTOR_BYTES;
  const kind = load<u32>(d);
  if (kind == KIND_RING) {
    return <i32>selectRing(load<u32>(d, D_DATA), load<u32>(d, D_COUNT), load<u32>(d, D_INDEX), load<u32>(d, D_BITS), hash);
  }
  if (kind == KIND_MAGLEV) return <i32>selectMaglev(load<u32>(d, D_DATA), load<u32>(d, D_COUNT), hash);
  return NO_TABLE;
}

/**
 * Bucket index over a ring of `count` (hash, owner) pairs: for bucket b (the top `bits` bits of
 * a hash) index[b] is the first point whose bucket is >= b, and index[2^bits] = count.
 */
function buildRingIndex(pairs: u32, count: u32, index: u32, bits: u32): void {
  const shift = 32 - bits;
  const buckets: u32 = 1 << bits;
  let next: u32 = 0;
  for (let p: u32 = 0; p < count; p++) {
    const b = load<u32>(pairs + (p << 3)) >>> shift;
    while (next <= b) store<u32>(index + (next++ << 2), p);
  }
  while (next <= buckets) store<u32>(index + (next++ << 2), count);
}

/**
 * Owner of the first point with hash >= `hash`, wrapping to point 0. Every point before
 * index[b] is below the hash's bucket b and every point from index[b + 1] on is above it, so
 * the answer lies in [index[b], index[b + 1]]: a few cache lines instead of log2(count) misses
 * across a multi-MiB array. The search there is branchless (a select per step), and the owner
 * sits next to its hash, in the same cache line.
 */
export function selectRing(pairs: u32, count: u32, index: u32, bits: u32, hash: u32): u32 {
  const slot = index + ((hash >>> (32 - bits)) << 2);
  let base = load<u32>(slot);
  let n = load<u32>(slot, 4) - base;
  if (n > 0) {
    while (n > 1) {
      const half = n >> 1;
      base = select<u32>(base + half, base, load<u32>(pairs + ((base + half) << 3)) < hash);
      n -= half;
    }
    base += <u32>(load<u32>(pairs + (base << 3)) < hash);
  }
  if (base == count) base = 0;
  return load<u32>(pairs + (base << 3), 4);
}

/** table[hash % size]; `table` is the byte offset of size u32 slots. */
export function selectMaglev(table: u32, size: u32, hash: u32): u32 {
  return load<u32>(table + ((hash % size) << 2));
}
