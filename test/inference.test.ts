/**
 * Dynamic batching, the bounded queue and worker crash recovery, on the real server with real
 * worker threads and the bundled model.
 */
import t from 'tap';
import { readModelMeta } from '../src/common/model-meta.js';
import { BUNDLED_MODEL_PATH } from '../src/common/paths.js';
import { CRASH_SENTINEL } from './fixtures/crash-sentinel.js';
import { startTestServer } from './support/server.js';
import { metric } from './support/metrics.js';
import { waitForValue } from './support/wait.js';
import { analyzeBody, randomFrames } from './support/windows.js';

const meta = readModelMeta(BUNDLED_MODEL_PATH);
const WINDOW = meta.windowSize || 16;
const DIM = meta.featureDim;

t.test('a batch gives each window the result it gets alone', async (t) => {
  // One worker and a generous wait so that concurrent windows really share session.run calls.
  const { client } = await startTestServer(t, { BACKEND_INFERENCE_WORKERS: '1', BACKEND_BATCH_MAX_WAIT_MS: '25', BACKEND_BATCH_MAX_SIZE: '16' });
  const bodies = Array.from({ length: 40 }, (_, i) => analyzeBody(randomFrames(100 + i, WINDOW, DIM)));

  const alone: { scores: number[]; is_anomaly: boolean }[] = [];
  for (const body of bodies) alone.push((await client.post('/behavior/analyze', body)).json);
  const batchesBefore = await metric(client, 'inference_batch_size_count', { model: 'behavior_lstm' });
  const windowsBefore = await metric(client, 'inference_batch_size_sum', { model: 'behavior_lstm' });

  const together = await Promise.all(bodies.map((body) => client.post('/behavior/analyze', body)));
  const batches = (await metric(client, 'inference_batch_size_count', { model: 'behavior_lstm' })) - batchesBefore;
  const windows = (await metric(client, 'inference_batch_size_sum', { model: 'behavior_lstm' })) - windowsBefore;

  t.equal(windows, 40, 'every window went through the batcher');
  t.ok(batches < 40, `concurrent windows shared batches (${batches} batches for 40 windows)`);
  together.forEach((res, i) => {
    t.equal(res.status, 200);
    res.json.scores.forEach((s: number, k: number) => t.ok(Math.abs(s - alone[i]!.scores[k]!) < 1e-5, `window ${i} score ${k}`));
    t.equal(res.json.is_anomaly, alone[i]!.is_anomaly);
  });
});

t.test('a full queue answers 503 with Retry-After and recovers', async (t) => {
  const { client } = await startTestServer(t, { BACKEND_INFERENCE_WORKERS: '1', BACKEND_BATCH_MAX_SIZE: '1', BACKEND_QUEUE_MAX: '2' });
  const body = analyzeBody(randomFrames(7, WINDOW, DIM));
  const results = await Promise.all(Array.from({ length: 60 }, () => client.post('/behavior/analyze', body)));
  const refused = results.filter((r) => r.status === 503);
  const served = results.filter((r) => r.status === 200);
  t.equal(refused.length + served.length, 60, 'every request is either served or refused, none fails otherwise');
  t.ok(refused.length > 0, `some were refused (${refused.length})`);
  t.ok(served.length >= 3, `some were served (${served.length})`);
  t.equal(refused[0]!.headers['retry-after'], '1');
  t.match(refused[0]!.json.detail, /inference queue is full/);
  t.equal((await client.post('/behavior/analyze', body)).status, 200, 'serves again once the queue drains');
  t.equal(await metric(client, 'inference_rejected_total'), refused.length, 'refusals are counted');
});

t.test('a crashed worker is replaced and its requests get 500, not silence', async (t) => {
  const { client } = await startTestServer(
    t,
    { BACKEND_INFERENCE_WORKERS: '1', BACKEND_BATCH_MAX_WAIT_MS: '30' },
    { inferenceWorker: new URL('./fixtures/crashing-inference.worker.ts', import.meta.url) },
  );
  const crashFrames = randomFrames(9, WINDOW, DIM);
  crashFrames[0]![0] = CRASH_SENTINEL;
  const normal = analyzeBody(randomFrames(10, WINDOW, DIM));
  // The crashing window and a normal one share the batch the worker dies under.
  const [crashed, neighbour] = await Promise.all([
    client.post('/behavior/analyze', analyzeBody(crashFrames)),
    client.post('/behavior/analyze', normal),
  ]);
  t.equal(crashed.status, 500);
  t.match(crashed.json.detail, /inference worker failed/);
  t.equal(neighbour.status, 500, 'the other request in that batch is answered too');
  t.notMatch(JSON.stringify(crashed.json), /at .*\.ts:\d+/, 'no stack trace');

  const ready = await waitForValue(() => client.get('/ready'), (r) => r.status === 200, 'a replacement worker');
  t.same(ready.json.workers, { loaded: 1, expected: 1 }, 'the dead worker is no longer counted');
  const after = await client.post('/behavior/analyze', normal);
  t.equal(after.status, 200, 'and serves again');
});
