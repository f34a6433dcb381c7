/**
 * Inference worker thread (a Piscina task module). Opens one onnxruntime session per model of its
 * set at load and runs one batch per task, on the model the task names. session.run blocks this
 * thread, which is why it lives here and never on the main thread.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import type { BatchOutcome, BatchTask, InferenceWorkerInit, WorkerStatus } from '../src/contracts/inference.js';
import { createLogger } from '../src/common/log.js';
import { openOnnxModel, type OnnxModel } from './inference/onnx-model.js';

const init = workerData as InferenceWorkerInit;
const logger = createLogger(init.logLevel, { thread: 'inference', threadId });

const models = new Map<string, OnnxModel>();
let loadFailure: string | null = 'the models are not loaded';

/** Opens every model; on the first failure releases those already open and throws. */
async function openAll(): Promise<'cuda' | 'cpu'> {
  let provider: 'cuda' | 'cpu' = 'cpu';
  try {
    // One after the other: each session takes its own memory and threads; the load is not on the request path.
    for (const { name, path } of init.models) {
      const model = await openOnnxModel(path, { device: init.device, intraOpThreads: init.intraOpThreads });
      models.set(name, model);
      provider = model.provider;
    }
  } catch (err) {
    await Promise.allSettled([...models.values()].map((m) => m.release()));
    models.clear();
    throw err;
  }
  return provider;
}

// Started at module load, awaited by each task. Not a top-level await: under the tsx loader
// (dev, tests) Piscina cannot import a TypeScript module that uses one. A load failure is
// reported, never thrown: Piscina would respawn a throwing worker in a loop.
const loading = openAll().then(
  (provider) => {
    loadFailure = null;
    report({ kind: 'model-loaded', threadId, provider });
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
  if (loadFailure !== null) return { ok: false, error: { code: 'model_unavailable', message: loadFailure } };
  const model = models.get(task.model);
  if (!model) return { ok: false, error: { code: 'model_unavailable', message: `this worker has no model named ${task.model}` } };
  const started = performance.now();
  try {
    const scores = await model.run(task.data, task.batch, task.frames);
    return { ok: true, scores, runSeconds: (performance.now() - started) / 1000 };
  } catch (err) {
    logger.error({ err, model: task.model, batch: task.batch, frames: task.frames }, 'session.run failed');
    return { ok: false, error: { code: 'inference_failed', message: `inference failed: ${(err as Error).message}` } };
  }
}
