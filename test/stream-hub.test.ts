/**
 * The stream hub's back-pressure rule, with a peer whose send buffer the test controls (a real
 * socket's buffer is hidden behind megabytes of kernel buffers on loopback): analyses are dropped
 * and counted while the buffer is over the bound, and the next one delivered reports how many.
 */
import t from 'tap';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/common/log.js';
import { createMetrics } from '../src/metrics.js';
import { StreamHub, type StreamPeer } from '../src/streams/stream-hub.js';
import type { ServedModel } from '../src/inference/model-registry.js';
import { encodeBinaryFrame } from '../src/common/stream-frame-encoding.js';
import { tempDir } from './support/temp-dir.js';

class TestPeer implements StreamPeer {
  readonly address = "127.0.0.1";
  buffered = 0;
  sent: any[] = [];
  send(text: string): boolean {
    this.sent.push(JSON.parse(text));
    return true;
  }
  bufferedBytes(): number {
    return this.buffered;
  }
  end(): void {}
}

/** A hub over a model of `events` (featureDim 2, window 2) with one stream 'cam' open at stride 1. */
function openStream(env: Record<string, string>, events: string[], analyze: () => Promise<Float32Array>) {
  const metrics = createMetrics();
  const model = { name: 'm', version: 'v', ref: { name: 'm', version: 'v' }, events, thresholds: events.map(() => 0.5), featureDim: 2, windowSize: 2, submit: analyze } as unknown as ServedModel;
  const hub = new StreamHub({
    models: { featureDim: 2, models: [model], get: (name: string) => (name === 'm' ? model : undefined), select: () => model },
    events: { append: async () => {} },
    // An explicit environment and a directory without .env: the developer's own settings stay out.
    config: loadConfig(env, tempDir()).stream,
    metrics,
    logger: createLogger('silent'),
  });
  const peer = new TestPeer();
  const connection = hub.connect(peer);
  connection.onMessage(new TextEncoder().encode(JSON.stringify({ type: 'open', stream_id: 'cam', stride: 1 })).buffer as ArrayBuffer, false);
  const frame = (i: number) => connection.onMessage(encodeBinaryFrame('cam', 'features', [i, i], i, null), true);
  return { hub, peer, connection, metrics, frame };
}

t.test('a slow consumer loses analyses, never memory, and is told how many', async (t) => {
  const scores = new Float32Array([0.1, 0.2, 0.3]);
  const { hub, peer, connection, metrics, frame } = openStream({ BACKEND_WS_MAX_BACKPRESSURE_BYTES: '4096' }, ['a', 'b', 'c'], async () => scores);
  const settle = () => new Promise((r) => setImmediate(r));

  frame(0);
  frame(1);
  await settle();
  t.equal(peer.sent.filter((m) => m.type === 'analysis').length, 1, 'delivered while the buffer is small');

  peer.buffered = 10_000;
  for (let i = 2; i < 7; i++) {
    frame(i);
    await settle();
  }
  t.equal(peer.sent.filter((m) => m.type === 'analysis').length, 1, 'nothing more is queued while over the bound');
  const dropped = await metrics.stream.analyses.get();
  t.equal(dropped.values.find((v) => v.labels.outcome === 'dropped')?.value, 5, 'five analyses dropped and counted');

  peer.buffered = 0;
  frame(7);
  await settle();
  const last = peer.sent.filter((m) => m.type === 'analysis').at(-1);
  t.equal(last.index, 7);
  t.equal(last.dropped, 5, 'the next analysis says how many were dropped');
  t.equal(hub.openStreams, 1);
  connection.onClose();
  t.equal(hub.openStreams, 0, 'closing frees the stream');
});

t.test('a stream that falls behind analyses its newest window and counts the ones it skipped', async (t) => {
  const pending: ((scores: Float32Array) => void)[] = [];
  const { peer, metrics, frame } = openStream({}, ['a'], () => new Promise((resolve) => pending.push(resolve)));

  frame(0);
  frame(1); // window full: analysis 1 starts and stays in flight
  for (let i = 2; i < 6; i++) frame(i); // four more windows are due; only the newest will run
  t.equal(pending.length, 1, 'one analysis in flight per stream');
  pending.shift()!(new Float32Array([0.1]));
  await new Promise((r) => setImmediate(r));
  t.equal(pending.length, 1, 'the newest waiting window runs next');
  pending.shift()!(new Float32Array([0.2]));
  await new Promise((r) => setImmediate(r));
  const analyses = peer.sent.filter((m) => m.type === 'analysis');
  t.same(analyses.map((a) => a.index), [1, 5], 'frame 1, then the newest frame');
  t.equal(analyses[0].dropped + analyses[1].dropped, 3, 'the three windows skipped are reported to the agent');
  const counted = (await metrics.stream.analyses.get()).values.find((v) => v.labels.outcome === 'superseded')?.value;
  t.equal(counted, 3, 'and counted in /metrics');
});
