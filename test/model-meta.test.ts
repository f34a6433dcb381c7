import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { FEATURE_DIM } from '../src/features/pose-features.js';
import { SYNTHETIC_EVENTS } from '../src/features/synthetic-pose.js';
import { metaPathFor, ModelError, readModelMeta } from '../src/common/model-meta.js';
import { BUNDLED_MODEL_PATH } from '../src/common/paths.js';

const RANDOM_W60 = new URL('./fixtures/random-w60/model.onnx', import.meta.url).pathname;

t.test('metaPathFor puts the JSON beside the ONNX file', async (t) => {
  t.equal(metaPathFor('models/behavior_lstm.onnx'), 'models/behavior_lstm.json');
  t.equal(metaPathFor('/a/b.ONNX'), '/a/b.json');
  t.equal(metaPathFor('/a/model'), '/a/model.json');
});

t.test('the bundled pair agrees with itself and with the generator', async (t) => {
  const meta = readModelMeta(BUNDLED_MODEL_PATH);
  t.same(meta.events, SYNTHETIC_EVENTS, 'events in the generator order');
  t.equal(meta.thresholds.length, meta.events.length, 'one threshold per event');
  t.ok(meta.thresholds.every((v) => v > 0 && v < 1), 'thresholds inside (0, 1)');
  t.equal(meta.featureDim, FEATURE_DIM);
  t.equal(meta.windowSize, 16);
  t.equal(meta.inputName, 'features');
  t.equal(meta.outputName, 'scores');
  t.equal(meta.source.checkpoint, 'behavior_lstm.pt', 'provenance names the checkpoint');
  t.match(meta.source.sha256, /^[0-9a-f]{64}$/, 'and its sha256');
  t.match(meta.source, { exporter: String, exported_at: String });
});

t.test('a checkpoint with a Korean event name keeps it', async (t) => {
  const meta = readModelMeta(RANDOM_W60);
  t.equal(meta.events.length, 5);
  t.ok(meta.events.includes('낙상'));
  t.equal(meta.windowSize, 60);
});

t.test('refuses a missing or inconsistent pair with a one-line message', async (t) => {
  const dir = t.testdir({});
  const good = JSON.parse(readFileSync(metaPathFor(RANDOM_W60), 'utf8')) as Record<string, unknown>;
  const onnx = join(dir, 'm.onnx');
  copyFileSync(RANDOM_W60, onnx);
  const refuse = (doc: unknown, pattern: RegExp, what: string): void => {
    writeFileSync(join(dir, 'm.json'), typeof doc === 'string' ? doc : JSON.stringify(doc));
    t.throws(() => readModelMeta(onnx), pattern, what);
    try {
      readModelMeta(onnx);
    } catch (err) {
      t.ok(err instanceof ModelError && !err.message.includes('\n') && err.message.startsWith(join(dir, 'm.json')), `${what}: one line naming the file`);
    }
  };

  t.throws(() => readModelMeta(join(dir, 'absent.onnx')), /^model file not found: .*absent\.onnx$/);
  t.throws(() => readModelMeta(onnx), /m\.json: metadata file not found; it must sit beside/, 'JSON missing');
  refuse('{"events": [', /not readable JSON/, 'broken JSON');
  refuse([1, 2], /expected a JSON object/, 'not an object');
  refuse({ ...good, thresholds: [0.5, 0.5] }, /"thresholds" has 2 values but "events" has 5 names/, 'thresholds not one per event');
  refuse({ ...good, thresholds: undefined }, /"thresholds" must be a list/, 'thresholds missing');
  refuse({ ...good, thresholds: [0.1, 0.2, 0.3, 0.4, 1.5] }, /numbers in \[0, 1\]/, 'threshold out of range');
  refuse({ ...good, events: [] }, /"events" must be a non-empty list/, 'no events');
  refuse({ ...good, events: ['a', 'a', 'b', 'c', 'd'] }, /duplicate names/, 'duplicate events');
  refuse({ ...good, feature_dim: undefined }, /"feature_dim" must be a whole number >= 1/, 'feature_dim missing');
  refuse({ ...good, window_size: -1 }, /"window_size" must be a whole number >= 0, found -1/, 'negative window');
  refuse({ ...good, input_name: '' }, /"input_name" must be a non-empty string/, 'input name empty');
  refuse({ ...good, source: 'x' }, /"source" must be an object/, 'source not an object');

  writeFileSync(join(dir, 'm.json'), JSON.stringify({ ...good, source: undefined }));
  t.same(readModelMeta(onnx).source, {}, 'source is optional');
});
