/**
 * BACKEND_INFERENCE_DEVICE=cuda on a host whose onnxruntime-node has no CUDA provider (the npm
 * package ships the CPU one only): refused with one line that says so — and nothing else on
 * stderr, in particular no native "Failed to load library" error from probing for the files.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import t from 'tap';
import { spawnServer, tempDir, testEnv } from './support/server.js';

const ortBin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
const cudaInstalled = existsSync(ortBin) && readdirSync(ortBin).some((file) => file.includes('providers_cuda'));

t.test('device cuda without the CUDA provider: one clear line, no native noise', { skip: cudaInstalled && 'the CUDA provider is installed here' }, async (t) => {
  const dir = tempDir();
  const child = spawnServer(testEnv(dir, { BACKEND_INFERENCE_DEVICE: 'cuda', BACKEND_INFERENCE_WORKERS: '1' }), dir);
  t.equal(await child.exited, 1, 'exit status 1');
  const stderr = child.stderr();
  t.notMatch(stderr, /Failed to load library/, 'onnxruntime was not asked to load what is not there');
  t.equal(stderr.trimEnd().split('\n').length, 1, `one line: ${stderr}`);
  t.match(stderr.trimEnd(), /^startup refused: .*device 'cuda' requested but the CUDA execution provider cannot load: it is not installed \(see README, "GPU hosts"\)$/);
});
