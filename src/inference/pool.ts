/**
 * The inference workers: a Piscina pool of threads, each owning one onnxruntime session per model
 * of the set it was started with (a reload starts a new pool; see model-registry.ts).
 * The only module that imports Piscina. Tracks which workers have their model (for /ready),
 * turns a worker's failure or death into an AppError for the batch it was running, and lets
 * Piscina replace a dead worker.
 */
import { Piscina } from 'piscina';
import { AppError } from '../common/errors.js';
import type { BatchOutcome, BatchTask, InferenceWorkerInit, WorkerStatus } from '../contracts/inference.js';
import type { InferenceConfig } from '../config.js';
import type { Logger } from '../common/log.js';
import { workerUrl } from '../common/paths.js';

export interface PoolStatus {
  loaded: number;
  expected: number;
  /** The execution provider the workers report ('cuda' | 'cpu'), null before the first loads. */
  provider: string | null;
  /** Why the model is not available, when a worker failed to load it. */
  failure: string | null;
}

export interface InferencePoolOptions {
  /** The model set every worker loads. */
  models: { name: string; path: string }[];
  inference: InferenceConfig;
  logLevel: string;
  logger: Logger;
  /** The worker entry; tests may wrap the real one. */
  workerFile?: URL;
  /** Called with each batch's session.run time, as measured in the worker, and its model (for metrics). */
  onRunSeconds?: (seconds: number, model: string) => void;
}

export class InferencePool {
  /** Resolves when every worker has loaded its model; rejects with the first load failure. */
  readonly ready: Promise<void>;
  private readonly pool: Piscina<BatchTask, BatchOutcome>;
  private readonly loadedThreads = new Set<number>();
  private provider: string | null = null;
  private failure: string | null = null;
  private closing = false;
  private rejectReady?: (err: Error) => void;
  /** Workers started but not yet done loading the model (stopping one mid-load aborts the process). */
  private readonly loading = new Set<number>();
  private readonly reported = new Set<number>();
  private loadsSettled: (() => void)[] = [];

  constructor(private readonly options: InferencePoolOptions) {
    const { inference, models, logLevel, logger } = options;
    const init: InferenceWorkerInit = { models, device: inference.device, intraOpThreads: inference.intraOpThreads, logLevel };
    this.pool = new Piscina({
      filename: (options.workerFile ?? workerUrl('inference')).href,
      minThreads: inference.workers,
      maxThreads: inference.workers,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      // 'sync' would park idle workers in Atomics.wait, freezing their event loop before the
      // model (loaded asynchronously) is ready; 'async' waits without blocking it.
      atomics: 'disabled',
      workerData: init,
    });
    this.ready = new Promise((resolve, reject) => {
      this.rejectReady = reject;
      this.pool.on('message', (status: WorkerStatus) => {
        this.loadSettled(status.threadId);
        if (status.kind === 'model-loaded') {
          this.loadedThreads.add(status.threadId);
          this.provider = status.provider;
          this.failure = null;
          logger.info({ threadId: status.threadId, provider: status.provider, models: models.map((m) => m.name), loaded: this.loadedThreads.size, expected: inference.workers }, 'inference worker has its model');
          if (this.loadedThreads.size >= inference.workers) resolve();
        } else {
          this.failure = status.message;
          logger.error({ threadId: status.threadId, reason: status.message }, 'inference worker could not load the model');
          reject(new Error(status.message));
        }
      });
    });
    this.ready.catch(() => {}); // the failure is also reported through status(); callers await `ready` themselves
    this.pool.on('workerCreate', (worker: { id: number }) => {
      if (!this.reported.has(worker.id)) this.loading.add(worker.id);
    });
    this.pool.on('workerDestroy', () => {
      // The dead worker's own id already reads -1: find which thread went by the ones still alive.
      const threadId = this.forgetExitedThread();
      const hadModel = threadId !== null && this.loadedThreads.delete(threadId);
      if (this.closing) return;
      if (threadId !== null && !hadModel && !this.failure) {
        // It died before it could load the model: that is a load failure, not a crash to retry forever.
        this.failure = 'an inference worker exited while loading the model';
        this.rejectReady?.(new Error(this.failure));
      }
      logger.error({ threadId }, 'inference worker exited; a replacement is starting');
    });
    // Piscina emits 'error' for a worker that dies while idle; unhandled, it would end the process.
    this.pool.on('error', (err: Error) => logger.error({ err }, 'inference worker error'));
  }

  status(): PoolStatus {
    return { loaded: this.loadedThreads.size, expected: this.options.inference.workers, provider: this.provider, failure: this.failure };
  }

  /** Runs one batch on a free worker; the features' buffer is moved, not copied. */
  async run(task: BatchTask): Promise<Float32Array> {
    let outcome: BatchOutcome;
    try {
      outcome = await this.pool.run(task, { transferList: [task.data.buffer as ArrayBuffer] });
    } catch (err) {
      // The worker died under this batch (Piscina has already started a replacement).
      throw new AppError('inference_failed', `inference worker failed: ${(err as Error).message}`);
    }
    if (!outcome.ok) throw AppError.fromData(outcome.error);
    this.options.onRunSeconds?.(outcome.runSeconds, task.model);
    return outcome.scores;
  }

  /** Stops the workers, after letting any model load in progress finish (bounded by `loadWaitMs`). */
  async close(loadWaitMs = 10_000): Promise<void> {
    this.closing = true;
    if (this.loading.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.loadsSettled.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, loadWaitMs))),
      ]);
      clearTimeout(timer);
    }
    await this.pool.close();
  }

  /** The thread id, loaded or loading, that no live worker has any more (null if none); its load is settled. */
  private forgetExitedThread(): number | null {
    const alive = new Set(this.pool.threads.map((worker) => worker.threadId));
    for (const threadId of [...this.loadedThreads, ...this.loading]) {
      if (alive.has(threadId)) continue;
      this.loadSettled(threadId);
      return threadId;
    }
    return null;
  }

  private loadSettled(threadId: number): void {
    this.reported.add(threadId);
    this.loading.delete(threadId);
    if (this.loading.size === 0) for (const wake of this.loadsSettled.splice(0)) wake();
  }
}
