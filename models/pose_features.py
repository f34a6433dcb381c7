"""The agents' 169-feature pose pipeline, in numpy: the reference that src/features/pose-features.ts ports.

Per frame, from MediaPipe's 33 keypoints (x, y, z, visibility), NaN = missing detection:
  [0, 66)    keypoint k's x, y as ((x, y) - hip_centre) / scale, in order x0, y0, x1, y1, ..., x32, y32
             hip_centre = mean of keypoints 23, 24; scale = max(|shoulder_centre - hip_centre|, 1e-3)
             with shoulder_centre = mean of keypoints 11, 12 (2-D distance)
  [66, 132)  velocities: the same 66 values minus the previous frame's (frame 0: itself minus itself)
  [132, 136) joint angles in radians, atan2(|u x v|, u . v) of u = a - b, v = c - b on image x, y:
             left elbow 11-13-15, right elbow 12-14-16, left knee 23-25-27, right knee 24-26-28
  [136, 169) the 33 visibilities
Then, per feature column along time: NaN forward-filled, then backward-filled, any NaN left -> 0;
everything clipped to [-10, 10]; float32 out. Computed in float64 until the final cast.
"""

import numpy as np

KEYPOINT_COUNT = 33
KEYPOINT_VALUES = 4
FEATURE_DIM = 169
ANGLE_JOINTS = ((11, 13, 15), (12, 14, 16), (23, 25, 27), (24, 26, 28))
SCALE_FLOOR = 1e-3
CLIP = 10.0


def fill_gaps(feats: np.ndarray) -> np.ndarray:
    out = feats.copy()
    for t in range(1, out.shape[0]):
        gap = np.isnan(out[t])
        out[t, gap] = out[t - 1, gap]
    for t in range(out.shape[0] - 2, -1, -1):
        gap = np.isnan(out[t])
        out[t, gap] = out[t + 1, gap]
    out[np.isnan(out)] = 0.0
    return out


def compute_features(keypoints) -> np.ndarray:
    """keypoints: (T, 33, 4) or (T, 132) array; returns (T, 169) float32."""
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, KEYPOINT_COUNT, KEYPOINT_VALUES)
    frames = kp.shape[0]
    xy = kp[:, :, :2]
    hip = (xy[:, 23] + xy[:, 24]) / 2.0
    shoulder = (xy[:, 11] + xy[:, 12]) / 2.0
    d = shoulder - hip
    scale = np.maximum(np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]), SCALE_FLOOR)  # NaN stays NaN
    pos = ((xy - hip[:, None, :]) / scale[:, None, None]).reshape(frames, 2 * KEYPOINT_COUNT)
    vel = pos - np.concatenate([pos[:1], pos[:-1]], axis=0)
    angles = np.empty((frames, len(ANGLE_JOINTS)))
    for j, (a, b, c) in enumerate(ANGLE_JOINTS):
        u = xy[:, a] - xy[:, b]
        v = xy[:, c] - xy[:, b]
        cross = u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]
        dot = u[:, 0] * v[:, 0] + u[:, 1] * v[:, 1]
        angles[:, j] = np.arctan2(np.abs(cross), dot)
    vis = kp[:, :, 3]
    feats = np.concatenate([pos, vel, angles, vis], axis=1)
    return np.clip(fill_gaps(feats), -CLIP, CLIP).astype(np.float32)
