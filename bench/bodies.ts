/**
 * Request bodies for the benchmarks, all from the synthetic pose generator: analysis windows as the
 * agents send them (numpy float64 → 17 significant digits), and the agents' PROBS / END events
 * derived from the same scenes' labels.
 */
import { computeFeatures, FEATURE_DIM, KEYPOINT_COUNT, KEYPOINT_VALUES } from '../src/features/pose-features.js';
import { generateScene, lifeScript, SYNTHETIC_EVENTS } from '../src/features/synthetic-pose.js';
import { analyzeRequest } from '../src/common/analysis-json.js';

const FPS = 30;
const SCENE_SECONDS = 30;
const BENCH_SEED = 7_000_000;

interface Scene {
  keypoints: Float32Array;
  labels: (readonly string[])[];
  frames: number;
}

function scene(index: number): Scene {
  const seed = BENCH_SEED + index;
  const frames = SCENE_SECONDS * FPS;
  const steps = lifeScript(seed, SCENE_SECONDS, 8);
  return { ...generateScene({ seed, fps: FPS, steps, frames, dropRate: 0.03 }), frames };
}

/** `count` distinct windows of `frames` × 169 features, cut from generated scenes as an agent cuts them. */
export function analysisWindows(frames: number, count: number): Float32Array[] {
  const stride = KEYPOINT_COUNT * KEYPOINT_VALUES;
  const windows: Float32Array[] = [];
  for (let s = 0; windows.length < count; s++) {
    const sc = scene(s);
    // spread the windows over the scene so they cover different activities
    const step = Math.max(frames, Math.floor((sc.frames - frames) / 8));
    for (let start = 0; start + frames <= sc.frames && windows.length < count; start += step) {
      const features = computeFeatures(sc.keypoints.subarray(start * stride, (start + frames) * stride), frames);
      if (!features.every(Number.isFinite)) throw new Error(`scene ${s} at frame ${start}: non-finite feature`);
      windows.push(features);
    }
  }
  return windows;
}

/**
 * `count` distinct /behavior/analyze bodies of `frames` frames. Each float32 feature is written as
 * a JS double, which prints the same 17 significant digits numpy's float64 repr does.
 */
export function analyzeBodies(frames: number, count: number): string[] {
  return analysisWindows(frames, count).map((features) => JSON.stringify(analyzeRequest(features, frames, FEATURE_DIM)));
}

export type EventKind = 'PROBS' | 'END';

/**
 * `count` distinct /event/payload bodies of one kind, shaped like the agents' events: PROBS carry
 * the per-event share of the last second's frames (a stand-in for the model's scores), END closes
 * a labelled event run with its duration and last frame.
 */
export function eventBodies(kind: EventKind, count: number): string[] {
  const bodies: string[] = [];
  const startTs = 1_764_405_000;
  for (let s = 0; bodies.length < count; s++) {
    const sc = scene(s);
    const cam = `cam-${String(s % 8).padStart(2, '0')}`;
    const at = (frame: number) => startTs + s * SCENE_SECONDS + frame / FPS;
    if (kind === 'PROBS') {
      for (let f = FPS; f < sc.frames && bodies.length < count; f += 15) {
        const probs = probsAt(sc, f);
        const top = SYNTHETIC_EVENTS.reduce((a, b) => (probs[b]! > probs[a]! ? b : a));
        bodies.push(JSON.stringify({
          type: 'PROBS', ts: at(f), frame_idx: f, event: null, prob: null, duration_sec: null,
          state: probs[top]! >= 0.5 ? 'event' : 'normal', top_event: top, top_prob: probs[top], probs, session_id: cam,
        }));
      }
    } else {
      for (const run of eventRuns(sc)) {
        if (bodies.length >= count) break;
        bodies.push(JSON.stringify({
          type: 'END', ts: at(run.end), frame_idx: run.end, event: run.event, prob: 0.9, duration_sec: (run.end - run.start + 1) / FPS,
          state: null, top_event: null, top_prob: null, probs: null, session_id: cam,
        }));
      }
    }
  }
  return bodies;
}

function probsAt(sc: Scene, frame: number): Record<string, number> {
  const recent = sc.labels.slice(frame - FPS, frame);
  return Object.fromEntries(SYNTHETIC_EVENTS.map((e) => [e, recent.filter((l) => l.includes(e)).length / recent.length]));
}

/** Runs of consecutive frames labelled with the same event. */
function eventRuns(sc: Scene): { event: string; start: number; end: number }[] {
  const runs: { event: string; start: number; end: number }[] = [];
  for (const event of SYNTHETIC_EVENTS) {
    let start = -1;
    for (let f = 0; f <= sc.frames; f++) {
      const on = f < sc.frames && sc.labels[f]!.includes(event);
      if (on && start < 0) start = f;
      if (!on && start >= 0) {
        runs.push({ event, start, end: f - 1 });
        start = -1;
      }
    }
  }
  return runs.sort((a, b) => a.end - b.end);
}
