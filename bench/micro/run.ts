// Micro benchmarks of the balancing layer: `npm run bench:micro` (needs `npm run build:wasm`).
// Prints lookup cost (WASM kernel vs TS reference), build cost (inline and pooled), keys moved per
// endpoint change next to the 1/N ideal, the session cache at 1 M entries, the verified-pin
// cache beside a MAC verification, and the sessions a session split's weight change moves beside
// the minimum; then writes the
// same text into bench/RESULTS.md's micro block (not with --no-write). About a minute.
import { initHasher } from '../../src/balancing/hash.js';
import { loadKernel } from '../../src/kernel/index.js';
import { describeMachine, machineLine } from '../machine.js';
import { replaceSection } from '../results-md.js';
import { benchSelect } from './select.bench.js';
import { benchBuild } from './build.bench.js';
import { benchHostLoss } from './host-loss.bench.js';
import { benchHashPath } from './hash.bench.js';
import { benchSessionCache } from './session-cache.bench.js';
import { benchPinCache } from './pin-cache.bench.js';
import { benchSplitCost, benchSplitMoves } from './split-moves.bench.js';

const started = performance.now();
const machine = describeMachine();
// Keep a copy of everything printed for RESULTS.md.
const printed: string[] = [];
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  printed.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
  return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

const [hasher, kernel] = await Promise.all([initHasher(), loadKernel()]);
process.stdout.write(`# stickyd micro benchmarks (node ${process.version}, ${process.platform}/${process.arch})\n`);
benchSelect(hasher, kernel);
await benchBuild(hasher, kernel);
benchHostLoss(hasher);
benchHashPath(hasher, kernel);
benchSessionCache(hasher, kernel);
benchPinCache();
benchSplitMoves(hasher);
benchSplitCost(hasher);
process.stdout.write(`\ntotal ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

if (!process.argv.includes('--no-write')) {
  const body = [
    '## Micro: hashing, tables, host loss, session cache, pin cache (`npm run bench:micro`)',
    '',
    `Run ${new Date().toISOString()} on ${machineLine(machine)}; load average ${machine.loadavg.join(' / ')} at the start.`,
    '',
    '```text',
    printed.join('').trim(),
    '```',
  ].join('\n');
  await replaceSection('micro', body);
  write('wrote the micro block of bench/RESULTS.md\n');
}
