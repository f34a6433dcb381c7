/**
 * The analysis contract shared by /behavior/analyze and the WebSocket streams: checking a
 * window against the model and turning its scores into the seed's response fields.
 */
import { AppError } from '../common/errors.js';
import type { AnalyzeRequest } from '../contracts/api.js';

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
