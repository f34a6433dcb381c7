/**
 * The batcher with fake runners: a batch holds windows of one length only, in arrival order, and
 * every window gets its own scores back; the maxWaitMs timer (mocked time) lets windows join; a
 * full batch leaves at once; the queue's cap, a failing batch, close() and the concurrency limit.
 */
import { mock } from 'node:test';
import t from 'tap';
import { AppError } from '../src/common/errors.js';
import { MicroBatcher, type BatcherObserver, type BatcherOptions } from '../src/inference/batcher.js';
import type { BatchTask } from '../src/contracts/inference.js';

t.test('windows of different lengths never share a batch, and keep their order', async (t) => {
  const batches: { frames: number; firsts: number[] }[] = [];
  // Score = the window's first value: each window can check it got its own answer.
  const run = async (task: BatchTask) => {
    const length = task.frames * 2;
    const firsts = Array.from({ length: task.batch }, (_, i) => task.data[i * length]!);
    batches.push({ frames: task.frames, firsts });
    return Float32Array.from(firsts);
  };
  const batcher = new MicroBatcher(run, { maxBatch: 3, maxWaitMs: 0, queueMax: 100, concurrency: 1, featureDim: 2, outputs: 1 });
  const window = (id: number, frames: number) => batcher.submit(new Float32Array(frames * 2).fill(id), frames);
  const lengths = [8, 16, 8, 8, 16, 8, 16, 16];
  const scores = await Promise.all(lengths.map((frames, id) => window(id, frames)));

  t.same(scores.map((s) => s[0]), lengths.map((_, id) => id), 'each window gets its own scores');
  for (const b of batches) t.ok(b.firsts.every((id) => lengths[id] === b.frames), `batch of ${b.frames}-frame windows only: ${b.firsts}`);
  const order = (frames: number) => batches.filter((b) => b.frames === frames).flatMap((b) => b.firsts);
  t.same(order(8), [0, 2, 3, 5], '8-frame windows in arrival order');
  t.same(order(16), [1, 4, 6, 7], '16-frame windows in arrival order');
  t.ok(batches.every((b) => b.firsts.length <= 3), 'no batch over maxBatch');
});

/** A runner whose batches stay in flight until the test settles them. */
class HeldRunner {
  readonly calls: { task: BatchTask; resolve(scores: Float32Array): void; reject(err: unknown): void }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  readonly run = (task: BatchTask): Promise<Float32Array> => {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise((resolve, reject) => {
      const settle = <T>(fn: (v: T) => void) => (v: T) => {
        this.inFlight--;
        fn(v);
      };
      this.calls.push({ task, resolve: settle(resolve), reject: settle(reject) });
    });
  };

  /** The first value of each window of call `i` (the tests fill each window with its id). */
  ids(i: number): number[] {
    const { task } = this.calls[i]!;
    const length = task.data.length / task.batch;
    return Array.from({ length: task.batch }, (_, k) => task.data[k * length]!);
  }

  /** Answers call `i`: each window's score is its id. */
  answer(i: number): void {
    this.calls[i]!.resolve(Float32Array.from(this.ids(i)));
  }
}

/** An observer that records what the batcher reports. */
function recordingObserver() {
  const seen = { depths: [] as number[], rejected: 0, started: [] as { size: number; waits: number }[], failed: [] as string[] };
  const observer: BatcherObserver = {
    queueDepth: (depth) => seen.depths.push(depth),
    rejected: () => seen.rejected++,
    batchStarted: (size, waits) => seen.started.push({ size, waits: waits.length }),
    batchFailed: (reason) => seen.failed.push(reason),
  };
  return { seen, observer };
}

