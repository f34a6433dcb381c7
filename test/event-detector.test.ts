/**
 * The stream's START / END / PROBS detector on its own, fed scripted scores: the hysteresis per
 * event, how each payload is dated and valued, finish() on close, the PROBS cadence, and the rules
 * as a property over random score sequences.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import type { EventPayloadInput } from '../src/contracts/api.js';
import { EventDetector, type DetectorOptions } from '../src/common/event-detector.js';

const HI = 0.9;
const LO = 0.1;

function detector(overrides: Partial<DetectorOptions> = {}): EventDetector {
  return new EventDetector({ events: ['fall'], thresholds: [0.5], startAfter: 3, endAfter: 2, probsEvery: 0, ...overrides });
}

/** Feeds one score row per analysis (ts = 100 + analysis number, index = 10 × analysis number); returns what each analysis gave. */
function feed(d: EventDetector, rows: readonly (readonly number[])[], from = 0): EventPayloadInput[][] {
  return rows.map((scores, k) => d.update({ scores, ts: 100 + from + k, index: 10 * (from + k) }));
}

t.test('START after startAfter consecutive analyses at or over the threshold, dated at the first of them', async (t) => {
  const out = feed(detector(), [[LO], [0.5], [0.7], [0.6], [HI]]);
  t.same(out.slice(0, 3), [[], [], []], 'nothing before the third analysis over the threshold');
  t.same(out[3], [{ type: 'START', ts: 101, frame_idx: 10, event: 'fall', prob: 0.6 }], 'a score equal to the threshold counts; the START is dated at the run\'s first analysis');
  t.same(out[4], [], 'one START only while active');
});

t.test('an analysis under the threshold restarts the count', async (t) => {
  const out = feed(detector(), [[HI], [HI], [LO], [HI], [HI], [0.49], [HI], [HI], [HI]]);
  t.same(out.slice(0, 8).flat(), [], 'no START from broken runs (0.49 is under 0.5)');
  t.match(out[8], [{ type: 'START', ts: 106, frame_idx: 60 }], 'the START counts from the last unbroken run');
});

t.test('END after endAfter consecutive analyses under, dated at the first; duration and peak', async (t) => {
  const d = detector();
  const out = feed(d, [[0.6], [0.8], [0.7], [0.95], [LO], [0.55], [LO], [0.3], [LO]]);
  t.match(out[2], [{ type: 'START', ts: 100 }]);
  t.same(out.slice(4, 7).flat(), [], 'one under, then one over: the under run is broken');
  t.same(out[7], [{ type: 'END', ts: 106, frame_idx: 60, event: 'fall', prob: 0.95, duration_sec: 6 }], 'dated at the first of the two under; prob is the peak while active');
  t.same(out[8], [], 'inactive again');
  t.same(d.finish({ ts: 200, index: 999 }), [], 'nothing to end on close');
});

t.test('an event can start again after it ended, with a fresh peak', async (t) => {
  const out = feed(detector({ startAfter: 1, endAfter: 1 }), [[0.99], [LO], [0.6], [LO]]).flat();
  t.same(out.map((e) => `${e.type} ${e.ts}`), ['START 100', 'END 101', 'START 102', 'END 103']);
  t.equal(out[3]!.prob, 0.6, 'the second END does not carry the first one\'s peak');
  t.equal(out[1]!.duration_sec, 1);
});

t.test('each event has its own state; payloads come in model order', async (t) => {
  const d = detector({ events: ['fall', 'lying_still', 'flailing'], thresholds: [0.5, 0.7, 0.3], startAfter: 2, endAfter: 1 });
  const out = feed(d, [
    [0.9, 0.8, 0.1],
    [0.9, 0.6, 0.4],
    [0.9, 0.8, 0.4],
    [0.2, 0.8, 0.1],
  ]);
  t.same(out[0], []);
  t.same(out[1]!.map((e) => `${e.type} ${e.event}`), ['START fall'], 'lying_still\'s run was broken by 0.6 < 0.7; flailing has one analysis over');
  t.same(out[2]!.map((e) => `${e.type} ${e.event}`), ['START flailing'], 'two in a row for flailing; lying_still has one');
  t.same(out[3]!.map((e) => `${e.type} ${e.event}`), ['END fall', 'START lying_still', 'END flailing'], 'several in one analysis, in model order');
});

