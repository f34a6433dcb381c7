/**
 * Inference worker thread (a Piscina task module). Opens its own onnxruntime session at load
 * and runs one batch per task. session.run blocks this thread, which is why it lives here and
 * never on the main thread.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import type { BatchOutcome, BatchTask, InferenceWorkerInit, WorkerStatus } from '../src/contracts/inference.js';
import { createLogger } from '../src/shared/log.js';
import { openOnnxModel, type OnnxModel } from './inference/onnx-model.js';

const init = workerData as InferenceWorkerInit;
const logger = createLogger(init.logLevel, { thread: 'inference', threadId });

let model: OnnxModel | null = null;
let loadFailure = 'the model is not loaded';

// Started at module load, awaited by each task. Not a top-level await: under the tsx loader
// (dev, tests) Piscina cannot import a TypeScript module that uses one. A load failure is
// reported, never thrown: Piscina would respawn a throwing worker in a loop.
const loading = openOnnxModel(init.modelPath, { device: init.device, intraOpThreads: init.intraOpThreads }).then(
  (loaded) => {
    model = loaded;
    report({ kind: 'model-loaded', threadId, provider: loaded.provider });
  },
  (err: Error) => {
    loadFailure = err.message;
    logger.error({ reason: loadFailure }, 'cannot load the model');
    report({ kind: 'model-failed', threadId, message: loadFailure });
  },
);

function report(status: WorkerStatus): void {
  parentPort?.postMessage(status);
}

export default async function runBatch(task: BatchTask): Promise<BatchOutcome> {
  await loading;
  if (!model) return { ok: false, error: { code: 'model_unavailable', message: loadFailure } };
  const started = performance.now();
  try {
    const scores = await model.run(task.data, task.batch, task.frames);
    return { ok: true, scores, runSeconds: (performance.now() - started) / 1000 };
  } catch (err) {
    logger.error({ err, batch: task.batch, frames: task.frames }, 'session.run failed');
    return { ok: false, error: { code: 'inference_failed', message: `inference failed: ${(err as Error).message}` } };
  }
}
