// One kernel instance per snapshot: lays the snapshot's tables out in a fresh instance's
// memory (ABI in wasm/README.md) and wraps its single lookup export. Nothing writes to that
// memory afterwards, so a snapshot's answers cannot change while workers still hold it.
import type { BalancerTable, RingTable, Subset } from '../snapshot/types.js';
import { StickydError } from '../errors.js';
import type { KernelLookup } from './types.js';

export const REQUIRED_EXPORTS = ['memory', 'dataBase', 'init', 'selectSubset'] as const;

const KIND_RING = 1;
const KIND_MAGLEV = 2;
const DESCRIPTOR_WORDS = 8; // kind, data, count, index, bits, 3 reserved (wasm/README.md)
const PAGE_BYTES = 65536;

/**
 * A ring gets a bucket index on the top `bits` bits of the hash, sized for about
 * RING_POINTS_PER_BUCKET points per bucket and capped at RING_INDEX_MAX_BITS (256 KiB), so a
 * 10,000-endpoint ring (1.6M points) searches ~24 points in place of 1.6M.
 */
const RING_POINTS_PER_BUCKET = 4;
const RING_INDEX_MAX_BITS = 16;

export function ringIndexBits(points: number): number {
  return Math.min(RING_INDEX_MAX_BITS, Math.max(1, Math.floor(Math.log2(points / RING_POINTS_PER_BUCKET))));
}

interface KernelExports {
  readonly memory: WebAssembly.Memory;
  dataBase(): number;
  init(descriptorOffset: number, count: number): void;
  selectSubset(subset: number, hash: number): number;
}

export function instantiateLookup(module: WebAssembly.Module, subsets: readonly Subset[], path: string): KernelLookup {
  const exports = new WebAssembly.Instance(module, {}).exports as unknown as KernelExports;
  const base = exports.dataBase();
  const tables = subsets.map((s, i) => checkedTable(s, i, path));
  const bytes = DESCRIPTOR_WORDS * 4 * subsets.length + tables.reduce((sum, t) => sum + tableBytes(t), 0);
  growMemory(exports.memory, base + bytes, path);
  writeTables(new Uint32Array(exports.memory.buffer), base, tables);
  exports.init(base, subsets.length);
  return createLookup(exports.selectSubset, subsets);
}

function growMemory(memory: WebAssembly.Memory, bytes: number, path: string): void {
  const pages = Math.ceil(bytes / PAGE_BYTES) - memory.buffer.byteLength / PAGE_BYTES;
  if (pages <= 0) return;
  try {
    memory.grow(pages);
  } catch (err) {
    // wasm32 memory stops at 4 GiB; the tables of one snapshot must fit in one instance.
    throw new StickydError('STICKYD_ERR_KERNEL_LOAD', `cannot grow the WebAssembly kernel ${path} memory to ${bytes} bytes`, { cause: err });
  }
}

function createLookup(selectSubset: KernelExports['selectSubset'], subsets: readonly Subset[]): KernelLookup {
  // A Maglev lookup is one array index: cheaper in JS than the call into wasm (bench:micro
  // measured the kernel 1.1-1.4x slower than the reference for it), so Maglev is answered here
  // and the kernel keeps the ring's binary search, where it is 3.6-5.3x faster.
  const maglev = subsets.map((s) => (s.table?.kind === 'maglev' ? s.table.table : undefined));
  return {
    select(subsetId: number, hash: number): number {
      const m = maglev[subsetId];
      if (m !== undefined) return m[(hash >>> 0) % m.length] as number;
      // The kernel answers -1 for an id out of range or a subset without a table: one crossing
      // into wasm per lookup, and the check on the way back is a single compare.
      const index = selectSubset(subsetId, hash);
      if (index < 0) throw noTable(subsetId, subsets);
      return index;
    },
  };
}

// u32 words: a descriptor per subset, then the arrays. Offsets are in bytes (wasm/README.md).
function writeTables(words: Uint32Array, base: number, tables: readonly (BalancerTable | null)[]): void {
  let cursor = base + DESCRIPTOR_WORDS * 4 * tables.length;
  tables.forEach((t, i) => {
    const d = base / 4 + i * DESCRIPTOR_WORDS;
    if (t === null) {
      words.fill(0, d, d + DESCRIPTOR_WORDS); // kind 0: no table
    } else if (t.kind === 'ring') {
      const count = t.hashes.length;
      const bits = ringIndexBits(count);
      // The kernel's init() fills the index; the host only reserves its (2^bits + 1) words.
      words.set([KIND_RING, cursor, count, cursor + 8 * count, bits, 0, 0, 0], d);
      writeRingPairs(words, cursor / 4, t);
      cursor += tableBytes(t);
    } else {
      words.set([KIND_MAGLEV, cursor, t.table.length, 0, 0, 0, 0, 0], d);
      words.set(t.table, cursor / 4);
      cursor += t.table.byteLength;
    }
  });
}

// Interleaved (hash, owner) pairs: the owner of the point a search ends on shares its cache line.
function writeRingPairs(words: Uint32Array, at: number, t: RingTable): void {
  const { hashes, endpoints } = t;
  for (let p = 0; p < hashes.length; p++) {
    words[at + 2 * p] = hashes[p]!;
    words[at + 2 * p + 1] = endpoints[p]!;
  }
}

function tableBytes(t: BalancerTable | null): number {
  if (t === null) return 0;
  if (t.kind === 'maglev') return t.table.byteLength;
  return t.hashes.byteLength + t.endpoints.byteLength + 4 * (2 ** ringIndexBits(t.hashes.length) + 1);
}

// The kernel trusts offsets and counts, so refuse shapes that would make it read out of bounds
// of a table (a ring with no points, mismatched arrays, a subset listed at the wrong index).
function checkedTable(s: Subset, i: number, path: string): BalancerTable | null {
  const t = s.table;
  const bad = (why: string): StickydError =>
    new StickydError('STICKYD_ERR_KERNEL_LOAD', `cannot load subset ${s.name} into the WebAssembly kernel ${path}: ${why}`);
  if (s.id !== i) throw bad(`its id ${s.id} differs from its index ${i}`);
  if (t === null) return null;
  if (t.kind === 'ring' && (t.hashes.length === 0 || t.hashes.length !== t.endpoints.length)) throw bad('malformed ring table');
  if (t.kind === 'maglev' && t.table.length === 0) throw bad('empty maglev table');
  return t;
}

function noTable(subsetId: number, subsets: readonly Subset[]): StickydError {
  const name = subsets[subsetId]?.name ?? `#${subsetId}`;
  return new StickydError('STICKYD_ERR_BUILD', `subset ${name} has no balancer table in this snapshot (policy is not hash or the build did not run)`);
}
