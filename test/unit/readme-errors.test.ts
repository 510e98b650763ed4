// The README's error-code table and the catalogue in src/errors.ts must agree both ways.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { CODES } from '../../src/errors.js';

test('README error table == error catalogue', async (t) => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const rows = [...readme.matchAll(/^\| `(STICKYD_ERR_[A-Z_]+)` \| (\d+|-) \| (.+) \|$/gm)];
  const documented = new Map(rows.map((m) => [m[1] as string, { status: m[2] === '-' ? 0 : Number(m[2]), summary: m[3] }]));
  for (const [code, info] of Object.entries(CODES)) {
    const row = documented.get(code);
    t.truthy(row, `${code} is missing from README`);
    t.is(row?.status, info.status, `${code} status`);
    t.is(row?.summary, info.summary, `${code} summary`);
  }
  for (const code of documented.keys()) t.true(code in CODES, `README documents unknown ${code}`);
});
