/**
 * When a stream's window is analysed: which frames make a window due (window full, then every
 * stride frames), and the one-in-flight rule where a newer due window supersedes a waiting one.
 */
import t from 'tap';
import { AnalysisSchedule } from '../src/common/analysis-schedule.js';

/** The 1-based frame numbers, among the first `frames`, that complete a due window. */
function dueFrames(window: number, stride: number, frames: number): number[] {
  const schedule = new AnalysisSchedule(window, stride);
  const due: number[] = [];
  for (let n = 1; n <= frames; n++) if (schedule.push()) due.push(n);
  return due;
}

t.test('a window is due once full, then every stride frames', async (t) => {
  t.same(dueFrames(16, 4, 30), [16, 20, 24, 28], 'the agents\' default: window 16, stride 4');
  t.same(dueFrames(4, 3, 12), [4, 7, 10]);
  t.same(dueFrames(1, 1, 5), [1, 2, 3, 4, 5], 'stride 1: every frame');
  t.same(dueFrames(3, 3, 9), [3, 6, 9]);
  t.same(dueFrames(2, 5, 16), [5, 10, 15], 'a stride longer than the window: the first one waits for the stride too');
  t.same(dueFrames(16, 4, 15), [], 'nothing before the window is full');
});

t.test('push() does not depend on analyses in flight', async (t) => {
  const schedule = new AnalysisSchedule(2, 2);
  const due: number[] = [];
  for (let n = 1; n <= 8; n++) {
    if (!schedule.push()) continue;
    due.push(n);
    schedule.due(); // never finished: a stuck analysis does not change which frames are due
  }
  t.same(due, [2, 4, 6, 8]);
  t.ok(schedule.busy);
});

t.test('one analysis in flight; while it runs the newest due window waits, superseding older ones', async (t) => {
  const schedule = new AnalysisSchedule(16, 4);
  t.notOk(schedule.busy, 'idle at first');
  t.equal(schedule.due(), 'run', 'the first due window runs at once');
  t.ok(schedule.busy);
  t.equal(schedule.due(), 'wait', 'the next one waits for it');
  t.equal(schedule.due(), 'supersede', 'a newer one takes the waiting one\'s place');
  t.equal(schedule.due(), 'supersede');

  t.equal(schedule.finished(), true, 'when the analysis ends, the waiting window runs');
  t.ok(schedule.busy, 'and is now in flight');
  t.equal(schedule.due(), 'wait', 'nothing waits any more, so the next one waits rather than supersedes');
  t.equal(schedule.finished(), true);

  t.equal(schedule.finished(), false, 'nothing left waiting');
  t.notOk(schedule.busy, 'idle again');
  t.equal(schedule.due(), 'run', 'so the next due window runs at once');
  t.equal(schedule.finished(), false);
  t.notOk(schedule.busy);
});
