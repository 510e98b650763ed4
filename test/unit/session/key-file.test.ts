import test from 'ava';
import { randomBytes } from 'node:crypto';
import { StickydError } from '../../../src/errors.js';
import { generateKeyFile, MIN_KEY_BYTES, parseKeyFile } from '../../../src/session/key-file.js';

const key = (): Buffer => randomBytes(MIN_KEY_BYTES);

test('a generated file parses to one key of the minimum size', (t) => {
  const keys = parseKeyFile('k', generateKeyFile());
  t.is(keys.length, 1);
  t.is(keys[0]!.length, MIN_KEY_BYTES);
  t.notDeepEqual(parseKeyFile('k', generateKeyFile())[0], keys[0]);
});

test('keys keep their order (the first signs); comments, blank lines and CRLF are skipped; base64 and base64url both read', (t) => {
  const a = key();
  const b = key();
  const text = `# rotation\n\n${a.toString('base64url')}\r\n  ${b.toString('base64')}  \n`;
  const keys = parseKeyFile('k', text);
  t.is(keys.length, 2);
  t.true(keys[0]!.equals(a));
  t.true(keys[1]!.equals(b));
});

test('a short key, a non-base64 line, a duplicate and an empty file are refused naming file and line, never echoing the secret', (t) => {
  const short = randomBytes(MIN_KEY_BYTES - 1).toString('base64url');
  const e1 = t.throws(() => parseKeyFile('/etc/k', `# c\n${short}\n`), { instanceOf: StickydError });
  t.regex(e1.message, /^\/etc\/k:2: not a session key/);
  t.false(e1.message.includes(short));
  t.regex(e1.message, /stickyd keygen -o \/etc\/k/);
  t.throws(() => parseKeyFile('k', 'not a key!\n'), { message: /^k:1: not a session key/ });
  const dup = key().toString('base64url');
  const e2 = t.throws(() => parseKeyFile('k', `${dup}\n${dup}\n`));
  t.regex(e2.message, /^k:2: this key is listed twice/);
  t.false(e2.message.includes(dup));
  t.throws(() => parseKeyFile('k', '# only a comment\n\n'), { message: /^k: no session key in the file/ });
});
