// Installs the benchmarks' own packages (bench/package.json: http-proxy and pino) into
// bench/node_modules on first use, so `npm run bench*` works from the repository root
// while the product's install (the root package.json) carries none of them.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const lock = new URL('./package-lock.json', import.meta.url);
const marker = new URL('./node_modules/.package-lock.json', import.meta.url);
// npm writes node_modules/.package-lock.json on install: older than the lock file means stale
const fresh = existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs;
if (!fresh) {
  const names = Object.keys(JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')).dependencies ?? {});
  process.stdout.write(`bench: installing the benchmarks' packages into bench/node_modules (${names.join(', ')})\n`);
  execFileSync('npm', ['ci', '--no-fund', '--no-audit', '--prefix', dir], { stdio: 'inherit' });
}