t.test('finish() ENDs every active event as stream_closed, dated at the close', async (t) => {
  const d = detector({ events: ['fall', 'lying_still', 'flailing'], thresholds: [0.5, 0.5, 0.5], startAfter: 1, endAfter: 3 });
  feed(d, [[0.9, LO, 0.6], [0.7, LO, LO]]);
  const closed = d.finish({ ts: 110.5, index: null });
  t.same(closed, [
    { type: 'END', ts: 110.5, frame_idx: null, event: 'fall', prob: 0.9, duration_sec: 10.5, state: 'stream_closed' },
    { type: 'END', ts: 110.5, frame_idx: null, event: 'flailing', prob: 0.6, duration_sec: 10.5, state: 'stream_closed' },
  ]);
  t.same(d.finish({ ts: 111, index: null }), [], 'a second finish has nothing left to end');
});

t.test('an END is never dated before its START', async (t) => {
  const d = detector({ startAfter: 1, endAfter: 1 });
  d.update({ scores: [HI], ts: 50, index: 1 });
  t.same(d.update({ scores: [LO], ts: 40, index: 2 })[0]!.duration_sec, 0, 'a clock that went back gives 0, not a negative duration');
});

t.test('PROBS every probsEvery analyses, after the other events, with the top event', async (t) => {
  const d = detector({ events: ['fall', 'lying_still', 'flailing'], thresholds: [0.5, 0.5, 0.5], startAfter: 1, endAfter: 1, probsEvery: 2 });
  const out = feed(d, [[0.1, 0.2, 0.3], [0.6, 0.2, 0.6], [0.1, 0.1, 0.1], [0.2, 0.4, 0.3]]);
  t.notOk(out[0]!.some((e) => e.type === 'PROBS'), 'not on the first analysis');
  t.same(out[1]!.map((e) => e.type), ['START', 'START', 'PROBS'], 'on the second, last');
  t.same(out[1]!.at(-1), { type: 'PROBS', ts: 101, frame_idx: 10, probs: { fall: 0.6, lying_still: 0.2, flailing: 0.6 }, top_event: 'fall', top_prob: 0.6 }, 'a tie goes to the first in model order');
  t.notOk(out[2]!.some((e) => e.type === 'PROBS'));
  t.match(out[3], [{ type: 'PROBS', top_event: 'lying_still', top_prob: 0.4 }]);

  const never = feed(detector({ probsEvery: 0 }), Array.from({ length: 20 }, () => [LO])).flat();
  t.same(never, [], 'probsEvery 0: no PROBS at all');
});

t.test('property: the hysteresis rules hold for any score sequence', async () => {
  const arbitrary = fc.record({
    startAfter: fc.integer({ min: 1, max: 4 }),
    endAfter: fc.integer({ min: 1, max: 4 }),
    // Scores on a coarse grid, so that runs over and under the 0.5 threshold (and ties) are common.
    rows: fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 })).map(([a, b]) => [a / 8 + 0.25, b / 8 + 0.25]), { maxLength: 60 }),
  });
  fc.assert(fc.property(arbitrary, ({ startAfter, endAfter, rows }) => {
    const d = detector({ events: ['a', 'b'], thresholds: [0.5, 0.5], startAfter, endAfter });
    const out = feed(d, rows);
    const closed = d.finish({ ts: 100 + rows.length, index: null });
    for (let e = 0; e < 2; e++) {
      const name = e === 0 ? 'a' : 'b';
      const over = rows.map((r) => r[e]! >= 0.5);
      let active = false;
      let since = -1;
      let peak = 0;
      for (let k = 0; k < rows.length; k++) {
        const mine = out[k]!.filter((p) => p.event === name);
        const last = (n: number, want: boolean) => k + 1 >= n && over.slice(k + 1 - n, k + 1).every((o) => o === want);
        if (active) peak = Math.max(peak, rows[k]![e]!);
        if (!active && last(startAfter, true)) {
          // The first moment startAfter analyses in a row are over.
          if (mine.length !== 1 || mine[0]!.type !== 'START') return false;
          since = k + 1 - startAfter;
          if (mine[0]!.ts !== 100 + since || mine[0]!.frame_idx !== 10 * since || mine[0]!.prob !== rows[k]![e]) return false;
          active = true;
          peak = rows[k]![e]!;
        } else if (active && last(endAfter, false)) {
          const first = k + 1 - endAfter;
          const want = { type: 'END', ts: 100 + first, frame_idx: 10 * first, event: name, prob: peak, duration_sec: first - since };
          if (mine.length !== 1 || !isDeepStrictEqual(mine[0], want)) return false;
          active = false;
        } else if (mine.length !== 0) {
          return false;
        }
      }
      const onClose = closed.filter((p) => p.event === name);
      if (onClose.length !== (active ? 1 : 0)) return false;
      if (active && (onClose[0]!.state !== 'stream_closed' || onClose[0]!.prob !== peak || onClose[0]!.duration_sec !== rows.length - since)) return false;
    }
    return true;
  }), { numRuns: 300, seed: 20251129 });
});
