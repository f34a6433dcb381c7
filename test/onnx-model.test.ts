import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { computeFeatures, FEATURE_DIM, KEYPOINT_COUNT, KEYPOINT_VALUES } from '../src/features/pose-features.js';
import { generateScene, SYNTHETIC_EVENTS, type SceneStep } from '../src/features/synthetic-pose.js';
import { metaPathFor, ModelError } from '../src/common/model-meta.js';
import { BUNDLED_MODEL_PATH } from '../src/common/paths.js';
import { openOnnxModel, type OnnxModel } from '../workers/inference/onnx-model.js';

const fixture = (name: string): string => new URL(`./fixtures/${name}/model.onnx`, import.meta.url).pathname;
const RANDOM_W60 = fixture('random-w60');
const RANDOM_ANY = fixture('random-any');
const TOLERANCE = 1e-4;

type TestContext = Parameters<Parameters<typeof t.test>[0]>[0];

interface ParityFile {
  input_name: string;
  output_name: string;
  events: string[];
  cases: { batch: number; frames: number; features: number[]; scores: number[] }[];
}

const parityPathFor = (onnxPath: string): string => onnxPath.replace(/\.onnx$/, '.parity.json');

/** Runs every parity case through the model; returns the largest |onnxruntime - torch| seen. */
async function checkParity(t: TestContext, model: OnnxModel, onnxPath: string): Promise<number> {
  const parity = JSON.parse(readFileSync(parityPathFor(onnxPath), 'utf8')) as ParityFile;
  t.same(parity.events, model.meta.events, 'parity file is for these events');
  t.ok(parity.cases.length >= 2 && parity.cases.some((c) => c.batch > 1), 'parity has several cases, one batched');
  let worst = 0;
  for (const c of parity.cases) {
    t.equal(c.features.length, c.batch * c.frames * model.meta.featureDim, `case ${c.batch}x${c.frames}: input size`);
    const scores = await model.run(Float32Array.from(c.features), c.batch, c.frames);
    t.equal(scores.length, c.batch * model.meta.events.length, `case ${c.batch}x${c.frames}: one score per event per window`);
    for (let i = 0; i < scores.length; i++) worst = Math.max(worst, Math.abs(scores[i]! - c.scores[i]!));
  }
  t.ok(worst <= TOLERANCE, `max |onnxruntime - torch| = ${worst}`);
  return worst;
}

t.test('the bundled model reproduces PyTorch (parity file, 1e-4)', async (t) => {
  const model = await openOnnxModel(BUNDLED_MODEL_PATH, { device: 'cpu', intraOpThreads: 1 });
  t.teardown(() => model.release());
  t.equal(model.provider, 'cpu');
  t.same(model.meta.events, SYNTHETIC_EVENTS);
  t.equal(model.meta.featureDim, FEATURE_DIM);
  t.equal(model.meta.windowSize, 16);
  await checkParity(t, model, BUNDLED_MODEL_PATH);
});

t.test('the bundled model tells the events apart in scenes it never saw', async (t) => {
  const model = await openOnnxModel(BUNDLED_MODEL_PATH, { device: 'cpu', intraOpThreads: 1 });
  t.teardown(() => model.release());
  const steps: SceneStep[] = [
    { activity: 'walk', seconds: 4 }, { activity: 'stand', seconds: 2 }, { activity: 'fall', seconds: 1 },
    { activity: 'lying_still', seconds: 4 }, { activity: 'get_up', seconds: 3 }, { activity: 'wave', seconds: 3 },
    { activity: 'flailing', seconds: 3 }, { activity: 'sit_down', seconds: 2 }, { activity: 'sit', seconds: 3 },
  ];
  const window = model.meta.windowSize;
  const hop = 4;
  const frameSize = KEYPOINT_COUNT * KEYPOINT_VALUES;
  for (const seed of [901, 902, 903]) {
    const scene = generateScene({ seed, steps, frames: 750, dropRate: 0.02 });
    const count = Math.floor((750 - window) / hop) + 1;
    const data = new Float32Array(count * window * FEATURE_DIM);
    for (let i = 0; i < count; i++) {
      const kp = scene.keypoints.subarray(i * hop * frameSize, (i * hop + window) * frameSize);
      computeFeatures(kp, window, data.subarray(i * window * FEATURE_DIM, (i + 1) * window * FEATURE_DIM));
    }
    const scores = await model.run(data, count, window);
    const fired = (i: number, c: number): boolean => scores[i * 3 + c]! >= model.meta.thresholds[c]!;
    // windows well inside one activity: the whole window and the one before it carry the same labels
    const inside = (i: number, event: string | undefined): boolean => {
      const labels = scene.labels.slice(Math.max(0, i * hop - window), i * hop + window);
      return labels.every((l) => l[0] === event);
    };
    const normal = [...Array(count).keys()].filter((i) => inside(i, undefined));
    const falseAlarms = normal.filter((i) => [0, 1, 2].some((c) => fired(i, c))).length;
    t.ok(falseAlarms <= 0.02 * normal.length, `seed ${seed}: ${falseAlarms} alarms in ${normal.length} normal windows`);
    SYNTHETIC_EVENTS.forEach((event, c) => {
      const during = [...Array(count).keys()].filter((i) => scene.labels[i * hop + window - 1]![0] === event);
      const hits = during.filter((i) => fired(i, c)).length;
      t.ok(hits >= 0.6 * during.length && during.length > 0, `seed ${seed}: ${event} flagged in ${hits} of ${during.length} windows ending in it`);
    });
  }
});

