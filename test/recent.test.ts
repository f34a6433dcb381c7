/**
 * The ring of recent events behind /event/recent: the last `limit` lines, oldest first, as the
 * log's own bytes; wrap-around; the limit's edge cases; refilling from the log's tail.
 */
import t from 'tap';
import { RecentEvents } from '../src/events/recent.js';

const line = (n: number) => `{"n": ${n}.0}`;

function ring(capacity: number, count: number): RecentEvents {
  const r = new RecentEvents(capacity);
  for (let n = 1; n <= count; n++) r.push(line(n));
  return r;
}

/** The n of each record in lastJson's answer, which must be a JSON array. */
const ns = (json: string) => (JSON.parse(json) as { n: number }[]).map((r) => r.n);

t.test('the last `limit` lines, oldest first, as the exact lines pushed', async (t) => {
  const r = ring(5, 3);
  t.equal(r.lastJson(10), '[{"n": 1.0}, {"n": 2.0}, {"n": 3.0}]', 'byte for byte: 1.0 keeps its .0');
  t.same(ns(r.lastJson(2)), [2, 3]);
  t.same(ns(r.lastJson(3)), [1, 2, 3]);
});

t.test('a full ring keeps the newest `capacity` lines, however often it wraps', async (t) => {
  for (const count of [4, 5, 6, 9, 23]) {
    const r = ring(4, count);
    const newest = Array.from({ length: 4 }, (_, i) => count - 3 + i);
    t.same(ns(r.lastJson(100)), newest, `after ${count} pushes`);
    t.same(ns(r.lastJson(2)), newest.slice(2), `after ${count} pushes, limit 2`);
  }
});

t.test('a limit of 0 or less, or not a number, gives []; a fractional one is floored', async (t) => {
  const r = ring(4, 6);
  for (const limit of [0, -1, Number.NaN, 0.9]) t.equal(r.lastJson(limit), '[]', `limit ${limit}`);
  t.same(ns(r.lastJson(2.7)), [5, 6]);
  t.equal(new RecentEvents(4).lastJson(10), '[]', 'empty ring');
});

t.test('capacity 0 (or less) keeps nothing; a fractional capacity is floored', async (t) => {
  t.equal(ring(0, 5).lastJson(10), '[]');
  t.equal(ring(-3, 5).lastJson(10), '[]');
  t.same(ns(ring(2.9, 5).lastJson(10)), [4, 5]);
});

t.test('refill() loads the JSON-object lines of a tail, in order, and counts the others', async (t) => {
  const r = new RecentEvents(3);
  const report = r.refill([line(1), '[1, 2]', line(2), '', '{"torn": ', 'null', line(3), '"text"', line(4)]);
  t.same(report, { loaded: 4, invalid: 5 });
  t.same(ns(r.lastJson(10)), [2, 3, 4], 'still bounded by capacity');
  r.push(line(5));
  t.same(ns(r.lastJson(10)), [3, 4, 5], 'pushes continue after the refilled lines');
});

t.test('with store positions, any arrival order gives the store\'s order (replicas list alike)', async (t) => {
  const positions = Array.from({ length: 40 }, (_, i) => i + 1);
  const shuffled = [...positions].sort((a, b) => ((a * 7919) % 41) - ((b * 7919) % 41));
  t.notSame(shuffled, positions, 'the arrival order differs from the store\'s');
  for (const [name, order] of [['in order', positions], ['interleaved', shuffled]] as const) {
    const r = new RecentEvents(10);
    for (const p of order) r.push(line(p), p);
    t.same(ns(r.lastJson(100)), positions.slice(-10), `${name}: the newest 10 by position`);
  }
  const r = new RecentEvents(3);
  for (const p of [5, 6, 7]) r.push(line(p), p);
  r.push(line(2), 2);
  t.same(ns(r.lastJson(10)), [5, 6, 7], 'a record older than a full list is not kept');
  r.push(line(1000));
  t.same(ns(r.lastJson(10)), [6, 7, 1000], 'a line without a position goes last');
  const refilled = new RecentEvents(5);
  refilled.refill([line(3), line(4)], [3, 4]);
  refilled.push(line(1), 1);
  t.same(ns(refilled.lastJson(10)), [1, 3, 4], 'refilled lines keep their positions');
  refilled.push(line(3), 3);
  t.same(ns(refilled.lastJson(10)), [1, 3, 4], 'a position already kept is not kept twice');
});
