import test from 'ava';
import { isSnapshot } from '../../../src/snapshot/codec.js';

const minimal = { epoch: 3, listeners: [], subsets: [], settings: {} };

test('a snapshot-shaped message is accepted', (t) => {
  t.true(isSnapshot(minimal));
  t.true(isSnapshot(structuredClone(minimal)));
});

test('anything else a worker might receive is refused, field by field', (t) => {
  t.false(isSnapshot(null));
  t.false(isSnapshot('snapshot'));
  t.false(isSnapshot(42));
  t.false(isSnapshot({ ...minimal, epoch: '3' }));
  t.false(isSnapshot({ ...minimal, listeners: {} }));
  t.false(isSnapshot({ ...minimal, subsets: undefined }));
  t.false(isSnapshot({ ...minimal, settings: 'x' }));
  const { epoch: _epoch, ...noEpoch } = minimal;
  t.false(isSnapshot(noEpoch));
});
