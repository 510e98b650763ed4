// Request ids: the client's when usable, else a fresh v4 UUID that every hop and the log can write as it is.
import test from 'ava';
import { MAX_REQUEST_ID_LENGTH, newRequestId, readRequestId } from '../../../../src/worker/downstream/request-id.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('fresh ids are version 4, variant 10 UUIDs, distinct across several refills of the random batch', (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 1_000; i++) {
    const id = newRequestId();
    t.regex(id, UUID_V4);
    seen.add(id);
  }
  t.is(seen.size, 1_000);
});

test('the random bits vary in every hex position but the fixed version and variant ones', (t) => {
  const digits = Array.from({ length: 36 }, () => new Set<string>());
  for (let i = 0; i < 2_000; i++) {
    const id = newRequestId();
    for (let j = 0; j < 36; j++) digits[j]!.add(id[j]!);
  }
  for (let j = 0; j < 36; j++) {
    if ([8, 13, 18, 23].includes(j)) t.deepEqual([...digits[j]!], ['-']);
    else if (j === 14) t.deepEqual([...digits[j]!], ['4']);
    else if (j === 19) t.is(digits[j]!.size, 4, 'variant digit: 8, 9, a or b');
    else t.is(digits[j]!.size, 16, `position ${j} takes every hex digit`);
  }
});

test('a usable client id is kept; a missing, empty, repeated or oversized one is replaced', (t) => {
  t.is(readRequestId('abc-123'), 'abc-123');
  t.is(readRequestId('x'.repeat(MAX_REQUEST_ID_LENGTH)), 'x'.repeat(MAX_REQUEST_ID_LENGTH));
  for (const bad of [undefined, '', 'x'.repeat(MAX_REQUEST_ID_LENGTH + 1), ['a', 'b']]) t.regex(readRequestId(bad), UUID_V4);
});
