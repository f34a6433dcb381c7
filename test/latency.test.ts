/**
 * The latency recorder of the agent and the benchmarks: nearest-rank percentiles over every
 * sample (past its first buffer), the live median of the last 64, rounding, merging recorders.
 */
import t from 'tap';
import { LatencyRecorder } from '../src/common/latency.js';
import { Rng } from '../src/features/synthetic-pose/rng.js';

/** 1..n in a seeded random order. */
function shuffled(n: number, seed: number): number[] {
  const rng = new Rng(seed);
  const values = Array.from({ length: n }, (_, i) => i + 1);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform(0, i + 1));
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
  return values;
}

function recorder(values: readonly number[]): LatencyRecorder {
  const r = new LatencyRecorder();
  for (const v of values) r.add(v);
  return r;
}

t.test('no samples: every figure is null', async (t) => {
  const r = new LatencyRecorder();
  t.same(r.figures(), { p50: null, p99: null, max: null });
  t.equal(r.recentMedian(), null);
  t.same(r.percentiles([0.5, 1]), [null, null]);
  t.equal(r.last, null);
  t.equal(r.count, 0);
});

t.test('nearest-rank percentiles, whatever the order of arrival', async (t) => {
  const r = recorder(shuffled(100, 7));
  t.same(r.figures(), { p50: 50, p99: 99, max: 100 });
  t.same(r.percentiles([0.01, 0.5, 0.9, 0.999, 1]), [1, 50, 90, 100, 100]);
  t.equal(r.count, 100);

  const two = recorder([30, 10]);
  t.same(two.figures(), { p50: 10, p99: 30, max: 30 }, 'of two samples the median is the lower (nearest rank)');
  t.equal(two.last, 10, 'last is the latest added, not the largest');
});

t.test('numbers sort as numbers', async (t) => {
  // As strings, "100" < "9": a string sort would give 100 as the median.
  t.same(recorder([100, 9, 10]).figures(), { p50: 10, p99: 100, max: 100 });
});

t.test('figures are rounded to 0.01 ms; percentiles() are not', async (t) => {
  const r = recorder([1.23456, 2.98765]);
  t.same(r.figures(), { p50: 1.23, p99: 2.99, max: 2.99 });
  t.same(r.percentiles([0.5, 1]), [1.23456, 2.98765]);
  t.equal(r.recentMedian(), 1.23);
});

t.test('every sample is kept past the first buffer of 1024', async (t) => {
  const values = shuffled(5000, 11);
  const r = recorder(values);
  t.equal(r.count, 5000);
  t.same(r.figures(), { p50: 2500, p99: 4950, max: 5000 });
  t.same(r.percentiles([1e-6]), [1], 'the smallest sample survived the growth');
});

t.test('the live median covers the last 64 samples only', async (t) => {
  const r = recorder(Array.from({ length: 100 }, () => 1000));
  for (let i = 1; i <= 64; i++) r.add(i);
  t.equal(r.recentMedian(), 32, 'the 1000s have all left the recent window');
  t.equal(r.figures().max, 1000, 'but still count for the percentiles');
  r.add(2000);
  t.equal(r.recentMedian(), 33, 'the window moved by one: 2..64 and 2000');

  t.equal(recorder([5, 1, 4, 2, 3]).recentMedian(), 3, 'fewer than 64: the median of those there are');
});

t.test('merged(): the figures of all the samples together', async (t) => {
  const a = recorder([1, 2, 3, 4]);
  const b = recorder([100, 200]);
  const c = new LatencyRecorder();
  t.same(LatencyRecorder.merged([a, b, c]), { p50: 3, p99: 200, max: 200 });
  t.same(LatencyRecorder.merged([c]), { p50: null, p99: null, max: null }, 'nothing merged: nulls');
  t.same(LatencyRecorder.merged([]), { p50: null, p99: null, max: null });
  t.same(a.figures(), { p50: 2, p99: 4, max: 4 }, 'the recorders themselves are unchanged');
});
