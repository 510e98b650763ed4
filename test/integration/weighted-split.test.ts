// The seed's canary config (ingress-weighted.yaml): v1 80 / v2 20, no stickiness.
import test from 'ava';
import { startDaemon } from '../helpers/daemon.js';
import { startBackends, configDir } from '../helpers/backends.js';
import { curl } from '../helpers/curl.js';

test('weights 80/20 split traffic within a statistical tolerance', async (t) => {
  const backends = await startBackends();
  const cfg = await configDir('weighted', backends);
  const daemon = await startDaemon(cfg.dir, { workers: 2 });
  t.teardown(async () => {
    await daemon.stop();
    await Promise.all(backends.map((b) => b.close()));
    await cfg.cleanup();
  });
  const N = 1000;
  const url = `http://127.0.0.1:${daemon.port}/ping`;
  // one curl process, 200 URLs each (it reuses its connection); 5 of them in parallel
  const batches = await Promise.all(Array.from({ length: 5 }, () => curl(['-H', 'Host: demo.example.com', ...Array.from({ length: N / 5 }, () => url)], 60_000)));
  const versions = batches.flatMap((b) => b.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { version: string; set?: string }).version));
  t.is(versions.length, N);
  const v2 = versions.filter((v) => v === 'v2').length;
  const v1 = versions.filter((v) => v === 'v1').length;
  t.is(v1 + v2, N, 'nothing reaches v3 without the stage header');
  // binomial sd = sqrt(1000 * 0.2 * 0.8) = 12.6; allow 5 sd
  t.log(`v1 ${v1}, v2 ${v2} of ${N} (expected 800/200)`);
  t.true(Math.abs(v2 - 200) <= 63, `v2 got ${v2}`);
  const noCookie = await curl(['-i', '-H', 'Host: demo.example.com', url]);
  t.false(/set-cookie/i.test(noCookie.stdout), 'no stickiness: no cookie minted');
});