const OPTIONS: BatcherOptions = { maxBatch: 4, maxWaitMs: 0, queueMax: 100, concurrency: 1, featureDim: 1, outputs: 1 };
const window = (id: number, frames = 2) => new Float32Array(frames).fill(id);
/** Lets settled promises run their callbacks. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

t.test('a lone window waits up to maxWaitMs, so that later windows join its batch', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'setImmediate'] });
  t.teardown(() => mock.timers.reset());
  const runner = new HeldRunner();
  // A long wait in mocked time: only tick() moves it, however slow the machine is.
  const batcher = new MicroBatcher(runner.run, { ...OPTIONS, maxWaitMs: 10_000 });
  const first = batcher.submit(window(1), 2);
  mock.timers.tick(5_000);
  t.equal(runner.calls.length, 0, 'not sent before maxWaitMs');
  const second = batcher.submit(window(2), 2);
  t.equal(runner.calls.length, 0, 'a second window does not restart or shorten the wait');
  mock.timers.tick(5_000);
  t.equal(runner.calls.length, 1, 'sent when the first window has waited maxWaitMs');
  t.same(runner.ids(0), [1, 2], 'with the window that arrived meanwhile');
  runner.answer(0);
  t.same([(await first)[0], (await second)[0]], [1, 2]);
});

t.test('a full batch leaves at once, without waiting', async (t) => {
  const runner = new HeldRunner();
  const batcher = new MicroBatcher(runner.run, { ...OPTIONS, maxBatch: 3, maxWaitMs: 60_000 });
  const answers = [1, 2, 3, 4].map((id) => batcher.submit(window(id), 2));
  t.equal(runner.calls.length, 1, 'the third window filled the batch');
  t.same(runner.ids(0), [1, 2, 3]);
  t.equal(batcher.depth, 1, 'the fourth waits for the next batch');
  runner.answer(0);
  await Promise.all(answers.slice(0, 3));
  t.equal(runner.calls.length, 1, 'a lone window still waits for company after the batch is done');
  batcher.submit(window(5), 2);
  batcher.submit(window(6), 2);
  t.equal(runner.calls.length, 2, 'until the batch is full again');
  t.same(runner.ids(1), [4, 5, 6]);
});

t.test('a full queue refuses with 503 overloaded, and counts it', async (t) => {
  const runner = new HeldRunner();
  const { seen, observer } = recordingObserver();
  const batcher = new MicroBatcher(runner.run, { ...OPTIONS, maxBatch: 1, queueMax: 2 }, observer);
  const accepted = [1, 2, 3].map((id) => batcher.submit(window(id), 2));
  t.equal(runner.calls.length, 1, 'the first window runs; two wait');
  t.equal(batcher.depth, 2);
  let refused: unknown = 'still pending';
  batcher.submit(window(4), 2).then(() => (refused = 'accepted'), (err: unknown) => (refused = err));
  await settle();
  t.ok(refused instanceof AppError, 'an AppError');
  t.match(refused, { code: 'overloaded', status: 503, message: /inference queue is full \(2 windows waiting\)/ });
  t.equal(seen.rejected, 1, 'observer.rejected called');
  t.equal(batcher.depth, 2, 'the refused window was not queued');

  for (let i = 0; i < 3; i++) {
    runner.answer(i);
    await settle();
  }
  t.same((await Promise.all(accepted)).map((s) => s[0]), [1, 2, 3], 'the accepted windows are all answered');
  t.equal(runner.calls.length, 3, 'the refused one never ran');
  t.equal(Math.max(...seen.depths), 2, 'the queue depth reported never passed queueMax');
  t.equal(seen.depths.at(-1), 0, 'and is back to 0');
  const afterwards = batcher.submit(window(5), 2);
  t.equal(runner.calls.length, 4, 'room again once the queue drained');
  runner.answer(3);
  t.equal((await afterwards)[0], 5);
});

t.test('a failing batch rejects every window in it and reports the failure; the next batch runs', async (t) => {
  const runner = new HeldRunner();
  const { seen, observer } = recordingObserver();
  const batcher = new MicroBatcher(runner.run, { ...OPTIONS, maxBatch: 3 }, observer);
  const doomed = [1, 2, 3].map((id) => batcher.submit(window(id), 2).then(() => null, (err: unknown) => err));
  const later = batcher.submit(window(4), 2);
  const failure = new AppError('inference_failed', 'inference worker failed: exited');
  runner.calls[0]!.reject(failure);
  t.same(await Promise.all(doomed), [failure, failure, failure], 'each window of the batch gets the error');
  t.same(seen.failed, ['inference_failed'], 'batchFailed with the error\'s code');
  await settle();
  t.equal(runner.calls.length, 2, 'the next window still runs');
  runner.calls[1]!.reject(new Error('not an AppError'));
  await t.rejects(later, /not an AppError/);
  t.same(seen.failed, ['inference_failed', 'error'], 'any other error is reported as "error"');
  t.same(seen.started.map((s) => s.size), [3, 1], 'batchStarted for both batches, with their sizes');
  t.ok(seen.started.every((s, i) => s.waits === [3, 1][i]), 'and a wait per window');
});

t.test('close() refuses new windows; those already queued still run', async (t) => {
  const runner = new HeldRunner();
  const batcher = new MicroBatcher(runner.run, { ...OPTIONS, maxBatch: 1 });
  const running = batcher.submit(window(1), 2);
  const queued = batcher.submit(window(2), 2);
  batcher.close();
  await t.rejects(batcher.submit(window(3), 2), { code: 'shutting_down', status: 503 });
  runner.answer(0);
  t.equal((await running)[0], 1);
  await settle();
  runner.answer(1);
  t.equal((await queued)[0], 2, 'the window queued before close() is answered');
  t.equal(runner.calls.length, 2);
});

t.test('no more batches at once than `concurrency`; a free slot takes the next batch', async (t) => {
  const runner = new HeldRunner();
  const batcher = new MicroBatcher(runner.run, { ...OPTIONS, maxBatch: 1, concurrency: 2 });
  const answers = [1, 2, 3, 4, 5].map((id) => batcher.submit(window(id), 2));
  t.equal(runner.calls.length, 2, 'two batches start');
  t.equal(batcher.depth, 3);
  runner.answer(1);
  await settle();
  t.equal(runner.calls.length, 3, 'one finished: one more starts');
  t.same(runner.ids(2), [3], 'the oldest waiting window');
  for (let i = 0; i < 5; i++) {
    if (i !== 1) runner.answer(i);
    await settle();
  }
  t.same((await Promise.all(answers)).map((s) => s[0]), [1, 2, 3, 4, 5]);
  t.equal(runner.maxInFlight, 2, 'never more than two in flight');
});
