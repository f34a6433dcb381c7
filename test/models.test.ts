/**
 * The bundled model set on the real server (real workers, both bundled models, served by default):
 * the old backend's two agents answered at their defaults, selection by name and by frame count,
 * the 422s, GET /models, /ready, /openapi.json and the per-model metrics.
 */
import t from 'tap';
import { readModelMeta } from '../src/common/model-meta.js';
import { BUNDLED_MODEL_PATH, BUNDLED_MODEL_W60_PATH, BUNDLED_MODELS_DIR } from '../src/common/paths.js';
import { metric } from './support/metrics.js';
import { startTestServer } from './support/server.js';
import { StreamClient } from './support/stream-client.js';
import { analyzeBody, randomFrames } from './support/windows.js';

const w16 = readModelMeta(BUNDLED_MODEL_PATH);
const w60 = readModelMeta(BUNDLED_MODEL_W60_PATH);
const version = (meta: typeof w16) => String(meta.source.sha256).slice(0, 12);
const DIM = w16.featureDim;

t.test('the bundled set', async (t) => {
  const { url, client } = await startTestServer(t, { BACKEND_INFERENCE_WORKERS: '1', MODEL_CHECKPOINT_PATH: BUNDLED_MODELS_DIR });
  // What the old backend's agents send at their defaults: the streaming agent 16 frames, the realtime client 60.
  const body16 = analyzeBody(randomFrames(1, 16, DIM));
  const body60 = analyzeBody(randomFrames(2, 60, DIM));

  t.test('both agents are answered at their defaults, each by the model of its window', async (t) => {
    const a = await client.post('/behavior/analyze', body16);
    t.equal(a.status, 200, a.text.slice(0, 200));
    t.same(a.json.model, { name: 'behavior_lstm', version: version(w16) });
    t.same(a.json.thresholds, w16.thresholds);
    const b = await client.post('/behavior/analyze', body60);
    t.equal(b.status, 200, b.text.slice(0, 200));
    t.same(b.json.model, { name: 'behavior_lstm_w60', version: version(w60) });
    t.same(b.json.thresholds, w60.thresholds);
    t.same(Object.keys(b.json), ['is_anomaly', 'normal_score', 'anomaly_score', 'events', 'scores', 'thresholds', 'model'], 'old fields first, unchanged');
  });

  t.test('by name: the query, or a top-level "model" (general path); the query wins', async (t) => {
    const plain = await client.post('/behavior/analyze', body60);
    const byQuery = await client.post('/behavior/analyze?model=behavior_lstm_w60', body60);
    t.equal(byQuery.status, 200);
    t.same(byQuery.json, plain.json, 'the same model as by frame count');
    const decoded = (decoder: string) => metric(client, 'analyze_bodies_decoded_total', { decoder });
    const generalBefore = await decoded('general');
    const byBody = await client.post('/behavior/analyze', { ...body60, model: 'behavior_lstm_w60' });
    t.equal(byBody.status, 200);
    t.same(byBody.json, plain.json);
    t.equal(await decoded('general'), generalBefore + 1, 'a body with "model" takes the general path');
    const wins = await client.post('/behavior/analyze?model=behavior_lstm', { ...body16, model: 'behavior_lstm_w60' });
    t.equal(wins.status, 200);
    t.equal(wins.json.model.name, 'behavior_lstm', '?model= wins over the body');
    const nullModel = await client.post('/behavior/analyze', { ...body16, model: null });
    t.equal(nullModel.json.model.name, 'behavior_lstm', '"model": null = by frame count');
  });

  t.test('the 422s name the models and their windows', async (t) => {
    const unknown = await client.post('/behavior/analyze?model=nope', body16);
    t.equal(unknown.status, 422);
    t.equal(unknown.json.detail, 'unknown model "nope"; this server serves behavior_lstm (window 16), behavior_lstm_w60 (window 60)');
    const unknownBody = await client.post('/behavior/analyze', { ...body16, model: 'nope' });
    t.equal(unknownBody.status, 422);
    const wrongWindow = await client.post('/behavior/analyze?model=behavior_lstm_w60', body16);
    t.equal(wrongWindow.status, 422);
    t.equal(wrongWindow.json.detail, 'expected 60 frames (the model\'s window), got 16');
    const none = await client.post('/behavior/analyze', analyzeBody(randomFrames(3, 30, DIM)));
    t.equal(none.status, 422);
    t.match(none.json.detail, /^no model takes 30 frames: this server serves behavior_lstm \(window 16\), behavior_lstm_w60 \(window 60\)/);
  });

  t.test('GET /models and GET /models/{name}', async (t) => {
    const list = await client.get('/models');
    t.equal(list.status, 200);
    t.same(list.json.models.map((m: any) => [m.name, m.version, m.window]), [['behavior_lstm', version(w16), 16], ['behavior_lstm_w60', version(w60), 60]]);
    const one = await client.get('/models/behavior_lstm_w60');
    t.equal(one.status, 200);
    t.same(one.json, list.json.models[1]);
    t.match(one.json, {
      events: w60.events, thresholds: w60.thresholds, feature_dim: DIM, input_name: w60.inputName, output_name: w60.outputName,
      device: /^(cpu|cuda)$/, source: w60.source,
    });
    t.ok(!Number.isNaN(Date.parse(one.json.loaded_at)), 'loaded_at is a date');
    const missing = await client.get('/models/nope');
    t.equal(missing.status, 404);
    t.match(missing.json.detail, /no model named "nope"/);
  });

  t.test('/ready lists the models; /openapi.json documents the routes', async (t) => {
    const ready = await client.get('/ready');
    t.same(ready.json.models.map((m: any) => m.name), ['behavior_lstm', 'behavior_lstm_w60']);
    const doc = (await client.get('/openapi.json')).json;
    t.ok(doc.paths['/models'].get, '/models');
    t.same(doc.paths['/models/{name}'].get.parameters[0], { name: 'name', in: 'path', required: true, schema: { type: 'string' } });
    t.ok(doc.paths['/admin/models/reload'].post.security, 'reload is an admin route');
    t.ok(doc.paths['/behavior/analyze'].post.parameters.some((p: any) => p.name === 'model' && p.in === 'query'), '?model= documented');
  });

  t.test('metrics carry the model', async (t) => {
    const before = await metric(client, 'inference_requests_total', { model: 'behavior_lstm_w60' });
    await client.post('/behavior/analyze', body60);
    t.equal(await metric(client, 'inference_requests_total', { model: 'behavior_lstm_w60' }), before + 1);
    t.ok(await metric(client, 'inference_batch_size_count', { model: 'behavior_lstm_w60' }) > 0);
    t.ok(await metric(client, 'inference_run_seconds_count', { model: 'behavior_lstm_w60' }) > 0);
    t.ok(await metric(client, 'inference_queue_wait_seconds_count', { model: 'behavior_lstm' }) > 0);
    t.equal(await metric(client, 'model_info', { model: 'behavior_lstm', version: version(w16) }), 1);
  });

  t.test('streams: the window picks the model, or the open names it', async (t) => {
    const ws = await StreamClient.connect(url);
    t.teardown(() => ws.close());
    ws.send({ type: 'open', stream_id: 'a', window: 60, stride: 60 });
    ws.send({ type: 'open', stream_id: 'b', model: 'behavior_lstm', stride: 16 });
    await ws.until(() => ws.of('opened').length === 2, 'opened');
    t.same(ws.of('opened').map((m) => [m.stream_id, m.window, m.model]), [['a', 60, 'behavior_lstm_w60'], ['b', 16, 'behavior_lstm']]);
    for (const [f, features] of randomFrames(4, 60, DIM).entries()) {
      ws.send({ stream_id: 'a', index: f, features });
      if (f < 16) ws.send({ stream_id: 'b', index: f, features });
    }
    await ws.until(() => ws.of('analysis').length === 2, 'one analysis each');
    t.equal(ws.of('analysis', 'a')[0].model.name, 'behavior_lstm_w60');
    t.equal(ws.of('analysis', 'b')[0].model.name, 'behavior_lstm');
  });
});
