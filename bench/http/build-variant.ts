// Builds a stickyd variant for side-by-side measurement without touching src/ or dist/: takes
// src/ from a git revision (read-only `git archive`) or the working tree, applies the patch files
// given, compiles it into bench/out/variants/<name>/dist and copies the built WASM kernel.
// Measure it with: npm run bench -- --stickyd <name>=bench/out/variants/<name>/dist/cli.js
// Usage: node --import tsx bench/http/build-variant.ts <name> [--from HEAD|worktree] [--patch <file>]...
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO } from '../stickyd-config.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { from: { type: 'string', default: 'HEAD' }, patch: { type: 'string', multiple: true } },
});
const name = positionals[0];
if (name === undefined || !/^[a-z0-9-]+$/.test(name)) {
  process.stderr.write('usage: build-variant.ts <name> [--from HEAD|worktree] [--patch file.diff]...\n');
  process.exit(2);
}
const root = join(REPO, 'bench', 'out', 'variants', name);
rmSync(root, { recursive: true, force: true });
mkdirSync(root, { recursive: true });

if (values.from === 'worktree') {
  cpSync(join(REPO, 'src'), join(root, 'src'), { recursive: true });
} else {
  const tar = execFileSync('git', ['-C', REPO, 'archive', '--format=tar', values.from!, 'src'], { maxBuffer: 1 << 28 });
  execFileSync('tar', ['-x', '-C', root], { input: tar });
}
for (const patch of values.patch ?? []) {
  execFileSync('patch', ['-p1', '-d', root, '-i', resolve(REPO, patch)], { stdio: 'inherit' });
}
// The variant's compiler settings are the repo's; only the paths differ.
writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ extends: join(REPO, 'tsconfig.json'), compilerOptions: { rootDir: 'src', outDir: 'dist', typeRoots: [join(REPO, 'node_modules', '@types')] }, include: ['src/**/*.ts'] }));
execFileSync(join(REPO, 'node_modules', '.bin', 'tsc'), ['-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
cpSync(join(REPO, 'dist', 'wasm'), join(root, 'dist', 'wasm'), { recursive: true });
process.stdout.write(`built ${join(root, 'dist', 'cli.js')} from ${values.from}${(values.patch ?? []).map((p) => ` + ${p}`).join('')}\n`);
