/** Seeded feature windows and request bodies for tests that need many distinct inputs. */
import type { AnalyzeRequest } from '../../src/contracts/api.js';
import { Rng } from '../../src/features/synthetic-pose/rng.js';
import { analyzeRequest } from '../../src/common/analysis-json.js';

/** frames × dim features in [-2, 2), seeded. */
export function randomFrames(seed: number, frames: number, dim: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: frames }, () => Array.from({ length: dim }, () => rng.uniform(-2, 2)));
}

/** The agents' request body for these frames (each value stored as float32, as the server reads it). */
export function analyzeBody(frames: number[][]): AnalyzeRequest {
  return analyzeRequest(Float32Array.from(frames.flat()), frames.length, frames[0]?.length ?? 0);
}
