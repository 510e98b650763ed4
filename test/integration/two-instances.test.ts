// Scaling out: two stickyd instances on the same config (endpoints listed in opposite orders)
// route every session to the same endpoint, with no shared state.
import test from 'ava';
import { mkdtemp, writeFile, copyFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../helpers/daemon.js';
import { startBackends, endpointsYaml, EXAMPLES, SEED_TOPOLOGY } from '../helpers/backends.js';
import { curl } from '../helpers/curl.js';

test('the same session key reaches the same endpoint through either instance', async (t) => {
  const backends = await startBackends();
  const dirA = await mkdtemp(join(tmpdir(), 'stickyd-a-'));
  const dirB = await mkdtemp(join(tmpdir(), 'stickyd-b-'));
  await copyFile(join(EXAMPLES, 'demo', 'ingress-sticky.yaml'), join(dirA, 'ingress-sticky.yaml'));
  await copyFile(join(EXAMPLES, 'demo', 'ingress-sticky.yaml'), join(dirB, 'ingress-sticky.yaml'));
  await writeFile(join(dirA, 'endpoints.yaml'), endpointsYaml(backends));
  // instance B lists the WorkloadEntries in reverse order
  await writeFile(join(dirB, 'endpoints.yaml'), endpointsYaml([...backends].reverse(), [...SEED_TOPOLOGY].reverse()));
  const a = await startDaemon(dirA, { workers: 2 });
  const b = await startDaemon(dirB, { workers: 1 });
  t.teardown(async () => {
    await Promise.all([a.stop(), b.stop()]);
    await Promise.all(backends.map((x) => x.close()));
    await rm(dirA, { recursive: true, force: true });
    await rm(dirB, { recursive: true, force: true });
  });
  const keys = Array.from({ length: 60 }, (_, i) => `session-${i}-${(i * 2654435761) >>> 0}`);
  const where = async (port: number, key: string): Promise<string> => {
    const r = await curl(['-H', 'Host: demo.example.com', '-H', `Cookie: session=${key}`, `http://127.0.0.1:${port}/ping`]);
    return (JSON.parse(r.stdout) as { instance: string }).instance;
  };
  const seen = new Set<string>();
  let same = 0;
  for (const key of keys) {
    const [x, y] = await Promise.all([where(a.port, key), where(b.port, key)]);
    seen.add(x);
    if (x === y) same++;
    else t.log(`${key}: ${x} vs ${y}`);
  }
  t.is(same, keys.length, 'every key agrees across instances');
  t.is(seen.size, 3, 'the keys cover all three v1 endpoints');
});
