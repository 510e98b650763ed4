// The layers of a native profile of a Node proxy (perf-split.ts), from `perf report`'s dso and
// symbol columns: pure, so the classification is tested on its own (test/unit/bench/).
export const LAYERS = ['kernel', 'V8 builtins', 'V8/Node C++', 'JS the proxy', 'JS undici', 'JS other packages', 'JS node:*', 'other JIT', 'libraries'] as const;
export type Layer = (typeof LAYERS)[number];

/**
 * The layer of one `perf report` row (its dso and symbol columns). V8's embedded builtins (ICs,
 * bytecode handlers, the interpreter's entry) are `Builtins_*` symbols of the node binary; code V8
 * compiled at run time is named in the perf map as `JS:<tier><name> <url>:<line>:<col>`,
 * `RegExp:<source>`, or not at all (an address) when it was made before the map was written.
 */
export function layerOf(dso: string, sym: string): Layer {
  if (sym.startsWith('[k]')) return 'kernel';
  const name = sym.replace(/^\[\.\]\s*/, '');
  if (dso === 'node' || dso.endsWith('/node')) return name.startsWith('Builtins_') ? 'V8 builtins' : 'V8/Node C++';
  if (dso.startsWith('[JIT]') || /^perf-\d+\.map$/.test(dso)) {
    // the url is the last word: a function's name may hold spaces (`get size`)
    const js = /^(?:JS|LazyCompile|Function):.*\s(\S+)$/.exec(name);
    if (js === null) return 'other JIT';
    const url = js[1]!;
    if (url.startsWith('node:')) return 'JS node:*';
    if (url.includes('/node_modules/undici/')) return 'JS undici';
    if (url.includes('/node_modules/')) return 'JS other packages';
    if (url.includes('/dist/') || url.includes('/bench/peers/')) return 'JS the proxy';
    return 'other JIT';
  }
  return 'libraries';
}

/**
 * One symbol's name for comparing subjects: JIT names lose their tier mark (`~` interpreted, `*`
 * optimised, ...) and the `'` newer V8 (Node 24) adds after it for context-specialised code.
 */
export function symbolKey(dso: string, sym: string): string {
  const name = sym.replace(/^\[[.k]\]\s*/, '');
  const js = /^JS:[~*^+]?'?(.*)$/.exec(name);
  if (js !== null) return `JS ${js[1]!.replace(/(?:file:\/\/)?\/\S*?\/(dist|node_modules|bench)\//, '$1/')}`;
  if (/^0x[0-9a-f]+$/.test(name)) return `${dso.startsWith('[JIT]') ? 'JIT' : dso} (unnamed)`;
  return name.length > 120 ? `${name.slice(0, 117)}...` : name;
}

export const TIERS = ['interpreted', 'baseline', 'optimised'] as const;
export type Tier = (typeof TIERS)[number];

/**
 * The V8 tier of a JIT row's JavaScript function, from its perf-map mark (`JS:~` Ignition's
 * bytecode, `JS:^` Sparkplug, `JS:*` TurboFan; `JS:+`, Maglev on Node 22 and later, counts as
 * optimised), or null for a row that is not a named JavaScript function. Code below TurboFan runs
 * its property loads through the LoadIC builtins instead of inline.
 */
export function jitTier(sym: string): Tier | null {
  const m = /^(?:\[\.\]\s*)?JS:([~^*+])/.exec(sym);
  if (m === null) return null;
  return m[1] === '~' ? 'interpreted' : m[1] === '^' ? 'baseline' : 'optimised';
}
