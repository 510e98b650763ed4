// Headless Chromium for browser tests: Debian's `chromium` (or CHROMIUM_PATH) driven by
// playwright-core. In CI a missing browser fails the test (.ci/run installs it); elsewhere the
// test is skipped with a note saying how to get it.
import type { ExecutionContext } from 'ava';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** False when the test must stop here: Chromium is missing (a failure in CI, a logged skip elsewhere). */
export function haveChromium(t: ExecutionContext): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI) t.fail(`${CHROMIUM} is missing in CI (Debian package: chromium)`);
  else {
    t.log(`SKIPPED: ${CHROMIUM} not found (apt-get install chromium, or set CHROMIUM_PATH)`);
    t.pass();
  }
  return false;
}

/**
 * A headless browser with the common flags and `extraArgs` (e.g. --host-resolver-rules), closed at
 * the test's teardown: before what the test started earlier (ava runs teardowns last first).
 */
export async function launchChromium(t: ExecutionContext, extraArgs: readonly string[] = []): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
  t.teardown(() => browser.close());
  return browser;
}
