/**
 * Swapping models on the real server (real worker threads): a reload while 64 connections analyze
 * drops nothing and every answer is wholly the old or wholly the new version; a broken model leaves
 * the old one serving; live streams move to the new version, keeping their events when the names
 * stay and ENDing them (model_changed) when they do not; a set with two models for one window.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { FEATURE_DIM } from '../src/features/pose-features.js';
import { BUNDLED_MODEL_PATH, BUNDLED_MODEL_W60_PATH } from '../src/common/paths.js';
import { metric } from './support/metrics.js';
import { startTestServer, tempDir } from './support/server.js';
import { StreamClient } from './support/stream-client.js';
import { analyzeBody, randomFrames } from './support/windows.js';

const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;
const ADMIN = { Authorization: 'Bearer reload-secret' };

/** Puts `onnx` at dir/name.onnx with its sidecar, edited by `edit`. */
function install(dir: string, name: string, onnx: string, edit: (meta: any) => void = () => {}): void {
  copyFileSync(onnx, join(dir, `${name}.onnx`));
  const meta = JSON.parse(readFileSync(onnx.replace(/\.onnx$/, '.json'), 'utf8'));
  edit(meta);
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(meta));
}

t.test('reloading the model set', async (t) => {
  const dir = tempDir();
  // "m" starts as the bundled window-16 model.
  install(dir, 'm', BUNDLED_MODEL_PATH);
  const { url, client } = await startTestServer(t, { MODEL_CHECKPOINT_PATH: dir, BACKEND_ADMIN_TOKEN: 'reload-secret', BACKEND_INFERENCE_WORKERS: '1' });
  const reload = () => client.post('/admin/models/reload', undefined, ADMIN);
  const body = analyzeBody(randomFrames(7, 16, FEATURE_DIM));

  t.test('the admin token is required', async (t) => {
    const res = await client.post('/admin/models/reload', undefined);
    t.equal(res.status, 401);
  });

  t.test('a reload while 64 connections analyze: no errors, each answer wholly old or wholly new', async (t) => {
    const old = await client.post('/behavior/analyze', body);
    t.equal(old.status, 200);
    // The new "m": other weights (the window-60 model's graph takes any length), so other scores and version.
    install(dir, 'm', BUNDLED_MODEL_W60_PATH, (meta) => (meta.window_size = 16));
    const answers: any[] = [];
    let reloaded = false;
    let afterReload = 0;
    const connection = async () => {
      while (!reloaded || afterReload < 64) {
        const res = await client.post('/behavior/analyze', body);
        answers.push(res);
        if (reloaded) afterReload++;
        await new Promise((r) => setTimeout(r, 50)); // 64 steady agents, not a benchmark
      }
    };
    const loops = Array.from({ length: 64 }, connection);
    while (answers.length < 64) await new Promise((r) => setTimeout(r, 5));
    const swap = await reload();
    reloaded = true;
    await Promise.all(loops);
    t.equal(swap.status, 200, swap.text);
    t.equal(swap.json.status, 'reloaded');
    t.same(swap.json.changed, ['m']);
    const fresh = await client.post('/behavior/analyze', body);
    t.not(fresh.json.model.version, old.json.model.version, 'a new version');
    t.not(JSON.stringify(fresh.json.scores), JSON.stringify(old.json.scores), 'whose scores differ');
    t.same(answers.filter((r) => r.status !== 200).map((r) => r.status), [], 'no errors');
    // Wholly one version: its name and version, its events and thresholds, and its scores (to 1e-5:
    // a window batched with others may differ from it alone in the last float bits).
    const matches = (r: any, ref: any) => JSON.stringify([r.json.model, r.json.events, r.json.thresholds]) === JSON.stringify([ref.json.model, ref.json.events, ref.json.thresholds])
      && r.json.scores.length === ref.json.scores.length && r.json.scores.every((s: number, i: number) => Math.abs(s - ref.json.scores[i]) < 1e-5);
    const kind = (r: any) => (matches(r, old) ? 'old' : matches(r, fresh) ? 'new' : 'mixed');
    const kinds = answers.map(kind);
    t.equal(kinds.filter((k) => k === 'mixed').length, 0, 'every answer is entirely the old or the new version');
    t.ok(kinds.includes('old') && kinds.includes('new'), `both versions answered (${kinds.filter((k) => k === 'old').length} old, ${kinds.filter((k) => k === 'new').length} new)`);
    t.equal(await metric(client, 'model_reloads_total', { outcome: 'ok' }), 1);
  });

  t.test('a broken new model leaves the old one serving, and is reported', async (t) => {
    const serving = await client.post('/behavior/analyze', body);
    writeFileSync(join(dir, 'm.onnx'), 'not a model');
    const refused = await reload();
    t.equal(refused.status, 422);
    t.equal(refused.json.status, 'failed');
    t.match(refused.json.reason, /m\.onnx: onnxruntime cannot load the model/);
    t.same(refused.json.models, [serving.json.model], 'still serving the previous version');
    const after = await client.post('/behavior/analyze', body);
    t.same(after.json, serving.json, 'answers as before');
    const ready = await client.get('/ready');
    t.equal(ready.status, 200, 'still ready');
    t.match(ready.json.reload, { ok: false, reason: /onnxruntime cannot load/ });
    t.equal(await metric(client, 'model_reloads_total', { outcome: 'failed' }), 1);
    // A sidecar that does not parse is refused before any worker starts.
    install(dir, 'm', BUNDLED_MODEL_W60_PATH, (meta) => (meta.window_size = 16));
    writeFileSync(join(dir, 'm.json'), '{');
    t.match((await reload()).json.reason, /m\.json: not readable JSON/);
  });

  t.test('live streams move to the new version: events carry over when the names stay, else END as model_changed', async (t) => {
    // Thresholds of 0: every event STARTs (after 3 analyses) and stays active.
    install(dir, 'm', BUNDLED_MODEL_W60_PATH, (meta) => Object.assign(meta, { window_size: 16, thresholds: [0, 0, 0] }));
    t.equal((await reload()).status, 200);
    const ws = await StreamClient.connect(url);
    t.teardown(() => ws.close());
    ws.send({ type: 'open', stream_id: 'cam', events: true, stride: 1 });
    await ws.until(() => ws.of('opened').length === 1, 'opened');
    const frames = randomFrames(9, 200, FEATURE_DIM);
    let sent = 0;
    const analysed = async (n: number) => {
      const target = ws.of('analysis').length + n;
      while (ws.of('analysis').length < target) {
        ws.send({ stream_id: 'cam', index: sent, features: frames[sent % frames.length] });
        sent++;
        await ws.until(() => ws.of('analysis').length >= Math.min(target, sent - 15), 'analysis');
      }
    };
    await analysed(4);
    await ws.until(() => ws.of('event').filter((e) => e.payload.type === 'START').length === 3, 'three STARTs');
    const before = ws.of('analysis').at(-1).model;

    // Same event names, new weights and thresholds: the events stay active, no END.
    install(dir, 'm', BUNDLED_MODEL_PATH, (meta) => (meta.thresholds = [1e-9, 1e-9, 1e-9]));
    t.equal((await reload()).status, 200);
    await analysed(3);
    const moved = ws.of('analysis').at(-1);
    t.not(moved.model.version, before.version, 'the stream moved to the new version');
    t.same(moved.thresholds, [1e-9, 1e-9, 1e-9], 'with the edited thresholds');
    t.equal(ws.of('event').filter((e) => e.payload.type === 'END').length, 0, 'no END: the events carried over');
    t.equal(ws.of('event').filter((e) => e.payload.type === 'START').length, 3, 'and no second START');

    // Other event names: the active events END with state model_changed.
    install(dir, 'm', join(FIXTURES, 'random-w60', 'model.onnx'), (meta) => (meta.window_size = 16));
    t.equal((await reload()).status, 200);
    await analysed(2);
    await ws.until(() => ws.of('event').filter((e) => e.payload.type === 'END').length === 3, 'three ENDs');
    const ends = ws.of('event').filter((e) => e.payload.type === 'END').map((e) => e.payload);
    t.same(ends.map((e) => e.event).sort(), ['fall', 'flailing', 'lying_still']);
    t.ok(ends.every((e) => e.state === 'model_changed'), 'state model_changed');
    t.equal(ws.of('analysis').at(-1).events.length, 5, 'analyses now carry the new model\'s five events');
    t.equal(ws.of('error').length, 0, 'no errors on the stream');
  });

  t.test('a model added with a window-0 model: 16 frames fit both → 422; by name each answers', async (t) => {
    install(dir, 'm', BUNDLED_MODEL_PATH);
    install(dir, 'z', join(FIXTURES, 'random-any', 'model.onnx'));
    const swap = await reload();
    t.equal(swap.status, 200, swap.text);
    t.same(swap.json.added, ['z']);
    const both = await client.post('/behavior/analyze', body);
    t.equal(both.status, 422);
    t.equal(both.json.detail, '16 frames fit several models: m (window 16), z (window any); name one (?model= or "model")');
    t.equal((await client.post('/behavior/analyze?model=m', body)).status, 200);
    const z = await client.post('/behavior/analyze?model=z', analyzeBody(randomFrames(1, 5, 12)));
    t.equal(z.status, 200, z.text);
    t.equal(z.json.model.name, 'z');
    const models = await client.get('/models');
    t.same(models.json.models.map((m: any) => m.name), ['m', 'z']);
  });
});
