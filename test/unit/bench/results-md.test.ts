import test from 'ava';
import { intervalVerdict, median, medianInterval } from '../../../bench/results-md.js';

test('the median interval is the sign test\'s order statistics, and null below 6 values', (t) => {
  t.is(medianInterval([1, 2, 3, 4, 5]), null);
  // n = 6: P(X = 0) = 1/64 <= 2.5 %, P(X <= 1) = 7/64 > 2.5 %: the extremes
  t.deepEqual(medianInterval([6, 1, 5, 2, 4, 3]), { low: 1, high: 6 });
  // n = 15: P(X <= 3) = 576/32768 = 1.8 %, P(X <= 4) = 5.9 %: the 4th smallest and 4th largest
  const xs = Array.from({ length: 15 }, (_, i) => (i * 7) % 15); // 0..14 shuffled
  t.deepEqual(medianInterval(xs), { low: 3, high: 11 });
  // n = 16: P(X <= 3) = 697/65536 = 1.1 %, P(X <= 4) = 3.8 %
  t.deepEqual(medianInterval(Array.from({ length: 16 }, (_, i) => 15 - i)), { low: 3, high: 12 });
});

test('the median interval holds the median and ignores a long tail', (t) => {
  const xs = [2, -1, 3, 0, 1, 2, 400, -300, 1, 2, 0, 3];
  const ci = medianInterval(xs)!;
  t.true(ci.low <= median(xs) && median(xs) <= ci.high);
  t.true(ci.high < 400 && ci.low > -300);
});

test('a verdict needs the whole interval on one side of the limit', (t) => {
  const around = (c: number): number[] => [c - 2, c - 1, c, c, c + 1, c + 2, c, c - 1, c + 1];
  t.is(intervalVerdict(around(0), 3), 'met');
  t.is(intervalVerdict(around(10), 3), 'missed');
  // the median (3.5) is above the limit, but the interval reaches below it
  t.is(intervalVerdict(around(3.5), 3), 'spans');
  t.is(intervalVerdict([0, 0, 0, 0, 0], 3), 'too few');
  // at the limit counts as met, as "at most 3 %" reads
  t.is(intervalVerdict([1, 2, 3, 3, 3, 3], 3), 'met');
  // ratios alike: 1.05x
  t.is(intervalVerdict([1.2, 1.3, 1.25, 1.28, 1.31, 1.22, 1.27], 1.05), 'missed');
});
