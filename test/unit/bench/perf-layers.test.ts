import test from 'ava';
import { jitTier, layerOf, symbolKey } from '../../../bench/http/perf-layers.js';

// rows as `perf report -F sample,dso,sym` prints them for a Node process run with --perf-basic-prof
const JIT = '[JIT] tid 4242';

test('kernel, builtins, C++ and libraries are told apart by dso and symbol', (t) => {
  t.is(layerOf('[kernel.kallsyms]', '[k] _raw_spin_unlock_irqrestore'), 'kernel');
  t.is(layerOf('node', '[.] Builtins_LoadIC'), 'V8 builtins');
  t.is(layerOf('/usr/bin/node', '[.] Builtins_KeyedLoadIC_Megamorphic'), 'V8 builtins');
  t.is(layerOf('node', '[.] v8::internal::String::WriteToFlat<unsigned char>'), 'V8/Node C++');
  t.is(layerOf('libc.so.6', '[.] __memmove_avx_unaligned_erms'), 'libraries');
  t.is(layerOf('[vdso]', '[.] __vdso_clock_gettime'), 'libraries');
});

test('JIT code is split by the url V8 names it with', (t) => {
  t.is(layerOf(JIT, '[.] JS:*onHeaders file:///work/main/dist/worker/upstream/attempt.js:57:14'), 'JS the proxy');
  t.is(layerOf(JIT, '[.] JS:~ /work/main/bench/peers/undici-proxy.mjs:23:7'), 'JS the proxy');
  t.is(layerOf(JIT, '[.] JS:*_resume /work/main/node_modules/undici/lib/dispatcher/client.js:589:18'), 'JS undici');
  t.is(layerOf(JIT, '[.] JS:^lru /work/main/node_modules/lru-cache/dist/esm/index.js:1:1'), 'JS other packages');
  t.is(layerOf(JIT, '[.] JS:*clearBuffer node:internal/streams/writable:744:21'), 'JS node:*');
  // a name with a space: the url is still the last word
  t.is(layerOf(JIT, '[.] JS:~get size node:internal/streams/writable:100:3'), 'JS node:*');
  t.is(layerOf(JIT, '[.] RegExp:["\\\\\\u0000-\\u001f]'), 'other JIT');
  t.is(layerOf(JIT, '[.] JS:wasm-function[20]-20-turbofan'), 'other JIT');
  t.is(layerOf(JIT, '[.] 0x00007f9ce77c6063'), 'other JIT');
  // JavaScript from anywhere else (an eval, a script outside the repository) is not the proxy's
  t.is(layerOf(JIT, '[.] JS:*work file:///tmp/jt.js:1:1'), 'other JIT');
});

test('symbol keys drop the JIT tier and the checkout\'s path, so subjects and runs compare', (t) => {
  const optimised = symbolKey(JIT, '[.] JS:*onHeaders file:///work/main/dist/worker/upstream/attempt.js:57:14');
  const interpreted = symbolKey('[JIT] tid 99', '[.] JS:~onHeaders file:///tmp/ci-3/dist/worker/upstream/attempt.js:57:14');
  t.is(optimised, 'JS onHeaders dist/worker/upstream/attempt.js:57:14');
  t.is(interpreted, optimised);
  // Node 24's V8 marks context-specialised code with a quote after the tier
  t.is(symbolKey(JIT, "[.] JS:*'onHeaders file:///work/main/dist/worker/upstream/attempt.js:57:14"), optimised);
  t.is(layerOf(JIT, "[.] JS:*'onHeaders file:///work/main/dist/worker/upstream/attempt.js:57:14"), 'JS the proxy');
  t.is(symbolKey(JIT, '[.] JS:*_resume /work/main/node_modules/undici/lib/dispatcher/client.js:589:18'), 'JS _resume node_modules/undici/lib/dispatcher/client.js:589:18');
  t.is(symbolKey('[kernel.kallsyms]', '[k] tcp_ack'), 'tcp_ack');
  t.is(symbolKey(JIT, '[.] 0x00007f9ce77c6063'), 'JIT (unnamed)');
  t.true(symbolKey('node', `[.] ${'v8::internal::X'.repeat(20)}`).length <= 120);
});

test('the JIT tier is read from the perf-map mark, and only for JavaScript functions', (t) => {
  t.is(jitTier('[.] JS:~onHeaders file:///w/dist/worker/upstream/attempt.js:57:14'), 'interpreted');
  t.is(jitTier('[.] JS:^onHeaders file:///w/dist/worker/upstream/attempt.js:57:14'), 'baseline');
  t.is(jitTier('[.] JS:*onHeaders file:///w/dist/worker/upstream/attempt.js:57:14'), 'optimised');
  t.is(jitTier('JS:+onHeaders file:///w/dist/worker/upstream/attempt.js:57:14'), 'optimised');
  t.is(jitTier("[.] JS:*'onHeaders file:///w/dist/worker/upstream/attempt.js:57:14"), 'optimised');
  t.is(jitTier('[.] JS:wasm-function[20]-20-turbofan'), null);
  t.is(jitTier('[.] RegExp:a+b'), null);
  t.is(jitTier('[.] Builtins_LoadIC'), null);
});
