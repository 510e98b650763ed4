// Builds bench/http/rate-load.c (the fixed-rate load generator) into bench/out/ with the system C
// compiler, once per run, and returns the binary's path.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('./rate-load.c', import.meta.url));
const OUT = fileURLToPath(new URL('../out/', import.meta.url));
const BINARY = join(OUT, 'rate-load');

export function rateLoadBinary(): string {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return BINARY;
  mkdirSync(OUT, { recursive: true });
  try {
    execFileSync('cc', ['-O2', '-Wall', '-o', BINARY, SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(`could not build the rate generator (${SOURCE}) with cc: ${(err as { stderr?: Buffer }).stderr?.toString().trim() ?? String(err)}; install gcc (apt-get install -y gcc)`);
  }
  return BINARY;
}
