/**
 * The process as `npm start` runs it (a child process on src/main.ts): refusing bad
 * configuration with one clear line (device cuda without the CUDA provider among it), and
 * shutting down gracefully on SIGTERM / SIGINT.
 */
import { copyFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import t, { type Test } from 'tap';
import { readModelMeta } from '../src/common/model-meta.js';
import { BUNDLED_MODEL_PATH } from '../src/common/paths.js';
import { spawnServer, tempDir, testEnv } from './support/server.js';
import { jsonClient } from './support/json-client.js';
import { metricSample } from './support/metrics.js';
import { waitFor } from './support/wait.js';
import { analyzeBody, randomFrames } from './support/windows.js';

const meta = readModelMeta(BUNDLED_MODEL_PATH);
const ortBin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
const cudaInstalled = existsSync(ortBin) && readdirSync(ortBin).some((file) => file.includes('providers_cuda'));

/** Starts the server on `env` (over testEnv's, less the variables in `unset`) and checks it refuses with one line. */
async function refusal(t: Test, env: Record<string, string>, cwd = tempDir(), unset: string[] = []) {
  const full = testEnv(cwd, env);
  for (const name of unset) delete full[name];
  const child = spawnServer(full, cwd);
  const code = await child.exited;
  const lines = child.stderr().trim().split('\n');
  t.equal(code, 1, 'exits with status 1');
  t.equal(lines.length, 1, `one line on stderr: ${child.stderr()}`);
  t.notMatch(child.stderr(), /^\s+at /m, 'no stack trace');
  return lines[0]!;
}

t.test('a port that is not a number, set in .env: the bad value is named', async (t) => {
  const dir = tempDir();
  writeFileSync(join(dir, '.env'), 'BACKEND_PORT=eighty\n');
  t.match(await refusal(t, {}, dir, ['BACKEND_PORT']), /^startup refused: BACKEND_PORT: must be integer \(got "eighty"\)$/);
});

t.test('an unknown device', async (t) => {
  t.match(await refusal(t, { BACKEND_INFERENCE_DEVICE: 'tpu' }), /BACKEND_INFERENCE_DEVICE: must be one of auto, cpu, cuda/);
});

t.test('a model path that does not exist', async (t) => {
  t.match(await refusal(t, { MODEL_CHECKPOINT_PATH: '/no/such/model.onnx' }), /MODEL_CHECKPOINT_PATH: model file not found: \/no\/such\/model\.onnx/);
});

t.test('a model without its metadata JSON', async (t) => {
  const dir = tempDir();
  copyFileSync(BUNDLED_MODEL_PATH, join(dir, 'lonely.onnx'));
  t.match(await refusal(t, { MODEL_CHECKPOINT_PATH: join(dir, 'lonely.onnx') }, dir), /MODEL_CHECKPOINT_PATH: .*lonely\.json/);
});

t.test('device cuda: refused with one clear line where the CUDA provider cannot load, used where it can', async (t) => {
  const dir = tempDir();
  const child = spawnServer(testEnv(dir, { BACKEND_INFERENCE_DEVICE: 'cuda', BACKEND_INFERENCE_WORKERS: '1' }), dir);
  let exitCode: number | null | undefined;
  child.exited.then((code) => (exitCode = code));
  const port = await child.listening.catch(() => null);
  if (port !== null) {
    // It listens before the model loads: either the workers load it on CUDA, or startup is refused.
    const client = jsonClient(t, `http://127.0.0.1:${port}`, 2);
    let ready: { status?: string; device?: string } | undefined;
    await waitFor(async () => exitCode !== undefined || (ready = (await client.get('/ready').catch(() => null))?.json)?.status === 'ready', 'ready or exited');
    if (exitCode === undefined) {
      t.equal(ready?.device, 'cuda', 'a host with the CUDA provider runs on it');
      child.proc.kill('SIGTERM');
      t.equal(await child.exited, 0);
      return;
    }
  }
  t.equal(await child.exited, 1);
  const stderr = child.stderr();
  t.match(stderr, /^startup refused: MODEL_CHECKPOINT_PATH: .*CUDA/im);
  t.notMatch(stderr, /^\s+at /m);
  if (cudaInstalled) return;
  // The npm package ships the CPU provider only: the line says so, and nothing else is on stderr,
  // in particular no native "Failed to load library" from probing for the files.
  t.notMatch(stderr, /Failed to load library/, 'onnxruntime was not asked to load what is not there');
  t.equal(stderr.trimEnd().split('\n').length, 1, `one line: ${stderr}`);
  t.match(stderr.trimEnd(), /^startup refused: .*device 'cuda' requested but the CUDA execution provider cannot load: it is not installed \(see README, "GPU hosts"\)$/);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal}: in-flight requests finish, then exit 0`, async (t) => {
    const dir = tempDir();
    // A bad port in .env, so that this start also shows the environment's BACKEND_PORT winning.
    writeFileSync(join(dir, '.env'), 'BACKEND_PORT=not-a-port\n');
    // A long batching wait keeps the requests in flight when the signal arrives.
    const child = spawnServer(testEnv(dir, { BACKEND_PORT: '0', BACKEND_INFERENCE_WORKERS: '1', BACKEND_BATCH_MAX_WAIT_MS: '400' }), dir);
    const port = await child.listening;
    t.ok(port > 0, 'BACKEND_PORT from the environment overrides .env');
    const client = jsonClient(t, `http://127.0.0.1:${port}`, 8);
    await waitFor(async () => (await client.get('/ready')).status === 200, 'ready');
    const body = analyzeBody(randomFrames(3, meta.windowSize || 16, meta.featureDim));
    const inFlight = Promise.all(Array.from({ length: 4 }, () => client.post('/behavior/analyze', body)));
    // Every request has reached the batcher (waiting in its queue, or in the batch that left it).
    const taken = (text: string) => metricSample(text, 'inference_queue_depth', { model: 'behavior_lstm' }) + metricSample(text, 'inference_queue_wait_seconds_count', { model: 'behavior_lstm' });
    await waitFor(async () => taken((await client.get('/metrics')).text) === 4, 'the four requests to be taken');
    child.proc.kill(signal);
    const results = await inFlight;
    t.same(results.map((r) => r.status), [200, 200, 200, 200], 'every in-flight request is answered');
    t.equal(await child.exited, 0);
    t.match(child.stdout(), /shutdown complete/);
  });
}
