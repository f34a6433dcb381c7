/** The watch page's camera board on its own: states, scores, history, events, memo outcomes, and its bounds. */
import t from 'tap';
import { CameraBoard } from '../src/watch/camera-board.js';
import type { EventRecord } from '../src/events/records.js';

let ids = 0;
const record = (type: string, session: string | null, data: Record<string, unknown> = {}): EventRecord => ({
  timestamp: '2026-11-29T08:35:47+00:00', event_type: type, session_id: session, user_id: null, data: { type, ...data }, event_id: `e${++ids}`,
});
const EVENTS = ['fall', 'lying_still', 'flailing'];
const THRESHOLDS = [0.9, 0.7, 0.8];

t.test('a camera goes normal → active (with how long) → normal, and silent when it stops', async (t) => {
  let now = 1_000_000;
  const board = new CameraBoard({ now: () => now, silentAfterSec: 30 });
  board.analysis('cam-1', EVENTS, [0.1, 0.2, 0.05], THRESHOLDS);
  t.match(board.views(), [{ id: 'cam-1', source: 'stream', state: 'normal', scores: { fall: 0.1, lying_still: 0.2 }, thresholds: { fall: 0.9 } }]);
  now += 1000;
  const start = board.record(record('START', 'cam-1', { event: 'fall' }), false, now);
  t.match(board.views()[0], { state: 'active', active: [{ event: 'fall', since_ms: now, event_id: start.record.event_id }] });
  now += 2000;
  const end = board.record(record('END', 'cam-1', { event: 'fall', duration_sec: 2 }), true, now);
  t.match(board.views()[0], { state: 'normal', active: [] });
  t.same(end.delivery, { state: 'pending' }, 'an END that sends a memo waits for its outcome');
  t.equal(board.event(end.record.event_id)?.start?.record.event_id, start.record.event_id, 'the END knows its START');
  now += 31_000;
  t.equal(board.views()[0]!.state, 'silent', 'heard from over 30 s ago: silent, not normal');
});

t.test('scores: history thinned to one point a second (the peak kept), PROBS events count too', async (t) => {
  let now = 0;
  const board = new CameraBoard({ now: () => now });
  for (let i = 0; i < 10; i++) {
    now += 100;
    board.analysis('cam-1', EVENTS, [i === 5 ? 0.95 : 0.1, 0, 0], THRESHOLDS);
  }
  t.same(board.views()[0]!.points, [[100, 0.95]], 'ten analyses within a second: one point, their highest');
  now += 1000;
  board.record(record('PROBS', 'http-cam', { probs: { fall: 0.3, lying_still: 0.6 } }), false, now);
  t.match(board.views().find((c) => c.id === 'http-cam'), { source: 'events', scores: { fall: 0.3, lying_still: 0.6 }, points: [[now, 0.6]] });
  t.same(board.takeChanged().map((c) => c.id).sort(), ['cam-1', 'http-cam']);
  t.same(board.takeChanged(), [], 'changes are taken once');
});

t.test('events: newest first, filtered, limited; memo outcomes before or after their event', async (t) => {
  const board = new CameraBoard();
  board.alertOutcome('early', false, 'no_token');
  const early = { ...record('END', 'a', { event: 'fall' }), event_id: 'early' };
  t.same(board.record(early, true).delivery, { state: 'undelivered', reason: 'no_token' }, 'an outcome that came first is kept for its event');
  for (let i = 0; i < 5; i++) board.record(record('START', i % 2 ? 'a' : 'b', { event: 'fall' }));
  board.record(record('PROBS', 'a', { probs: { fall: 0.1 } }));
  const last = board.record(record('END', 'b', { event: 'lying_still' }), true);
  board.alertOutcome(last.record.event_id, true, null);
  t.same(board.event(last.record.event_id)?.delivery, { state: 'delivered' });
  const page1 = board.events({ limit: 3, types: ['START', 'END'] });
  t.same(page1.map((e) => e.seq), [last.seq, last.seq - 2, last.seq - 3], 'newest first; PROBS left out');
  t.same(board.events({ limit: 10, types: ['START', 'END'] }).length, 7, 'all five STARTs and both ENDs');
  t.same(board.entry('early')?.delivery, { state: 'undelivered', reason: 'no_token' }, 'an entry by its id, with its delivery');
  t.same(board.events({ camera: 'a', types: ['PROBS'] }).map((e) => e.record.event_type), ['PROBS']);
  t.ok(board.events({ event: 'lying_still' }).every((e) => e.record.data?.event === 'lying_still'));
});

t.test('bounded: cameras (the quietest forgotten), points, events', async (t) => {
  let now = 0;
  const board = new CameraBoard({ now: () => now, maxCameras: 3, maxPoints: 5, pointEverySec: 1, maxAlertEvents: 4, maxOtherEvents: 2 });
  for (const id of ['a', 'b', 'c', 'd']) {
    now += 1000;
    board.analysis(id, EVENTS, [0, 0, 0], THRESHOLDS);
  }
  t.same(board.views().map((c) => c.id), ['d', 'c', 'b'], 'the camera heard from longest ago went');
  for (let i = 0; i < 20; i++) {
    now += 1000;
    board.analysis('d', EVENTS, [i / 20, 0, 0], THRESHOLDS);
  }
  t.equal(board.views()[0]!.points.length, 5);
  const first = board.record(record('START', 'd', { event: 'fall' }));
  for (let i = 0; i < 5; i++) board.record(record('END', 'd', { event: 'fall' }));
  for (let i = 0; i < 5; i++) board.record(record('HEARTBEAT', 'd'));
  t.equal(board.events({ limit: 100 }).length, 6, '4 START/END and 2 others');
  t.equal(board.event(first.record.event_id), null, 'an event pushed out is forgotten by id too');
  t.equal(board.entry(first.record.event_id), null);
});

t.test('a record stored twice with one event_id: the newer entry stays found when the older one is pushed out', async (t) => {
  const board = new CameraBoard({ maxAlertEvents: 2 });
  const first = record('END', 'cam-1', { event: 'fall' });
  board.record(first, true);
  board.record({ ...first }, true);
  board.record(record('START', 'cam-1', { event: 'fall' }));
  t.ok(board.entry(first.event_id), 'the newer entry is still kept');
  board.alertOutcome(first.event_id, true, null);
  t.match(board.entry(first.event_id), { delivery: { state: 'delivered' } }, 'and its memo outcome reaches it');
});
