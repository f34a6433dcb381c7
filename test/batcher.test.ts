/**
 * The batcher's grouping rule, with a runner that records each batch: a batch holds windows of one
 * length only, in arrival order, and every window gets its own scores back.
 */
import t from 'tap';
import { MicroBatcher } from '../src/inference/batcher.js';
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
