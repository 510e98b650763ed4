import test from 'ava';
import { StickydError, CODES, ConfigError } from '../../src/errors.js';

test('every code carries its catalogue status and source', (t) => {
  for (const code of Object.keys(CODES) as (keyof typeof CODES)[]) {
    const e = new StickydError(code, 'x');
    t.is(e.status, CODES[code].status);
    t.is(e.source, CODES[code].source);
    t.deepEqual(JSON.parse(JSON.stringify(e)), { code, message: 'x' });
  }
});

test('ConfigError lists every issue with file, document and field', (t) => {
  const e = new ConfigError([
    { file: 'a.yaml', docIndex: 1, document: 'VirtualService/demo-vs', field: 'spec.http[0].route', line: 12, message: 'must be a list' },
  ]);
  t.regex(e.message, /a\.yaml:12: VirtualService\/demo-vs: spec\.http\[0\]\.route: must be a list/);
});
