// Micro benchmarks of the balancing layer: `npm run bench:micro` (needs `npm run build:wasm`).
// Prints lookup cost (WASM kernel vs TS reference), build cost (inline and pooled) and keys
// moved per endpoint change next to the 1/N ideal. Meant to finish in well under a minute.
import { initHasher } from '../../src/balancing/hash.js';
import { loadKernel } from '../../src/kernel/index.js';
import { benchSelect } from './select.bench.js';
import { benchBuild } from './build.bench.js';
import { benchHostLoss } from './host-loss.bench.js';

const started = performance.now();
const [hasher, kernel] = await Promise.all([initHasher(), loadKernel()]);
process.stdout.write(`# stickyd micro benchmarks (node ${process.version}, ${process.platform}/${process.arch})\n`);
benchSelect(hasher, kernel);
await benchBuild(hasher, kernel);
benchHostLoss(hasher);
process.stdout.write(`\ntotal ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
