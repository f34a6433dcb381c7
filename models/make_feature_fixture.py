"""Write test/fixtures/pose-features.json: seeded keypoint windows and numpy's features for them.

    python3 models/make_feature_fixture.py [OUT.json]

test/pose-features.test.ts holds the TypeScript pipeline to these features (1e-5). The windows cover
whole frames missing at the start, middle and end, a window with nothing detected, single missing
values, a collapsed torso (scale floor, clipping) and a one-frame window.
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pose_features import FEATURE_DIM, compute_features  # noqa: E402

SEED = 1234
DEFAULT_OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "pose-features.json"))

# A standing person facing the camera, normalised image coordinates (y down), one row per keypoint.
STANDING = np.array([
    [0.50, 0.20], [0.51, 0.19], [0.52, 0.19], [0.53, 0.19], [0.49, 0.19], [0.48, 0.19], [0.47, 0.19],
    [0.55, 0.20], [0.45, 0.20], [0.52, 0.22], [0.48, 0.22],
    [0.58, 0.28], [0.42, 0.28], [0.60, 0.38], [0.40, 0.38], [0.61, 0.47], [0.39, 0.47],
    [0.62, 0.49], [0.38, 0.49], [0.61, 0.50], [0.39, 0.50], [0.60, 0.49], [0.40, 0.49],
    [0.55, 0.50], [0.45, 0.50], [0.56, 0.65], [0.44, 0.65], [0.56, 0.80], [0.44, 0.80],
    [0.56, 0.82], [0.44, 0.82], [0.57, 0.83], [0.43, 0.83],
])


def moving_person(rng: np.random.Generator, frames: int) -> np.ndarray:
    """A drifting, swaying, jittering skeleton: (frames, 33, 4) float32."""
    kp = np.zeros((frames, 33, 4))
    shift = rng.uniform(-0.2, 0.2, size=2) + np.cumsum(rng.normal(0, 0.01, size=(frames, 2)), axis=0)
    scale = rng.uniform(0.6, 1.3)
    sway = np.sin(np.linspace(0, rng.uniform(2, 8), frames))[:, None] * rng.uniform(0.0, 0.1)
    centre = STANDING.mean(axis=0)
    for t in range(frames):
        pts = (STANDING - centre) * scale + centre + shift[t]
        pts[13:23, 0] += sway[t] * np.sign(pts[13:23, 0] - centre[0])  # arms swing out and in
        kp[t, :, :2] = pts + rng.normal(0, 0.004, size=(33, 2))
    kp[:, :, 2] = rng.normal(0, 0.1, size=(frames, 33))
    kp[:, :, 3] = rng.uniform(0.2, 1.0, size=(frames, 33))
    return np.round(kp, 4).astype(np.float32)  # 4 decimals keep the fixture small


def windows(rng: np.random.Generator) -> list:
    out = []
    out.append(("clean", moving_person(rng, 16)))
    gaps = moving_person(rng, 16)
    gaps[[0, 1, 7, 8, 15]] = np.nan  # missing at the start, in the middle, at the end
    out.append(("missing frames at start, middle and end", gaps))
    out.append(("nothing detected", np.full((12, 33, 4), np.nan, dtype=np.float32)))
    singles = moving_person(rng, 16)
    singles[3, 15, 0] = np.nan          # one wrist x
    singles[4:9, 24, :] = np.nan        # right hip gone for five frames: every position of those frames
    singles[:, 30, 3] = np.nan          # a visibility never reported
    singles[10, 11, 1] = np.nan         # one shoulder y
    out.append(("single missing values", singles))
    collapsed = moving_person(rng, 16)
    collapsed[5:9, [11, 12], :2] = collapsed[5:9, [23, 24], :2]  # shoulders on the hips: scale floor
    collapsed[9, [11, 12], :2] = collapsed[9, [23, 24], :2] + 1e-4
    out.append(("collapsed torso", collapsed))
    long = moving_person(rng, 30)
    long[rng.random(30) < 0.25] = np.nan
    long[:3] = np.nan
    out.append(("long window with random drops", long))
    out.append(("one frame", moving_person(rng, 1)))
    out.append(("one frame, missing", np.full((1, 33, 4), np.nan, dtype=np.float32)))
    return out


def number(v: np.float32):
    # shortest text that reads back as the same float32; JSON has no NaN: null marks a missing value
    return None if np.isnan(v) else float(str(v))


def main() -> None:
    out_path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    rng = np.random.default_rng(SEED)
    cases = []
    for name, kp in windows(rng):
        feats = compute_features(kp)
        assert feats.shape == (kp.shape[0], FEATURE_DIM) and np.isfinite(feats).all()
        cases.append({
            "name": name,
            "frames": int(kp.shape[0]),
            "keypoints": [number(v) for v in kp.reshape(-1)],
            "features": [float("%.7g" % v) for v in feats.reshape(-1)],
        })
    doc = {"description": "MediaPipe keypoint windows (null = missing) and the numpy pipeline's 169 features per frame",
           "generator": "models/make_feature_fixture.py", "seed": SEED, "cases": cases}
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {out_path}: {len(cases)} windows, {sum(c['frames'] for c in cases)} frames")


if __name__ == "__main__":
    main()
