import test from 'ava';
import { initHasher, HASH_SEED } from '../../../src/balancing/hash.js';
import { seededRandom } from '../../golden/fixtures.js';

// Published xxHash32 vectors, seed 0 (xxHash spec / python-xxhash docs).
const VECTORS: [string, number][] = [
  ['', 0x02cc5d05],
  ['a', 0x550d7456],
  ['abc', 0x32d153ff],
  ['Nobody inspects the spammish repetition', 0xe2293b2f],
];

test('HASH_SEED is fixed at 0 so every instance agrees', (t) => {
  t.is(HASH_SEED, 0);
});

test('hash32 matches published xxHash32 vectors', async (t) => {
  const hasher = await initHasher();
  for (const [key, expected] of VECTORS) t.is(hasher.hash32(key), expected, JSON.stringify(key));
});

test('hash32 hashes UTF-8 bytes: equals an independent xxHash32 over random unicode strings', async (t) => {
  const hasher = await initHasher();
  const random = seededRandom(7);
  const alphabet = ['a', 'Z', '0', '-', ':', 'é', 'ß', '€', '中', '😀', '\u0000'];
  for (let n = 0; n < 500; n++) {
    let key = '';
    const length = Math.floor(random() * 40);
    for (let i = 0; i < length; i++) key += alphabet[Math.floor(random() * alphabet.length)];
    t.is(hasher.hash32(key), xxh32(new TextEncoder().encode(key), 0), JSON.stringify(key));
  }
});

test('hash32 is unsigned 32-bit', async (t) => {
  const hasher = await initHasher();
  let high = 0;
  for (let i = 0; i < 10_000; i++) {
    const h = hasher.hash32(`k${i}`);
    t.true(Number.isInteger(h) && h >= 0 && h <= 0xffffffff);
    if (h >= 2 ** 31) high++;
  }
  t.true(high > 4000, 'about half the hashes have the top bit set and are still positive');
});

test('initHasher is memoised', async (t) => {
  t.is(initHasher(), initHasher());
  t.is(await initHasher(), await initHasher());
});

// A plain xxHash32 (Collet's spec) for the cross-check above; slow and obvious on purpose.
const P1 = 0x9e3779b1, P2 = 0x85ebca77, P3 = 0xc2b2ae3d, P4 = 0x27d4eb2f, P5 = 0x165667b1;
const rotl = (x: number, r: number): number => ((x << r) | (x >>> (32 - r))) >>> 0;
const u32 = (b: Uint8Array, i: number): number => (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
const round = (acc: number, lane: number): number => Math.imul(rotl((acc + Math.imul(lane, P2)) >>> 0, 13), P1) >>> 0;

function xxh32(b: Uint8Array, seed: number): number {
  let i = 0;
  let h: number;
  if (b.length >= 16) {
    let v1 = (seed + P1 + P2) >>> 0, v2 = (seed + P2) >>> 0, v3 = seed >>> 0, v4 = (seed - P1) >>> 0;
    for (; i + 16 <= b.length; i += 16) {
      v1 = round(v1, u32(b, i)); v2 = round(v2, u32(b, i + 4)); v3 = round(v3, u32(b, i + 8)); v4 = round(v4, u32(b, i + 12));
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) >>> 0;
  } else {
    h = (seed + P5) >>> 0;
  }
  h = (h + b.length) >>> 0;
  for (; i + 4 <= b.length; i += 4) h = Math.imul(rotl((h + Math.imul(u32(b, i), P3)) >>> 0, 17), P4) >>> 0;
  for (; i < b.length; i++) h = Math.imul(rotl((h + Math.imul(b[i]!, P5)) >>> 0, 11), P1) >>> 0;
  h = Math.imul(h ^ (h >>> 15), P2) >>> 0;
  h = Math.imul(h ^ (h >>> 13), P3) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
