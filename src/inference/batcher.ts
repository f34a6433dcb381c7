/**
 * A dynamic batcher in the manner of Triton's: windows queue in FIFO order and leave in batches
 * of up to `maxBatch`, one batch per free runner slot. A lone window waits at most `maxWaitMs`
 * for company; a full batch leaves at once. Knows nothing of threads: it calls `run(batch)`.
 * One batcher serves one model version (model-registry.ts), so a batch never mixes them.
 */
import { AppError } from '../common/errors.js';
import type { BatchTask } from '../contracts/inference.js';

export interface BatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
  /** Windows allowed to wait; one more is refused with 503 (never unbounded memory). */
  queueMax: number;
  /** Batches that may run at once (the number of workers). */
  concurrency: number;
  featureDim: number;
  /** Number of scores per window (the model's events). */
  outputs: number;
  /** The model every batch names (BatchTask.model); '' when there is only one. */
  model?: string;
}

export interface BatcherObserver {
  queueDepth(depth: number): void;
  rejected(): void;
  batchStarted(size: number, waitsSeconds: readonly number[]): void;
  batchFailed(reason: string): void;
}

interface Pending {
  data: Float32Array;
  frames: number;
  enqueuedAt: number;
  resolve(scores: Float32Array): void;
  reject(err: unknown): void;
}

export class MicroBatcher {
  private queue: Pending[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly run: (task: BatchTask) => Promise<Float32Array>,
    private readonly options: BatcherOptions,
    private readonly observer?: BatcherObserver,
  ) {}

  get depth(): number {
    return this.queue.length;
  }

  /** Queues one window (frames × featureDim values); resolves with its scores. */
  submit(data: Float32Array, frames: number): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new AppError('shutting_down', 'the server is shutting down'));
    // A window of the wrong size would throw later inside a timer, where no request can catch it.
    const { featureDim } = this.options;
    if (!(data instanceof Float32Array) || !Number.isInteger(frames) || frames <= 0 || data.length !== frames * featureDim) {
      return Promise.reject(new AppError('internal', `malformed window: ${frames} frames × ${featureDim} features cannot hold ${(data as { length?: unknown })?.length} values`));
    }
    if (this.queue.length >= this.options.queueMax) {
      this.observer?.rejected();
      return Promise.reject(new AppError('overloaded', `inference queue is full (${this.options.queueMax} windows waiting); retry shortly`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ data, frames, enqueuedAt: performance.now(), resolve, reject });
      this.observer?.queueDepth(this.queue.length);
      this.schedule();
    });
  }

  /** Refuses new windows; those already queued still run. */
  close(): void {
    this.closed = true;
  }

  /** Resolves once no window waits or runs (after close(): everything taken has been answered). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.running >= this.options.concurrency || this.queue.length === 0) return;
    if (this.queue.length >= this.options.maxBatch) return this.flush();
    if (this.timer) return;
    const waited = performance.now() - this.queue[0]!.enqueuedAt;
    const remaining = this.options.maxWaitMs - waited;
    // setImmediate still lets windows that arrive in the same turn of the event loop join.
    this.timer = remaining <= 0 ? setImmediate(() => this.flush()) : setTimeout(() => this.flush(), remaining);
  }

  private flush(): void {
    this.clearTimer();
    while (this.running < this.options.concurrency && this.queue.length > 0) this.dispatch(this.takeBatch());
    this.observer?.queueDepth(this.queue.length);
  }

  /** The oldest window and the next ones of the same length, up to maxBatch; the rest keep their order. */
  private takeBatch(): Pending[] {
    const frames = this.queue[0]!.frames;
    const batch: Pending[] = [];
    const others: Pending[] = [];
    let i = 0;
    for (; i < this.queue.length && batch.length < this.options.maxBatch; i++) {
      const pending = this.queue[i]!;
      (pending.frames === frames ? batch : others).push(pending);
    }
    this.queue = others.length ? [...others, ...this.queue.slice(i)] : this.queue.slice(i);
    return batch;
  }

  private dispatch(batch: Pending[]): void {
    const { featureDim, outputs } = this.options;
    const frames = batch[0]!.frames;
    const windowSize = frames * featureDim;
    this.running++;
    let started: Promise<Float32Array>;
    try {
      const data = new Float32Array(batch.length * windowSize);
      const now = performance.now();
      const waits = batch.map((p, i) => {
        data.set(p.data, i * windowSize);
        return (now - p.enqueuedAt) / 1000;
      });
      this.observer?.batchStarted(batch.length, waits);
      started = this.run({ model: this.options.model ?? '', batch: batch.length, frames, data });
    } catch (err) {
      // This runs in a timer: whatever throws here must reach the batch's requests, not the process.
      started = Promise.reject(err);
    }
    started
      .then((scores) => {
        if (!(scores instanceof Float32Array) || scores.length !== batch.length * outputs) {
          throw new AppError('inference_failed', `the model answered ${(scores as { length?: unknown })?.length} scores for ${batch.length} windows × ${outputs} events`);
        }
        return scores;
      })
      .then(
        (scores) => {
          this.batchDone();
          batch.forEach((p, i) => p.resolve(scores.subarray(i * outputs, (i + 1) * outputs)));
        },
        (err) => {
          this.batchDone();
          this.observer?.batchFailed(err instanceof AppError ? err.code : 'error');
          for (const p of batch) p.reject(err);
        },
      );
  }

  /**
   * A worker is free: the next batch leaves now if it is due, before this batch's answers are
   * written, so the worker does not sit idle while the main thread serialises responses.
   */
  private batchDone(): void {
    this.running--;
    const oldest = this.queue[0];
    if (oldest && (this.queue.length >= this.options.maxBatch || performance.now() - oldest.enqueuedAt >= this.options.maxWaitMs)) this.flush();
    else this.schedule();
    if (this.running === 0 && this.queue.length === 0 && this.idleWaiters.length > 0) {
      // After this batch's answers: they resolve in this turn, the waiters in a later one.
      const waiters = this.idleWaiters.splice(0);
      queueMicrotask(() => setImmediate(() => { for (const wake of waiters) wake(); }));
    }
  }

  private clearTimer(): void {
    if (!this.timer) return;
    clearTimeout(this.timer as NodeJS.Timeout);
    clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = null;
  }
}
