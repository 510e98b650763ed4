// An endpoint that never completes the TCP handshake: the connect timeout ends in 504.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startDaemon } from '../helpers/daemon.js';
import { curl } from '../helpers/curl.js';
import { GATEWAY_YAML, serviceEntryYaml, virtualServiceYaml } from '../helpers/istio-yaml.js';

test('an endpoint that never accepts the connection gets 504 at --connect-timeout', async (t) => {
  const hole = spawn('python3', [fileURLToPath(new URL('../fixtures/blackhole.py', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { hole.kill('SIGKILL'); });
  const port = await new Promise<number>((resolve) => createInterface({ input: hole.stdout }).once('line', (l) => resolve(Number(l))));
  const dir = await mkdtemp(join(tmpdir(), 'stickyd-blackhole-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'config.yaml'), `${GATEWAY_YAML}---
${virtualServiceYaml(['"*"'], `  - route: [{destination: {host: hole}}]
    retries: {attempts: 0}
`)}---
${serviceEntryYaml('hole', [port])}`);
  const daemon = await startDaemon(dir, { workers: 1, args: ['--connect-timeout', '300'] });
  t.teardown(() => daemon.stop());
  const t0 = Date.now();
  const r = await curl(['-i', `http://127.0.0.1:${daemon.port}/`]);
  const ms = Date.now() - t0;
  t.log(`answered in ${ms} ms: ${r.stdout.split('\r\n')[0]}`);
  t.regex(r.stdout, /^HTTP\/1\.1 504 /);
  t.regex(r.stdout, /connect/i);
  t.true(ms >= 290 && ms < 3_000, `${ms} ms`);
});
