// The admin page (GET /) in headless Chromium against the real daemon after real traffic: it
// must show the real endpoints, their health, non-zero request counts and ring shares, and keep
// refreshing. A screenshot goes to test/out/admin-page.png. Chromium is Debian's `chromium`
// driven by playwright-core; outside CI the test is skipped (with a note) when it is missing.
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { haveChromium, launchChromium } from '../helpers/chromium.js';
import { startSeedStack } from '../helpers/stack.js';
import { getJson } from '../helpers/http.js';

const OUT = fileURLToPath(new URL('../out/', import.meta.url));

test('the page shows workers and every endpoint with health, request counts and ring share; it refreshes', async (t) => {
  if (!haveChromium(t)) return;
  const { daemon, backends } = await startSeedStack(t, { workers: 2 });
  const served = new Map<string, number>();
  for (let i = 0; i < 30; i++) {
    const r = await getJson<{ instance: string }>(`http://127.0.0.1:${daemon.port}/ping`, { host: 'demo.example.com' });
    served.set(r.body.instance, (served.get(r.body.instance) ?? 0) + 1);
  }
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
  await page.goto(`http://127.0.0.1:${daemon.adminPort}/`);
  await page.waitForSelector('body[data-polls="1"]', { timeout: 10_000 });

  t.is(await page.textContent('#generation'), '1');
  t.is(await page.textContent('#ready'), 'ready');
  t.is(await page.locator('#workers tbody tr').count(), 2);
  for (const b of backends) {
    const row = page.locator(`tr[data-endpoint="127.0.0.1:${b.port}"]`);
    t.is(await row.count(), 1, `${b.instance} has a row`);
    t.is(await row.locator('.endpoint-id').textContent(), `127.0.0.1:${b.port}`);
    t.regex((await row.textContent()) ?? '', /healthy/);
    if (b.instance.startsWith('demo-v1-')) {
      t.is(Number(await row.locator('.requests').textContent()), served.get(b.instance) ?? 0, b.instance);
      const share = Number((await row.locator('.share-pct').textContent())?.replace('%', ''));
      t.true(share > 10 && share < 60, `${b.instance} ring share ${share}%`);
    }
  }
  const total = await page.locator('tr[data-subset="demo-service/v1"] .requests').allTextContents();
  t.is(total.reduce((a, x) => a + Number(x), 0), 30, 'the v1 rows add up to the traffic sent');

  // more traffic, and the next poll shows it without a reload of the page
  for (let i = 0; i < 10; i++) await getJson(`http://127.0.0.1:${daemon.port}/ping`, { host: 'demo.example.com' });
  // a string, so the test's tsconfig needs no DOM types
  await page.waitForFunction(
    `[...document.querySelectorAll('tr[data-subset="demo-service/v1"] .requests')].reduce((a, c) => a + Number(c.textContent), 0) === 40`,
    undefined, { timeout: 10_000 },
  );
  t.pass('the page refreshed to 40 requests');

  await mkdir(OUT, { recursive: true });
  const shot = `${OUT}admin-page.png`;
  await page.screenshot({ path: shot, fullPage: true });
  t.true(existsSync(shot));
  t.log(`screenshot: ${shot}`);
  t.deepEqual(errors, [], 'no script errors in the page');
});
