// Summarises V8 .cpuprofile files (from `npm run bench -- --cpu-prof`, or `node --cpu-prof`):
// the functions with the most self time across all given profiles, and the share of time by
// source (stickyd, node: internals, dependencies, GC, native/idle).
// With --us-per-req <µs> (the run's CPU per request, from its table), every share is also shown as
// µs per request: the share of busy time times that figure.
// Usage: node --import tsx bench/http/profile-summary.ts <dir-or-file>... [--top 30] [--us-per-req 40.1]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

function files(paths: string[]): string[] {
  return paths.flatMap((p) => (statSync(p).isDirectory() ? readdirSync(p).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(p, f)) : [p]));
}

function source(url: string, name: string): string {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return 'native (program)';
  if (url.startsWith('node:')) return 'node internals';
  if (url.includes('/node_modules/')) return `dep: ${url.split('/node_modules/').pop()!.split('/')[0]}`;
  if (url.includes('/dist/') || url.includes('/src/')) return 'stickyd';
  return url === '' ? 'native' : 'other';
}

export function summarise(paths: string[], top: number, usPerReq: number | null = null): string {
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const bySource = new Map<string, number>();
  let total = 0;
  let busy = 0;
  for (const file of files(paths)) {
    const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const nodes = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    for (let i = 0; i < p.samples.length; i++) {
      const n = nodes.get(p.samples[i]!)!;
      const us = p.timeDeltas[i] ?? 0;
      const f = n.callFrame;
      const key = frameKey(f);
      self.set(key, (self.get(key) ?? 0) + us);
      // inclusive: every distinct frame on this sample's stack
      const onStack = new Set<string>();
      for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) onStack.add(frameKey(nodes.get(id)!.callFrame));
      for (const k of onStack) inclusive.set(k, (inclusive.get(k) ?? 0) + us);
      const src = source(f.url, f.functionName);
      bySource.set(src, (bySource.get(src) ?? 0) + us);
      total += us;
      if (src !== 'idle') busy += us;
    }
  }
  const pct = (us: number): string => `${((us / busy) * 100).toFixed(1).padStart(5)}%${usPerReq === null ? '' : `  ${((us / busy) * usPerReq).toFixed(2).padStart(6)} µs/req`}`;
  const lines = [`profiled ${(total / 1e6).toFixed(1)} s, busy (not idle) ${(busy / 1e6).toFixed(1)} s; shares below are of busy time`, '', 'by source:'];
  for (const [k, v] of [...bySource].filter(([k]) => k !== 'idle').sort((a, b) => b[1] - a[1])) lines.push(`  ${pct(v)}  ${k}`);
  lines.push('', `top ${top} functions by self time:`);
  for (const [k, v] of [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(v)}  ${k}`);
  lines.push('', `top ${top} stickyd functions by inclusive time (self + callees):`);
  const ours = [...inclusive].filter(([k]) => / (dist|src)\//.test(k)).sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [k, v] of ours) lines.push(`  ${pct(v)}  ${k}`);
  return lines.join('\n');
}

function frameKey(f: CallFrame): string {
  const short = f.url.replace(/^file:\/\/.*?\/(dist|src|node_modules)\//, '$1/');
  return `${f.functionName || '(anonymous)'}  ${short}${f.url ? `:${f.lineNumber + 1}` : ''}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const t = args.indexOf('--top');
  const top = t === -1 ? 30 : Number(args.splice(t, 2)[1]);
  const u = args.indexOf('--us-per-req');
  const usPerReq = u === -1 ? null : Number(args.splice(u, 2)[1]);
  if (args.length === 0) {
    process.stderr.write('usage: node --import tsx bench/http/profile-summary.ts <dir-or-file>... [--top 30]\n');
    process.exit(2);
  }
  process.stdout.write(summarise(args, top, usPerReq) + '\n');
}
