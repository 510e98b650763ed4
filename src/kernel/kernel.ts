// Loads the WebAssembly lookup kernel (dist/wasm/kernel.wasm, built from wasm/src/kernel.ts by
// `npm run build:wasm`). Compiled once per process; instantiated once per snapshot by
// instance.ts. There is no fallback to the TypeScript reference: a kernel that cannot load is
// a startup error, so an instance never silently runs a different code path than its peers.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { StickydError } from '../errors.js';
import { instantiateLookup, REQUIRED_EXPORTS } from './instance.js';
import type { Kernel } from './types.js';

const compiled = new Map<string, Promise<Kernel>>();

/** Compiles the kernel once per path; `url` defaults to the built dist/wasm/kernel.wasm. */
export function loadKernel(url: URL = defaultKernelUrl()): Promise<Kernel> {
  let pending = compiled.get(url.href);
  if (pending === undefined) {
    pending = compileKernel(url);
    compiled.set(url.href, pending);
    // A failure is not cached: a caller may build the kernel and try again.
    pending.catch(() => compiled.delete(url.href));
  }
  return pending;
}

/**
 * From dist/kernel/kernel.js the kernel sits at dist/wasm/kernel.wasm. Running from
 * src/kernel/kernel.ts under tsx (tests, benches) there is no src/wasm/, so use the repo's
 * dist/wasm/kernel.wasm, which `npm run build:wasm` produces.
 */
export function defaultKernelUrl(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../../dist/wasm/kernel.wasm', here) : new URL('../wasm/kernel.wasm', here);
}

async function compileKernel(url: URL): Promise<Kernel> {
  const path = url.protocol === 'file:' ? fileURLToPath(url) : url.href;
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(await readFile(url));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new StickydError('STICKYD_ERR_KERNEL_LOAD', `cannot load the WebAssembly kernel ${path}: ${reason} (run npm run build:wasm)`, { cause: err });
  }
  const names = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  const missing = REQUIRED_EXPORTS.filter((n) => !names.has(n));
  if (missing.length > 0) {
    throw new StickydError('STICKYD_ERR_KERNEL_LOAD', `the WebAssembly kernel ${path} lacks exports ${missing.join(', ')} (rebuild with npm run build:wasm)`);
  }
  return { load: (subsets) => instantiateLookup(module, subsets, path) };
}
