/**
 * Synthetic MediaPipe pose sequences: a seeded person in front of a seeded camera doing normal
 * things (standing, walking, waving, sitting down) and, now and then, an event a pose model can
 * tell apart (a fall, lying motionless after it, violent flailing). The one source of synthetic
 * data for training, tests, the demo agent and the benchmarks. Never uses Math.random.
 */
import { placeBody, randomBody, standingPose, type Body, type Pose } from './synthetic-pose/body.js';
import { Camera, Tracker } from './synthetic-pose/camera.js';
import { POSTURE, startMotion, type Activity, type Motion, type Posture } from './synthetic-pose/motions.js';
import { Rng } from './synthetic-pose/rng.js';
import { KEYPOINT_COUNT, KEYPOINT_VALUES } from './pose-features.js';

export type { Activity } from './synthetic-pose/motions.js';

/** The bundled model's events, in model order. */
export const SYNTHETIC_EVENTS: readonly string[] = Object.freeze(['fall', 'lying_still', 'flailing']);

export interface SceneStep {
  activity: Activity;
  seconds: number;
}

const NO_EVENTS: readonly string[] = Object.freeze([]);
const EVENT_LISTS: Record<string, readonly string[]> = Object.fromEntries(
  SYNTHETIC_EVENTS.map((e) => [e, Object.freeze([e])]),
);
const eventsOf = (activity: Activity): readonly string[] => EVENT_LISTS[activity] ?? NO_EVENTS;

/** How to get from one posture to another (the step that needs it is played right after). */
const TRANSITIONS: Record<Posture, Record<Posture, Activity[]>> = {
  standing: { standing: [], sitting: ['sit_down'], lying: ['fall'] },
  sitting: { standing: ['stand_up'], sitting: [], lying: ['stand_up', 'fall'] },
  lying: { standing: ['get_up'], sitting: ['get_up', 'sit_down'], lying: [] },
};

/** Seconds for a step the simulator adds by itself (a transition, or normal life after the script). */
function naturalSeconds(activity: Activity, rng: Rng): number {
  switch (activity) {
    case 'fall': return rng.uniform(0.8, 1.3);
    case 'sit_down': case 'stand_up': return rng.uniform(1.8, 2.4);
    case 'get_up': return rng.uniform(2.6, 3.6);
    case 'walk': return rng.uniform(3, 8);
    case 'sit': case 'lying_still': return rng.uniform(3, 10);
    case 'wave': return rng.uniform(1.5, 4);
    case 'flailing': return rng.uniform(2, 5);
    case 'stand': return rng.uniform(2, 6);
  }
}

/** A normal (non-event) activity that fits the posture. */
function normalActivity(posture: Posture, rng: Rng): Activity {
  if (posture === 'lying') return 'get_up';
  if (posture === 'sitting') return rng.chance(0.6) ? 'sit' : 'stand_up';
  const r = rng.next();
  return r < 0.35 ? 'stand' : r < 0.7 ? 'walk' : r < 0.85 ? 'sit_down' : 'wave';
}

export interface SimulatorOptions {
  seed: number;
  /** Frames per second (default 30). */
  fps?: number;
  /** Long-run share of frames with no detection at all (default 0.02); drops come in short runs. */
  dropRate?: number;
}

/** A seeded person in front of a seeded camera; next() advances one frame at `fps`. */
export class PoseSimulator {
  private readonly fps: number;
  private readonly motionRng: Rng;
  private readonly body: Body;
  private readonly camera: Camera;
  private readonly tracker: Tracker;
  private readonly points = new Float64Array(KEYPOINT_COUNT * 3);
  private readonly normals = new Float64Array(KEYPOINT_COUNT * 3);
  private queue: SceneStep[] = [];
  private pose: Pose;
  private posture: Posture = 'standing';
  private motion: Motion | undefined;
  private activity: Activity = 'stand';
  private elapsed = 0;
  private framesLeft = 0;

  constructor(options: SimulatorOptions) {
    const rng = new Rng(options.seed);
    this.fps = options.fps ?? 30;
    if (!(this.fps > 0)) throw new RangeError(`fps must be > 0, got ${this.fps}`);
    this.body = randomBody(rng.fork());
    this.camera = new Camera(rng.fork());
    this.tracker = new Tracker(rng.fork(), this.camera, { dropRate: options.dropRate ?? 0.02 });
    this.motionRng = rng.fork();
    const { stage } = this.camera;
    const place = rng.fork();
    this.pose = standingPose(place.uniform(stage.xMin, stage.xMax), place.uniform(stage.zMin, stage.zMax), place.uniform(-1.6, 1.6));
  }

