/**
 * Baseline (a), the in-process ceiling for analysis: the server's own inference worker
 * (dist/workers/inference.worker.js) in a Piscina pool of the same size, fed pre-built
 * Float32Arrays with no HTTP and no JSON. windows/s here is the most the server could answer.
 *
 *   tsx bench/baselines/ceiling.ts [--model models/behavior_lstm.onnx] [--workers 2] [--batches 1,8,16,32] [--seconds 3]
 */
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Piscina } from 'piscina';
import type { BatchOutcome, BatchTask, InferenceWorkerInit, WorkerStatus } from '../../src/contracts/inference.js';
import { readModelMeta } from '../../src/common/model-meta.js';
import { BUNDLED_MODEL_PATH } from '../../src/common/paths.js';
import { analysisWindows } from '../bodies.js';
import { assertBuilt, BUILT_INFERENCE_WORKER } from '../server-process.js';

export interface CeilingOptions {
  modelPath: string;
  workers: number;
  intraOpThreads: number;
  batches: readonly number[];
  seconds: number;
}

export interface CeilingPoint {
  batch: number;
  windowsPerSec: number;
  meanRunMs: number;
}

/** Tasks kept queued per worker, so a worker never waits for the next batch. */
const IN_FLIGHT_PER_WORKER = 2;
const WARMUP_SECONDS = 0.5;

export async function measureCeiling(options: CeilingOptions): Promise<CeilingPoint[]> {
  assertBuilt();
  const frames = readModelMeta(options.modelPath).windowSize || 16;
  const windows = analysisWindows(frames, 64);
  const init: InferenceWorkerInit = { models: [{ name: 'model', path: options.modelPath }], device: 'cpu', intraOpThreads: options.intraOpThreads, logLevel: 'warn' };
  const pool = new Piscina<BatchTask, BatchOutcome>({
    filename: pathToFileURL(BUILT_INFERENCE_WORKER).href,
    minThreads: options.workers,
    maxThreads: options.workers,
    idleTimeout: Number.POSITIVE_INFINITY,
    concurrentTasksPerWorker: 1,
    atomics: 'async',
    workerData: init,
  });
  try {
    await modelsLoaded(pool, options.workers);
    const points: CeilingPoint[] = [];
    for (const batch of options.batches) {
      const tasks = prebuiltBatches(windows, batch, frames);
      await drive(pool, tasks, WARMUP_SECONDS, options.workers);
      points.push({ batch, ...(await drive(pool, tasks, options.seconds, options.workers)) });
    }
    return points;
  } finally {
    await pool.close();
  }
}

/**
 * Resolves when every worker reports its model. The timer also keeps this process alive meanwhile:
 * Piscina unreferences idle workers, and exiting while they load aborts inside onnxruntime.
 */
function modelsLoaded(pool: Piscina, workers: number, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let loaded = 0;
    const timer = setTimeout(() => reject(new Error(`the inference workers did not load the model within ${timeoutMs} ms`)), timeoutMs);
    pool.on('message', (status: WorkerStatus) => {
      if (status.kind === 'model-failed') {
        clearTimeout(timer);
        reject(new Error(status.message));
      } else if (++loaded === workers) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

/** A few distinct batches of real windows, reused in turn (each run copies its input, nothing is moved). */
function prebuiltBatches(windows: Float32Array[], batch: number, frames: number): BatchTask[] {
  const size = windows[0]!.length;
  return Array.from({ length: 4 }, (_, k) => {
    const data = new Float32Array(batch * size);
    for (let i = 0; i < batch; i++) data.set(windows[(k * batch + i) % windows.length]!, i * size);
    return { model: 'model', batch, frames, data };
  });
}

async function drive(pool: Piscina<BatchTask, BatchOutcome>, tasks: BatchTask[], seconds: number, workers: number): Promise<Omit<CeilingPoint, 'batch'>> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let windowsDone = 0;
  let runSeconds = 0;
  let runs = 0;
  let next = 0;
  const lane = async () => {
    while (performance.now() < deadline) {
      const task = tasks[next++ % tasks.length]!;
      const outcome = await pool.run(task);
      if (!outcome.ok) throw new Error(outcome.error.message);
      windowsDone += task.batch;
      runSeconds += outcome.runSeconds;
      runs += 1;
    }
  };
  await Promise.all(Array.from({ length: workers * IN_FLIGHT_PER_WORKER }, lane));
  const elapsed = (performance.now() - started) / 1000;
  return { windowsPerSec: windowsDone / elapsed, meanRunMs: (1000 * runSeconds) / runs };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: BUNDLED_MODEL_PATH },
      workers: { type: 'string', default: String(availableParallelism()) },
      threads: { type: 'string', default: '1' },
      batches: { type: 'string', default: '1,8,16,32' },
      seconds: { type: 'string', default: '3' },
    },
  });
  const points = await measureCeiling({
    modelPath: values.model,
    workers: Number(values.workers),
    intraOpThreads: Number(values.threads),
    batches: values.batches.split(',').map(Number),
    seconds: Number(values.seconds),
  });
  console.table(points.map((p) => ({ batch: p.batch, 'windows/s': Math.round(p.windowsPerSec), 'run ms': p.meanRunMs.toFixed(2) })));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