t.test('a random-weights window-60 checkpoint with five events (one Korean) reproduces PyTorch', async (t) => {
  const model = await openOnnxModel(RANDOM_W60, { device: 'cpu', intraOpThreads: 2 });
  t.teardown(() => model.release());
  t.same(model.meta.events, ['fall', 'lying_still', 'flailing', 'loitering', '낙상']);
  t.equal(model.meta.windowSize, 60);
  const parity = JSON.parse(readFileSync(parityPathFor(RANDOM_W60), 'utf8')) as ParityFile;
  const spread = Math.max(...parity.cases.flatMap((c) => c.scores)) - Math.min(...parity.cases.flatMap((c) => c.scores));
  t.ok(spread > 0.1, `the reference scores vary (${spread}), so agreement means something`);
  await checkParity(t, model, RANDOM_W60);
});

t.test('a window-0 model takes windows of any length', async (t) => {
  const model = await openOnnxModel(RANDOM_ANY, { device: 'auto', intraOpThreads: 1 });
  t.teardown(() => model.release());
  t.equal(model.meta.windowSize, 0);
  const parity = JSON.parse(readFileSync(parityPathFor(RANDOM_ANY), 'utf8')) as ParityFile;
  t.ok(new Set(parity.cases.map((c) => c.frames)).size >= 2, 'parity covers several lengths');
  await checkParity(t, model, RANDOM_ANY);
});

t.test("'auto' picks a provider that loads and gives the same scores", async (t) => {
  const auto = await openOnnxModel(BUNDLED_MODEL_PATH, { device: 'auto', intraOpThreads: 1 });
  t.teardown(() => auto.release());
  t.ok(auto.provider === 'cpu' || auto.provider === 'cuda', `provider ${auto.provider}`);
  await checkParity(t, auto, BUNDLED_MODEL_PATH);
});

t.test("'cuda' either runs on CUDA or fails with a clear ModelError", async (t) => {
  try {
    const model = await openOnnxModel(RANDOM_ANY, { device: 'cuda', intraOpThreads: 1 });
    t.equal(model.provider, 'cuda');
    await model.release();
  } catch (err) {
    t.ok(err instanceof ModelError, 'a ModelError');
    t.match((err as Error).message, /device 'cuda' requested but the CUDA execution provider cannot load/);
    t.notMatch((err as Error).message, /\n/, 'one line');
  }
});

t.test('run() refuses data of the wrong size', async (t) => {
  const model = await openOnnxModel(RANDOM_ANY, { device: 'cpu', intraOpThreads: 1 });
  t.teardown(() => model.release());
  await t.rejects(model.run(new Float32Array(10), 1, 1), /expected 12 values \(1 x 1 x 12\), got 10/);
});

t.test('a bad pair is refused with a clear one-line message', async (t) => {
  const dir = t.testdir({});
  const good = JSON.parse(readFileSync(metaPathFor(RANDOM_W60), 'utf8')) as Record<string, unknown>;
  const onnx = join(dir, 'm.onnx');
  copyFileSync(RANDOM_W60, onnx);
  const refuse = async (doc: Record<string, unknown> | undefined, pattern: RegExp, what: string): Promise<void> => {
    if (doc) writeFileSync(join(dir, 'm.json'), JSON.stringify(doc));
    const opened = openOnnxModel(onnx, { device: 'cpu', intraOpThreads: 1 });
    await t.rejects(opened, pattern, what);
    await opened.catch((err: unknown) => t.ok(err instanceof ModelError && !(err as Error).message.includes('\n'), `${what}: one-line ModelError`));
  };

  await refuse(undefined, /m\.json: metadata file not found/, 'JSON missing');
  await refuse({ ...good, feature_dim: 168 }, /m\.json: feature_dim 168 disagrees with the graph's input \(169\)/, 'feature_dim');
  await refuse({ ...good, thresholds: [0.5] }, /one threshold per event/, 'thresholds count');
  await refuse({ ...good, events: ['a', 'b', 'c', 'd'], thresholds: [0.5, 0.5, 0.5, 0.5] }, /4 events disagree with the graph's output \(5 scores per window\)/, 'events count');
  await refuse({ ...good, input_name: 'x' }, /input_name "x" is not an input of the graph \(it has: features\)/, 'input name');
  await refuse({ ...good, output_name: 'probs' }, /output_name "probs" is not an output of the graph \(it has: scores\)/, 'output name');
  writeFileSync(join(dir, 'm.json'), JSON.stringify(good));
  writeFileSync(onnx, 'not a model');
  await refuse(undefined, /m\.onnx: onnxruntime cannot load the model/, 'not an ONNX file');
});
