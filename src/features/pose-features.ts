/**
 * The agents' 169-feature pose pipeline (models/pose_features.py is the numpy reference; the
 * formulas are written down in models/README.md). Per frame, from MediaPipe's 33 keypoints:
 * 66 hip-centred, shoulder-hip-scaled x/y; 66 frame-to-frame velocities of those; 4 joint angles;
 * 33 visibilities. NaN gaps are filled forward then backward along time, then zeroed; all clipped.
 */

export const KEYPOINT_COUNT = 33;
export const KEYPOINT_VALUES = 4;
export const FEATURE_DIM = 169;

const POSITION_DIM = 2 * KEYPOINT_COUNT;
const VELOCITY_OFFSET = POSITION_DIM;
const ANGLE_OFFSET = 2 * POSITION_DIM;
/** Joint angles at the middle keypoint: left elbow, right elbow, left knee, right knee. */
const ANGLE_JOINTS: readonly (readonly [number, number, number])[] = [
  [11, 13, 15],
  [12, 14, 16],
  [23, 25, 27],
  [24, 26, 28],
];
const VISIBILITY_OFFSET = ANGLE_OFFSET + ANGLE_JOINTS.length;
/** A torso shorter than this (normalised image units) is treated as this long, not divided by ~0. */
const SCALE_FLOOR = 1e-3;
const CLIP = 10;

const L_SHOULDER = 11;
const R_SHOULDER = 12;
const L_HIP = 23;
const R_HIP = 24;

/**
 * keypoints: flat frames*33*4 values (x, y, z, visibility per keypoint; NaN = missing detection,
 * a whole frame or single values). Returns frames*169 features, row-major, as the numpy pipeline.
 * `out`, when given, must hold at least frames*169 values and is returned.
 */
export function computeFeatures(keypoints: ArrayLike<number>, frames: number, out?: Float32Array): Float32Array {
  const stride = KEYPOINT_COUNT * KEYPOINT_VALUES;
  if (!Number.isInteger(frames) || frames < 0) throw new RangeError(`frames must be a whole number >= 0, got ${frames}`);
  if (keypoints.length < frames * stride) {
    throw new RangeError(`expected ${frames * stride} keypoint values for ${frames} frames, got ${keypoints.length}`);
  }
  const size = frames * FEATURE_DIM;
  const result = out ?? new Float32Array(size);
  if (result.length < size) throw new RangeError(`out holds ${result.length} values, needs ${size}`);

  // float64 until the final store, like the reference
  const work = new Float64Array(size);
  for (let t = 0; t < frames; t++) {
    const row = t * FEATURE_DIM;
    frameFeatures(keypoints, t * stride, work, row);
    // frame 0 is its own predecessor: velocity 0 (NaN when it is missing, filled like any gap)
    const prev = t > 0 ? row - FEATURE_DIM : row;
    for (let i = 0; i < POSITION_DIM; i++) work[row + VELOCITY_OFFSET + i] = work[row + i]! - work[prev + i]!;
  }
  fillGaps(work, frames);
  for (let i = 0; i < size; i++) result[i] = Math.min(CLIP, Math.max(-CLIP, work[i]!));
  return result;
}

/** Positions, angles and visibilities of one frame (the caller adds velocities). */
function frameFeatures(kp: ArrayLike<number>, base: number, work: Float64Array, row: number): void {
  const x = (k: number): number => kp[base + k * KEYPOINT_VALUES]!;
  const y = (k: number): number => kp[base + k * KEYPOINT_VALUES + 1]!;
  const hipX = (x(L_HIP) + x(R_HIP)) / 2;
  const hipY = (y(L_HIP) + y(R_HIP)) / 2;
  const dx = (x(L_SHOULDER) + x(R_SHOULDER)) / 2 - hipX;
  const dy = (y(L_SHOULDER) + y(R_SHOULDER)) / 2 - hipY;
  const scale = Math.max(Math.sqrt(dx * dx + dy * dy), SCALE_FLOOR); // NaN stays NaN
  for (let k = 0; k < KEYPOINT_COUNT; k++) {
    work[row + 2 * k] = (x(k) - hipX) / scale;
    work[row + 2 * k + 1] = (y(k) - hipY) / scale;
    work[row + VISIBILITY_OFFSET + k] = kp[base + k * KEYPOINT_VALUES + 3]!;
  }
  for (let j = 0; j < ANGLE_JOINTS.length; j++) {
    const [a, b, c] = ANGLE_JOINTS[j]!;
    const ux = x(a) - x(b);
    const uy = y(a) - y(b);
    const vx = x(c) - x(b);
    const vy = y(c) - y(b);
    work[row + ANGLE_OFFSET + j] = Math.atan2(Math.abs(ux * vy - uy * vx), ux * vx + uy * vy);
  }
}

/** Per column: NaN forward-filled, then backward-filled; a column with no value at all becomes 0. */
function fillGaps(work: Float64Array, frames: number): void {
  for (let t = 1; t < frames; t++) {
    const row = t * FEATURE_DIM;
    for (let i = 0; i < FEATURE_DIM; i++) {
      if (Number.isNaN(work[row + i])) work[row + i] = work[row - FEATURE_DIM + i]!;
    }
  }
  for (let t = frames - 2; t >= 0; t--) {
    const row = t * FEATURE_DIM;
    for (let i = 0; i < FEATURE_DIM; i++) {
      if (Number.isNaN(work[row + i])) work[row + i] = work[row + FEATURE_DIM + i]!;
    }
  }
  for (let i = 0; i < frames * FEATURE_DIM; i++) if (Number.isNaN(work[i])) work[i] = 0;
}
