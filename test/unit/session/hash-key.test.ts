import test from 'ava';
import { describeHashKey, readPinCarrier, sameHashKey } from '../../../src/session/hash-key.js';
import type { HashKey } from '../../../src/snapshot/types.js';

const cookie = (name: string, path = '/', ttlSec: number | null = 60): HashKey => ({ kind: 'cookie', name, path, ttlSec });

test('one cookie minted differently is still one key; another name or kind is not', (t) => {
  t.true(sameHashKey(cookie('session', '/', 60), cookie('session', '/app', null)));
  t.false(sameHashKey(cookie('session'), cookie('sid')));
  t.false(sameHashKey(cookie('session'), { kind: 'header', name: 'session' }));
  t.false(sameHashKey({ kind: 'query', name: 'u' }, { kind: 'header', name: 'u' }));
  t.true(sameHashKey({ kind: 'header', name: 'x-user' }, { kind: 'header', name: 'x-user' }));
  t.true(sameHashKey({ kind: 'sourceIp' }, { kind: 'sourceIp' }));
  t.false(sameHashKey({ kind: 'sourceIp' }, cookie('session')));
});

test('each key kind is named the way check prints it', (t) => {
  t.is(describeHashKey(cookie('session')), 'cookie "session"');
  t.is(describeHashKey({ kind: 'header', name: 'x-user' }), 'header "x-user"');
  t.is(describeHashKey({ kind: 'query', name: 'u' }), 'query parameter "u"');
  t.is(describeHashKey({ kind: 'sourceIp' }), 'the source IP');
});

test('a pin travels in its cookie (never minted as a plain key) or its header', (t) => {
  const scope = 'x';
  t.deepEqual(readPinCarrier({ kind: 'cookie', name: 'session', path: '/app', lifetimeSec: 60, maxAge: true, scope }), { kind: 'cookie', name: 'session', path: '/app', ttlSec: null });
  t.deepEqual(readPinCarrier({ kind: 'header', name: 'x-pin', path: '/', lifetimeSec: 60, maxAge: false, scope }), { kind: 'header', name: 'x-pin' });
});