  /** Play these steps in order (dropping whatever was queued, from the next frame on), then keep going with normal random activity. */
  play(steps: readonly SceneStep[]): void {
    for (const step of steps) {
      if (!(step.seconds > 0)) throw new RangeError(`step ${step.activity}: seconds must be > 0, got ${step.seconds}`);
      if (!(step.activity in POSTURE)) throw new RangeError(`unknown activity: ${String(step.activity)}`);
    }
    this.queue = steps.map((s) => ({ ...s }));
    this.framesLeft = 0;
  }

  /** One frame: 33*4 keypoints (NaN when the detection dropped), the activity now, and the event labels active now. */
  next(): { keypoints: Float32Array; activity: Activity; events: readonly string[] } {
    if (this.framesLeft <= 0) this.startNextStep();
    const dt = 1 / this.fps;
    this.elapsed += dt;
    this.framesLeft -= 1;
    this.pose = (this.motion as Motion)(this.elapsed, dt);
    placeBody(this.body, this.pose, this.points, this.normals);
    const keypoints = new Float32Array(KEYPOINT_COUNT * KEYPOINT_VALUES);
    this.tracker.observe(this.points, this.normals, keypoints);
    return { keypoints, activity: this.activity, events: eventsOf(this.activity) };
  }

  private startNextStep(): void {
    const rng = this.motionRng;
    let step = this.queue.shift() ?? (() => {
      const activity = normalActivity(this.posture, rng);
      return { activity, seconds: naturalSeconds(activity, rng) };
    })();
    const needed = TRANSITIONS[this.posture][POSTURE[step.activity].from];
    if (needed.length > 0) {
      this.queue.unshift(step, ...needed.slice(1).map((a) => ({ activity: a, seconds: naturalSeconds(a, rng) })));
      step = { activity: needed[0]!, seconds: naturalSeconds(needed[0]!, rng) };
    }
    this.activity = step.activity;
    this.posture = POSTURE[step.activity].to;
    this.motion = startMotion(step.activity, this.pose, step.seconds, { rng, stage: this.camera.stage });
    this.elapsed = 0;
    this.framesLeft = Math.max(1, Math.round(step.seconds * this.fps));
  }
}

/** A random "life" script: mostly normal activity with an event roughly every `eventEverySec` seconds (for the demo agent). */
export function lifeScript(seed: number, totalSec: number, eventEverySec: number): SceneStep[] {
  const rng = new Rng(seed);
  const steps: SceneStep[] = [];
  let posture = 'standing' as Posture; // `as`: updated inside add(), which narrowing cannot see
  let t = 0;
  let nextEvent = eventEverySec * rng.uniform(0.5, 1.5);
  const add = (activity: Activity, seconds = naturalSeconds(activity, rng)): void => {
    steps.push({ activity, seconds });
    posture = POSTURE[activity].to;
    t += seconds;
  };
  while (t < totalSec) {
    if (t < nextEvent) {
      add(normalActivity(posture, rng));
      continue;
    }
    if (posture === 'sitting') add('stand_up');
    if (rng.chance(0.6)) {
      add('fall');
      add('lying_still');
      add('get_up');
    } else add('flailing');
    nextEvent = t + eventEverySec * rng.uniform(0.5, 1.5);
  }
  // cut at totalSec: drop steps that would start after it, shorten the one that crosses it
  while (steps.length > 1 && t - steps[steps.length - 1]!.seconds >= totalSec) t -= (steps.pop() as SceneStep).seconds;
  const last = steps[steps.length - 1];
  if (last && t > totalSec) last.seconds -= t - totalSec;
  return steps;
}

/** Convenience: `frames` frames of a scene as one flat keypoint array plus per-frame labels. */
export function generateScene(options: {
  seed: number;
  fps?: number;
  steps: readonly SceneStep[];
  frames: number;
  dropRate?: number;
}): { keypoints: Float32Array; labels: (readonly string[])[] } {
  const sim = new PoseSimulator(options);
  sim.play(options.steps);
  const stride = KEYPOINT_COUNT * KEYPOINT_VALUES;
  const keypoints = new Float32Array(options.frames * stride);
  const labels: (readonly string[])[] = [];
  for (let f = 0; f < options.frames; f++) {
    const frame = sim.next();
    keypoints.set(frame.keypoints, f * stride);
    labels.push(frame.events);
  }
  return { keypoints, labels };
}
