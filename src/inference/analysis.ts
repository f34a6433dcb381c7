/**
 * The analysis contract shared by /behavior/analyze and the WebSocket streams: checking a
 * window against the model and turning its scores into the seed's response fields.
 */
import { AppError } from '../errors.js';
import type { AnalyzeRequest, AnalyzeResponse } from '../contracts/api.js';

export interface WindowShape {
  featureDim: number;
  /** 0 = the model takes any number of frames. */
  windowSize: number;
}

/**
 * A window ready for the batcher: frames × featureDim float32 values. A class, so that code can
 * tell a decoded window from a client's JSON by its type (`instanceof`), never by its keys.
 */
export class PackedWindow {
  constructor(
    readonly frames: number,
    readonly data: Float32Array,
  ) {}
}

/** Throws the 422 for a frame count the model cannot take. */
export function checkFrameCount(frames: number, shape: WindowShape): void {
  if (frames === 0) throw new AppError('invalid_input', 'frames must not be empty');
  if (shape.windowSize > 0 && frames !== shape.windowSize) {
    throw new AppError('invalid_input', `expected ${shape.windowSize} frames (the model's window), got ${frames}`);
  }
}

export function featureDimError(frame: number, got: number, shape: WindowShape): AppError {
  return new AppError('invalid_input', `expected feature dimension ${shape.featureDim}, got ${got} (frame ${frame})`);
}

export function nonFiniteError(frame: number, feature: number, value: number): AppError {
  return new AppError('invalid_input', `frame ${frame}, feature ${feature}: expected a finite number, got ${value}`);
}

/** A schema-valid request → a packed window, or the 422 that says what was expected and what came. */
export function packWindow(request: AnalyzeRequest, shape: WindowShape): PackedWindow {
  const { frames } = request;
  checkFrameCount(frames.length, shape);
  const dim = shape.featureDim;
  const data = new Float32Array(frames.length * dim);
  for (let f = 0; f < frames.length; f++) {
    const features = frames[f]!.features;
    if (features.length !== dim) throw featureDimError(f, features.length, shape);
    for (let i = 0; i < dim; i++) {
      const value = features[i]!;
      // Checked after the float32 store: 1e39 is a finite double but Infinity as float32.
      data[f * dim + i] = value;
      if (!Number.isFinite(data[f * dim + i]!)) throw nonFiniteError(f, i, value);
    }
  }
  return new PackedWindow(frames.length, data);
}

/**
 * The /behavior/analyze body for `frames` × `featureDim` features, as agents send it (packWindow's
 * inverse): frame f carries `indexes[f]`, or f when no indexes are given.
 */
export function analyzeRequest(features: Float32Array, frames: number, featureDim: number, indexes?: ArrayLike<number | null>): AnalyzeRequest {
  return {
    frames: Array.from({ length: frames }, (_, f) => ({
      index: indexes ? indexes[f]! : f,
      features: Array.from(features.subarray(f * featureDim, (f + 1) * featureDim)),
    })),
  };
}

export interface ModelOutputs {
  events: readonly string[];
  thresholds: readonly number[];
}

/** The seed's semantics: any score at/over its threshold is an anomaly; anomaly_score = max. */
export function analysisResult(scores: Float32Array, model: ModelOutputs): AnalyzeResponse {
  const list = Array.from(scores);
  let max = 0;
  let anomaly = false;
  for (let i = 0; i < list.length; i++) {
    if (list[i]! > max) max = list[i]!;
    if (list[i]! >= model.thresholds[i]!) anomaly = true;
  }
  return {
    is_anomaly: anomaly,
    normal_score: 1 - max,
    anomaly_score: max,
    events: model.events as string[],
    scores: list,
    thresholds: model.thresholds as number[],
  };
}
