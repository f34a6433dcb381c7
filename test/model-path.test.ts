/**
 * MODEL_CHECKPOINT_PATH pointing at something that is not an ONNX model file: a PyTorch checkpoint
 * (what the FastAPI backend loaded) or a directory. Refused at start with one line that says what
 * the path is and what to do, instead of a complaint about a missing `.pt.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../src/config.js';
import { ModelError, readModelMeta } from '../src/common/model-meta.js';
import { spawnServer, tempDir, testEnv } from './support/server.js';

const refusal = (env: Record<string, string>, cwd: string): string => {
  try {
    loadConfig(env, cwd);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('loadConfig accepted it');
};

t.test('a PyTorch checkpoint: says so and gives the export command', async (t) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'model.pt'), 'PK\x03\x04 a torch.save zip');
  writeFileSync(join(dir, 'old.pth'), 'legacy pickle');
  writeFileSync(join(dir, 'weights.bin'), 'PK\x03\x04 a torch.save zip under another name');

  const pt = refusal({ MODEL_CHECKPOINT_PATH: 'model.pt' }, dir);
  t.equal(pt, `MODEL_CHECKPOINT_PATH: ${join(dir, 'model.pt')} is a PyTorch checkpoint; the server runs ONNX models: `
    + `export it once with \`python3 models/export_onnx.py ${join(dir, 'model.pt')} ${join(dir, 'model.onnx')}\` `
    + `and point the server at ${join(dir, 'model.onnx')} (README: "Coming from the FastAPI backend")`);
  t.notMatch(pt, /\.pt\.json/, 'no word of a metadata file');
  t.match(refusal({ MODEL_CHECKPOINT_PATH: 'old.pth' }, dir), /old\.pth is a PyTorch checkpoint; .*export_onnx\.py \S+old\.pth \S+old\.onnx`/);
  t.match(refusal({ MODEL_CHECKPOINT_PATH: 'weights.bin' }, dir), /weights\.bin is a PyTorch checkpoint; .*export_onnx\.py \S+weights\.bin \S+weights\.onnx`/, 'known by its zip header too');
  t.match(refusal({ BACKEND_MODEL_CHECKPOINT_PATH: 'model.pt' }, dir), /^BACKEND_MODEL_CHECKPOINT_PATH: \S+model\.pt is a PyTorch checkpoint/, 'the variable that was set is named');
  t.throws(() => readModelMeta(join(dir, 'model.pt')), new ModelError(pt.replace(/^MODEL_CHECKPOINT_PATH: /, '')), 'the same from readModelMeta (the workers)');
});

t.test('a directory is a model set: one without models, and two models of one name, are refused', async (t) => {
  const dir = tempDir();
  mkdirSync(join(dir, 'models'));
  t.equal(refusal({ MODEL_CHECKPOINT_PATH: 'models' }, dir),
    `MODEL_CHECKPOINT_PATH: ${join(dir, 'models')} is a directory without models; expected *.onnx files (each with its .json beside it)`);
  t.throws(() => readModelMeta(join(dir, 'models')), /models is a directory; expected an ONNX model file/, 'readModelMeta still wants a file');
  mkdirSync(join(dir, 'a'));
  mkdirSync(join(dir, 'b'));
  writeFileSync(join(dir, 'a', 'm.onnx'), 'x');
  writeFileSync(join(dir, 'b', 'm.onnx'), 'x');
  t.equal(refusal({ MODEL_CHECKPOINT_PATH: 'a, b' }, dir),
    `MODEL_CHECKPOINT_PATH: two models named "m": ${join(dir, 'a', 'm.onnx')} and ${join(dir, 'b', 'm.onnx')} (a model's name is its file name without .onnx)`);
  t.match(refusal({ MODEL_CHECKPOINT_PATH: 'a/m.onnx,model.pt' }, dir), /^MODEL_CHECKPOINT_PATH: no such file|model file not found: \S+model\.pt/, 'each entry of a list is checked');
});

t.test('the server refuses both with one line on stderr', async (t) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'model.pt'), 'PK\x03\x04');
  mkdirSync(join(dir, 'models'));
  writeFileSync(join(dir, 'models', 'lonely.onnx'), 'x');
  for (const [path, pattern] of [
    ['model.pt', /^startup refused: MODEL_CHECKPOINT_PATH: \S+model\.pt is a PyTorch checkpoint; .*`python3 models\/export_onnx\.py \S+model\.pt \S+model\.onnx`/],
    ['models', /^startup refused: MODEL_CHECKPOINT_PATH: \S+lonely\.json: metadata file not found/],
  ] as const) {
    const child = spawnServer(testEnv(dir, { MODEL_CHECKPOINT_PATH: path }), dir);
    t.equal(await child.exited, 1, `${path}: exit status 1`);
    const stderr = child.stderr();
    t.equal(stderr.trimEnd().split('\n').length, 1, `${path}: one line: ${stderr}`);
    t.match(stderr, pattern);
  }
});
