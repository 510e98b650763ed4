// The one build script for the WebAssembly lookup kernel (`npm run build:wasm`): compiles
// wasm/src/kernel.ts with the AssemblyScript compiler from node_modules into
// dist/wasm/kernel.wasm, then instantiates the result to check its exports. Any failure exits
// non-zero with the compiler's own diagnostics.
import { mkdir, readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join, relative } from 'node:path';
import asc from 'assemblyscript/asc';

const repo = dirname(dirname(fileURLToPath(import.meta.url)));
const source = join(repo, 'wasm', 'src', 'kernel.ts');
const output = join(repo, 'dist', 'wasm', 'kernel.wasm');
const REQUIRED_EXPORTS = ['memory', 'dataBase', 'init', 'selectSubset', 'selectRing', 'selectMaglev'];

// --runtime stub: the kernel never allocates, so no GC; -O3 --noAssert: lookups are the hot path.
const ARGS = [relative(repo, source), '--outFile', relative(repo, output), '--runtime', 'stub', '-O3', '--noAssert', '--baseDir', repo];

async function main() {
  await mkdir(dirname(output), { recursive: true });
  const result = await asc.main(ARGS, { stdout: process.stdout, stderr: process.stderr });
  if (result.error) throw new Error(`asc failed: ${result.error.message}`);
  const bytes = await readFile(output);
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const missing = REQUIRED_EXPORTS.filter((name) => !(name in instance.exports));
  if (missing.length > 0) throw new Error(`${relative(repo, output)} lacks exports: ${missing.join(', ')}`);
  const { size } = await stat(output);
  process.stdout.write(`build:wasm: wrote ${relative(repo, output)} (${size} bytes) from ${relative(repo, source)} with asc ${asc.version}\n`);
}

main().catch((err) => {
  process.stderr.write(`build:wasm: FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
