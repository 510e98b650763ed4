// A real browser over HTTPS: headless Chromium (Debian's, driven by playwright-core) loads the
// seed's walkthrough page from stickyd's TLS port, trusting the test CA's leaf by its SPKI hash
// (--ignore-certificate-errors-spki-list) and reaching demo.example.com through
// --host-resolver-rules. The page must come over HTTP/2 (the browser's nextHopProtocol and
// stickyd's per-protocol request counter both say so) and stay on one backend across loads and
// across `stickyd reload`s. Outside CI the test is skipped (with a note) when Chromium is missing.
import test from 'ava';
import type { Page } from 'playwright-core';
import { haveChromium, launchChromium } from '../helpers/chromium.js';
import { runCli } from '../helpers/daemon.js';
import { startSeedStack } from '../helpers/stack.js';
import { curl } from '../helpers/curl.js';
import { makeCa } from '../helpers/tls-certs.js';
import { tlsGateway, writeTlsConfig } from '../helpers/tls-config.js';

interface Ping { instance: string; version: string }

/** stickyd_downstream_requests_total{protocol="h2"} */
async function h2Requests(adminPort: number): Promise<number> {
  const m = (await curl([`http://127.0.0.1:${adminPort}/metrics`])).stdout;
  return Number(/^stickyd_downstream_requests_total\{protocol="h2"\} (\d+)$/m.exec(m)?.[1] ?? 0);
}

async function load(page: Page, url: string, reload: boolean): Promise<{ ping: Ping; protocol: string }> {
  const res = reload ? await page.reload() : await page.goto(url);
  if (res === null || res.status() !== 200) throw new Error(`page load: ${res?.status()}`);
  const ping = JSON.parse((await res.text()).trim()) as Ping;
  // a string, so the test's tsconfig needs no DOM types
  const protocol = String(await page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol"));
  return { ping, protocol };
}

test('Chromium loads the page over HTTPS with h2, sticky across loads and across stickyd reloads', async (t) => {
  if (!haveChromium(t)) return;
  const ca = makeCa();
  const demo = ca.issue('demo', { sans: ['demo.example.com'] });
  const other = ca.issue('other', { sans: ['other.example.com'] });
  t.teardown(() => ca.cleanup());
  const { daemon, cfg } = await startSeedStack(t, { workers: 2, args: ['--listen', '80=127.0.0.1:0,443=127.0.0.1:0'], prepare: (dir) => writeTlsConfig(dir, tlsGateway(demo, other)) });
  const port = (daemon.lines.find((l) => l.msg === 'ready')!.listenPorts as number[])[1]!;
  const url = `https://demo.example.com:${port}/ping`;
  const browser = await launchChromium(t, [`--ignore-certificate-errors-spki-list=${demo.spki}`, '--host-resolver-rules=MAP demo.example.com 127.0.0.1']);
  const page = await browser.newPage();
  const h2Before = await h2Requests(daemon.adminPort);

  const first = await load(page, url, false);
  t.is(first.protocol, 'h2', 'the browser negotiated HTTP/2');
  const cookie = (await page.context().cookies()).find((c) => c.name === 'session');
  t.regex(cookie?.value ?? '', /^[0-9a-f]{32}$/, 'the session cookie was minted');
  t.true(cookie?.httpOnly);
  const instance = first.ping.instance;
  t.true(instance.startsWith('demo-v1-'), instance);
  let loads = 1;
  for (let i = 0; i < 4; i++, loads++) t.is((await load(page, url, true)).ping.instance, instance, `load ${loads + 1}`);

  for (let round = 0; round < 2; round++) {
    const reload = await runCli(['reload', '-c', cfg.dir, '--pid', String(daemon.proc.pid), '--admin', `127.0.0.1:${daemon.adminPort}`]);
    t.is(reload.code, 0, reload.stderr + reload.stdout);
    for (let i = 0; i < 3; i++, loads++) {
      const r = await load(page, url, true);
      t.is(r.ping.instance, instance, `after reload ${round + 1}, load ${i + 1}`);
      t.is(r.protocol, 'h2');
    }
  }
  const status = JSON.parse((await curl([`http://127.0.0.1:${daemon.adminPort}/status`])).stdout) as { generation: number };
  t.is(status.generation, 3, 'two reloads applied');
  const h2 = (await h2Requests(daemon.adminPort)) - h2Before;
  t.true(h2 >= loads, `stickyd counted ${h2} h2 requests for ${loads} page loads`);
});
