/**
 * Messages between the main thread and the inference workers. Plain data only: features travel
 * as one transferred Float32Array per batch; errors as {code, message}.
 */
import type { ErrorData } from './errors.js';

export const INFERENCE_DEVICES = ['auto', 'cpu', 'cuda'] as const;
export type InferenceDevice = (typeof INFERENCE_DEVICES)[number];

/** workerData of every inference worker. */
export interface InferenceWorkerInit {
  /** Every model of the set: each worker opens a session for each (name → .onnx path). */
  models: { name: string; path: string }[];
  device: InferenceDevice;
  intraOpThreads: number;
  logLevel: string;
}

/** One session.run: `batch` windows of `frames` × `featureDim` raw features, row-major. */
export interface BatchTask {
  /** Which model of the worker's set runs it. */
  model: string;
  batch: number;
  frames: number;
  data: Float32Array;
}

export type BatchOutcome =
  | { ok: true; scores: Float32Array; runSeconds: number }
  | { ok: false; error: ErrorData };

/** Posted once by each worker when it has every model of its set (or has failed to get one). */
export type WorkerStatus =
  | { kind: 'model-loaded'; threadId: number; provider: 'cuda' | 'cpu' }
  | { kind: 'model-failed'; threadId: number; message: string };
