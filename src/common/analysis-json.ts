/**
 * The analysis as JSON on the wire, for the server and its clients alike: the /behavior/analyze
 * request for a window of features, and the response fields for a window's scores.
 */
import type { AnalyzeRequest, AnalyzeResponse } from '../contracts/api.js';

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
  /** The model's name and version, added to the answer after the seed's fields. */
  ref?: { readonly name: string; readonly version: string };
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
  const result: AnalyzeResponse = {
    is_anomaly: anomaly,
    normal_score: 1 - max,
    anomaly_score: max,
    events: model.events as string[],
    scores: list,
    thresholds: model.thresholds as number[],
  };
  if (model.ref) result.model = model.ref;
  return result;
}
