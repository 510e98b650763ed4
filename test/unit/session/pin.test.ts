import test from 'ava';
import { randomBytes } from 'node:crypto';
import { StickydError } from '../../../src/errors.js';
import { generateKeyFile, parseKeyFile } from '../../../src/session/key-file.js';
import { buildEndpointToken, buildPinKey, MAX_PIN_LENGTH, signPin, verifyPin, type PinKey } from '../../../src/session/pin.js';

const NOW = 1_800_000_000;
const SCOPE = 'cookie session\0demo-service';
const SID = 'a'.repeat(32);
const key = buildPinKey(randomBytes(32));
const older = buildPinKey(randomBytes(32));
const keys = new Map<string, PinKey>([[key.id, key], [older.id, older]]);
const token = buildEndpointToken(key, SCOPE, '10.0.0.7:8080');

function pin(expiresAt = NOW + 3600, k: PinKey = key, t = token): string {
  return signPin(k, SCOPE, SID, t, expiresAt);
}

test('a pin verifies with its claims and is a valid cookie value within the bound', (t) => {
  const value = pin();
  t.regex(value, /^[0-9A-Za-z_.-]+$/);
  t.true(value.length <= MAX_PIN_LENGTH);
  t.deepEqual(verifyPin(keys, SCOPE, value, NOW), { outcome: 'valid', claims: { sid: SID, keyId: key.id, token, expiresAt: NOW + 3600 } });
});

test('the pin reveals no endpoint address: the token is an HMAC, different per key and per scope', (t) => {
  const value = pin();
  for (const leak of ['10.0.0.7', Buffer.from('10.0.0.7:8080').toString('base64'), Buffer.from('10.0.0.7:8080').toString('base64url'), '0a000007']) t.false(value.includes(leak), leak);
  t.not(buildEndpointToken(older, SCOPE, '10.0.0.7:8080'), token);
  t.not(buildEndpointToken(key, 'cookie session\0other-service', '10.0.0.7:8080'), token);
  t.not(buildEndpointToken(key, SCOPE, '10.0.0.8:8080'), token);
});

test('forged, tampered and truncated pins are refused, never believed', (t) => {
  const value = pin();
  const parts = value.split('.');
  const otherToken = buildEndpointToken(key, SCOPE, '10.0.0.8:8080');
  const forged = [
    [parts[0], parts[1], otherToken, parts[3], parts[4]].join('.'), // another endpoint, same MAC
    [parts[0], parts[1], parts[2], String(NOW + 999_999), parts[4]].join('.'), // a later expiry
    ['b'.repeat(32), parts[1], parts[2], parts[3], parts[4]].join('.'), // another session id
    // the last MAC character, whose low bits base64url does not use: only the exact text counts
    [parts[0], parts[1], parts[2], parts[3], `${parts[4]!.slice(0, 21)}${parts[4]!.endsWith('A') ? 'B' : 'A'}`].join('.'),
    [parts[0], parts[1], parts[2], parts[3], randomBytes(16).toString('base64url')].join('.'),
  ];
  for (const f of forged) t.is(verifyPin(keys, SCOPE, f, NOW).outcome, 'bad-mac', f);
  for (let n = 0; n < value.length; n++) {
    const outcome = verifyPin(keys, SCOPE, value.slice(0, n), NOW).outcome;
    t.not(outcome, 'valid', `truncated to ${n}`);
  }
  for (const garbage of ['', 'x', '....', `${value}.x`, `${value}x`, value.replace(/\./g, ','), 'a'.repeat(400), Buffer.from('10.0.0.8:8080').toString('base64')]) {
    t.not(verifyPin(keys, SCOPE, garbage, NOW).outcome, 'valid', garbage.slice(0, 40));
  }
  // a pin from another scope (another service or cookie name) does not verify here
  t.is(verifyPin(keys, 'cookie session\0other', value, NOW).outcome, 'bad-mac');
});

test('expired pins are refused by the proxy, whatever the browser kept', (t) => {
  t.is(verifyPin(keys, SCOPE, pin(NOW), NOW).outcome, 'expired');
  t.is(verifyPin(keys, SCOPE, pin(NOW - 1), NOW).outcome, 'expired');
  t.is(verifyPin(keys, SCOPE, pin(NOW + 1), NOW).outcome, 'valid');
});

test('rotation: a pin signed by any listed key verifies; a key no longer listed is unknown', (t) => {
  const byOlder = pin(NOW + 60, older, buildEndpointToken(older, SCOPE, '10.0.0.7:8080'));
  t.is(verifyPin(keys, SCOPE, byOlder, NOW).outcome, 'valid');
  t.is(verifyPin(new Map([[key.id, key]]), SCOPE, byOlder, NOW).outcome, 'unknown-key');
  // a key id that collides with a listed one but another secret: the MAC still fails
  const impostor: PinKey = { id: key.id, secret: randomBytes(32) };
  t.is(verifyPin(keys, SCOPE, signPin(impostor, SCOPE, SID, token, NOW + 60), NOW).outcome, 'bad-mac');
});

test('key ids are derived from the secret: two instances given one file agree', (t) => {
  const secret = randomBytes(32);
  t.is(buildPinKey(secret).id, buildPinKey(Buffer.from(secret)).id);
  t.not(buildPinKey(secret).id, buildPinKey(randomBytes(32)).id);
});

test('key files: keygen output parses; comments and blanks skipped; short, bad or duplicate keys refused naming the line, never echoing it', (t) => {
  const generated = generateKeyFile();
  t.is(parseKeyFile('k', generated).length, 1);
  const a = randomBytes(32);
  const b = randomBytes(48);
  t.deepEqual(parseKeyFile('k', `# keys\n\n${a.toString('base64url')}\n  ${b.toString('base64')}  \n`), [a, b]);
  const short = randomBytes(16).toString('base64url');
  const err = t.throws(() => parseKeyFile('/etc/stickyd/keys', `# x\n${short}\n`), { instanceOf: StickydError });
  t.is(err?.code, 'STICKYD_ERR_SESSION_KEYS');
  t.regex(err!.message, /\/etc\/stickyd\/keys:2: not a session key.*stickyd keygen/);
  t.false(err!.message.includes(short));
  t.throws(() => parseKeyFile('k', 'not a key!\n'), { message: /k:1: not a session key/ });
  t.throws(() => parseKeyFile('k', `${a.toString('base64url')}\n${a.toString('base64url')}\n`), { message: /k:2: this key is listed twice/ });
  t.throws(() => parseKeyFile('k', '# only a comment\n'), { message: /no session key/ });
});
