/**
 * What a person does, one activity at a time: each motion starts from the pose the previous one
 * ended in and yields a pose per time step.
 */
import { lerpPose, standingPose, type Pose } from './body.js';
import type { Stage } from './camera.js';
import type { Rng } from './rng.js';

export type Activity =
  | 'stand' | 'walk' | 'wave' | 'sit_down' | 'sit' | 'stand_up' | 'get_up'
  | 'fall' | 'lying_still' | 'flailing';

export type Posture = 'standing' | 'sitting' | 'lying';

/** The posture an activity must start from, and the one it leaves the person in. */
export const POSTURE: Record<Activity, { from: Posture; to: Posture }> = {
  stand: { from: 'standing', to: 'standing' },
  walk: { from: 'standing', to: 'standing' },
  wave: { from: 'standing', to: 'standing' },
  flailing: { from: 'standing', to: 'standing' },
  sit_down: { from: 'standing', to: 'sitting' },
  sit: { from: 'sitting', to: 'sitting' },
  stand_up: { from: 'sitting', to: 'standing' },
  fall: { from: 'standing', to: 'lying' },
  lying_still: { from: 'lying', to: 'lying' },
  get_up: { from: 'lying', to: 'standing' },
};

/** Advance by dt seconds (t = seconds since the motion began, after this step) and return the pose. */
export type Motion = (t: number, dt: number) => Pose;

export interface MotionContext {
  rng: Rng;
  stage: Stage;
}

const smooth = (s: number): number => (s <= 0 ? 0 : s >= 1 ? 1 : s * s * (3 - 2 * s));
/** 0 → 1 over `ramp` seconds at the start and 1 → 0 over the last `ramp` seconds. */
const envelope = (t: number, total: number, ramp: number): number =>
  Math.min(smooth(t / ramp), smooth((total - t) / ramp));
const wave = (t: number, hz: number, phase: number): number => Math.sin(2 * Math.PI * hz * t + phase);
const wrapAngle = (a: number): number => Math.atan2(Math.sin(a), Math.cos(a));

/** Keyframes at fractions of `duration`, smooth between them; the last pose is held. */
function keyframes(frames: readonly [number, Pose][], duration: number): Motion {
  return (t) => {
    const s = t / duration;
    for (let i = 1; i < frames.length; i++) {
      const [s1, p1] = frames[i]!;
      if (s <= s1) {
        const [s0, p0] = frames[i - 1]!;
        return lerpPose(p0, p1, smooth((s - s0) / (s1 - s0)));
      }
    }
    return frames[frames.length - 1]![1];
  };
}

/** Slow random wandering of a few joints (Ornstein-Uhlenbeck), added to a motion for liveliness. */
function fidget(rng: Rng, keys: readonly (keyof Pose)[], sd: number, tau: number): (pose: Pose, dt: number) => Pose {
  const state = keys.map(() => rng.normal(0, sd));
  return (pose, dt) => {
    const out = { ...pose };
    keys.forEach((k, i) => {
      state[i]! += (-state[i]! / tau) * dt + sd * Math.sqrt((2 * dt) / tau) * rng.normal();
      out[k] += state[i]!;
    });
    return out;
  };
}

const ARM_KEYS = ['lFlex', 'lAbd', 'lElbow', 'rFlex', 'rAbd', 'rElbow'] as const;

/** `first` for `duration` seconds, then `next` (with its own clock). */
function then(first: Motion, duration: number, next: Motion): Motion {
  return (t, dt) => (t <= duration ? first(t, dt) : next(t - duration, dt));
}

function idleSeated(start: Pose, rng: Rng): Motion {
  const settle = keyframes([[0, start], [1, seatedPose(start, rng)]], 0.6);
  const live = fidget(rng, [...ARM_KEYS, 'lean', 'neck', 'yaw'], 0.05, 1.5);
  return (t, dt) => live(settle(t, dt), dt);
}

function idleStanding(start: Pose, rng: Rng): Motion {
  const target = standingPose(start.x, start.z, start.yaw);
  const settle = keyframes([[0, start], [1, target]], 0.5);
  const live = fidget(rng, [...ARM_KEYS, 'lean', 'neck', 'yaw', 'lKnee', 'rKnee'], 0.06, 1.2);
  return (t, dt) => live(settle(t, dt), dt);
}

function seatedPose(start: Pose, rng: Rng): Pose {
  return {
    ...start, tilt: 0, lean: rng.uniform(0.05, 0.25), neck: 0.1,
    lFlex: 0.5, lAbd: 0.1, lElbow: 0.9, rFlex: 0.5, rAbd: 0.1, rElbow: 0.9,
    lHip: 1.5, lKnee: rng.uniform(1.3, 1.7), rHip: 1.5, rKnee: rng.uniform(1.3, 1.7), spread: 0.1,
  };
}

function walk(start: Pose, seconds: number, { rng, stage }: MotionContext): Motion {
  const cadence = rng.uniform(0.85, 1.1); // strides per second
  const speed = cadence * rng.uniform(0.6, 0.8);
  const swing = rng.uniform(0.3, 0.45);
  let pose = standingPose(start.x, start.z, start.yaw);
  let phase = 0;
  /** Facing towards a random spot on the stage. */
  const newHeading = (): number => {
    const tx = rng.uniform(stage.xMin, stage.xMax);
    const tz = rng.uniform(stage.zMin, stage.zMax);
    return Math.atan2(tx - pose.x, tz - pose.z);
  };
  let heading = newHeading();
  const settle = keyframes([[0, start], [1, pose]], 0.4);
  return (t, dt) => {
    const amp = envelope(t, seconds, 0.4);
    // turn towards the heading at up to 3 rad/s; at the stage's edge, pick another spot
    pose.yaw += Math.max(-3 * dt, Math.min(3 * dt, wrapAngle(heading - pose.yaw)));
    const nx = pose.x + Math.sin(pose.yaw) * speed * amp * dt;
    const nz = pose.z + Math.cos(pose.yaw) * speed * amp * dt;
    if (nx < stage.xMin || nx > stage.xMax || nz < stage.zMin || nz > stage.zMax) heading = newHeading();
    else {
      pose.x = nx;
      pose.z = nz;
    }
    phase += 2 * Math.PI * cadence * dt;
    const s = Math.sin(phase);
    const c = Math.cos(phase);
    pose = {
      ...pose,
      lHip: swing * amp * s, rHip: -swing * amp * s,
      lKnee: 0.05 + 0.6 * amp * Math.max(0, c), rKnee: 0.05 + 0.6 * amp * Math.max(0, -c),
      lFlex: -0.3 * amp * s, rFlex: 0.3 * amp * s, lElbow: 0.25 + 0.1 * amp * Math.max(0, -s), rElbow: 0.25 + 0.1 * amp * Math.max(0, s),
      lean: 0.06 * amp, tilt: 0.02 * amp * Math.sin(2 * phase),
    };
    return t < 0.4 ? lerpPose(settle(t, dt), pose, smooth(t / 0.4)) : pose;
  };
}

function waveArm(start: Pose, seconds: number, rng: Rng): Motion {
  const base = idleStanding(start, rng);
  const left = rng.chance(0.5);
  const hz = rng.uniform(1.5, 2.5);
  const up = rng.uniform(2.2, 2.8);
  const abd = rng.uniform(0.2, 0.6);
  return (t, dt) => {
    const pose = base(t, dt);
    const a = envelope(t, seconds, 0.5);
    const elbow = 0.6 + 0.35 * wave(t, hz, 0);
    if (left) Object.assign(pose, { lFlex: pose.lFlex + a * (up - pose.lFlex), lAbd: pose.lAbd + a * (abd - pose.lAbd), lElbow: pose.lElbow + a * (elbow - pose.lElbow) });
    else Object.assign(pose, { rFlex: pose.rFlex + a * (up - pose.rFlex), rAbd: pose.rAbd + a * (abd - pose.rAbd), rElbow: pose.rElbow + a * (elbow - pose.rElbow) });
    return pose;
  };
}

/** Large, fast, irregular arm movements while standing: the violent-flailing event. */
function flail(start: Pose, seconds: number, rng: Rng): Motion {
  const base = idleStanding(start, rng);
  const strength = rng.uniform(0.7, 1.2);
  const osc = Array.from({ length: 10 }, () => ({ hz: rng.uniform(2, 4.2), phase: rng.uniform(0, 2 * Math.PI) }));
  const o = (i: number, t: number): number => wave(t, osc[i]!.hz, osc[i]!.phase);
  return (t, dt) => {
    const pose = base(t, dt);
    const a = envelope(t, seconds, 0.25) * strength;
    return {
      ...pose,
      lFlex: pose.lFlex + a * (1.2 + 1.1 * o(0, t)), lAbd: pose.lAbd + a * (0.6 + 0.7 * o(1, t)), lElbow: pose.lElbow + a * (0.5 + 0.6 * o(2, t)),
      rFlex: pose.rFlex + a * (1.2 + 1.1 * o(3, t)), rAbd: pose.rAbd + a * (0.6 + 0.7 * o(4, t)), rElbow: pose.rElbow + a * (0.5 + 0.6 * o(5, t)),
      lean: pose.lean + a * 0.15 * o(6, t), yaw: pose.yaw + a * 0.35 * o(7, t), tilt: pose.tilt + a * 0.08 * o(8, t),
      lHip: pose.lHip + a * 0.15 * Math.max(0, o(9, t)), rHip: pose.rHip + a * 0.15 * Math.max(0, -o(9, t)),
    };
  };
}

/** Losing balance: the body goes horizontal, accelerating until it hits the floor. */
function fall(start: Pose, seconds: number, rng: Rng): Motion {
  // the step is the fall itself plus the moment of impact: the motion fills most of it
  const duration = Math.min(Math.max(seconds * rng.uniform(0.75, 0.95), 0.4), 1.4);
  const collapse = rng.chance(0.4); // knees give way first, then the body tips over
  const end: Pose = {
    ...start, tilt: rng.sign() * rng.uniform(1.35, 1.65), yaw: start.yaw + rng.uniform(-0.5, 0.5),
    lean: rng.uniform(-0.2, 0.3), neck: rng.uniform(-0.2, 0.3),
    lFlex: rng.uniform(0.3, 2.2), lAbd: rng.uniform(0.2, 1.4), lElbow: rng.uniform(0.1, 1.2),
    rFlex: rng.uniform(0.3, 2.2), rAbd: rng.uniform(0.2, 1.4), rElbow: rng.uniform(0.1, 1.2),
    lHip: rng.uniform(0, 0.6), lKnee: rng.uniform(0, 0.8), rHip: rng.uniform(0, 0.6), rKnee: rng.uniform(0, 0.8), spread: rng.uniform(0, 0.3),
  };
  const crouch: Pose = { ...start, lHip: 1.2, lKnee: 1.7, rHip: 1.1, rKnee: 1.6, lean: 0.5 };
  return (t) => {
    const s = Math.min(t / duration, 1);
    if (collapse) {
      if (s < 0.45) return lerpPose(start, crouch, smooth(s / 0.45));
      const q = (s - 0.45) / 0.55;
      return { ...lerpPose(crouch, end, smooth(q)), tilt: end.tilt * q * q };
    }
    const limbs = lerpPose(start, end, smooth(s));
    const buckle = Math.sin(Math.PI * s);
    return { ...limbs, tilt: end.tilt * s * s, lKnee: limbs.lKnee + 0.4 * buckle, rKnee: limbs.rKnee + 0.3 * buckle };
  };
}

function lyingStill(start: Pose, rng: Rng): Motion {
  const breath = rng.uniform(0.2, 0.35);
  return (t) => ({ ...start, lean: start.lean + 0.01 * wave(t, breath, 0) });
}

function getUp(start: Pose, seconds: number, rng: Rng): Motion {
  const duration = Math.min(seconds, rng.uniform(2, 3.5));
  const standing = standingPose(start.x, start.z, start.yaw);
  const propped: Pose = { ...start, tilt: start.tilt * 0.55, lHip: 1.3, lKnee: 2.0, rHip: 1.2, rKnee: 1.9, lean: 0.6, lFlex: 0.9, rFlex: 0.9, lElbow: 0.3, rElbow: 0.3 };
  const kneeling: Pose = { ...propped, tilt: 0, lHip: 1.5, lKnee: 2.2, rHip: 1.4, rKnee: 2.1, lean: 0.8 };
  const motion = keyframes([[0, start], [0.35, propped], [0.65, kneeling], [1, standing]], duration);
  return then(motion, duration, idleStanding(standing, rng));
}

/** A motion for `activity`, starting from `start` (which must be in the activity's starting posture). */
export function startMotion(activity: Activity, start: Pose, seconds: number, ctx: MotionContext): Motion {
  const { rng } = ctx;
  switch (activity) {
    case 'stand':
      return idleStanding(start, rng);
    case 'walk':
      return walk(start, seconds, ctx);
    case 'wave':
      return waveArm(start, seconds, rng);
    case 'flailing':
      return flail(start, seconds, rng);
    case 'sit_down': {
      const duration = Math.min(seconds, rng.uniform(1.2, 2));
      const mid: Pose = { ...start, lHip: 0.9, lKnee: 1.1, rHip: 0.9, rKnee: 1.1, lean: 0.5, lFlex: 0.4, rFlex: 0.4 };
      const seated = seatedPose(start, rng);
      return then(keyframes([[0, start], [0.5, mid], [1, seated]], duration), duration, idleSeated(seated, rng));
    }
    case 'sit':
      return idleSeated(start, rng);
    case 'stand_up': {
      const duration = Math.min(seconds, rng.uniform(1, 1.8));
      const mid: Pose = { ...start, lHip: 1.0, lKnee: 1.1, rHip: 1.0, rKnee: 1.1, lean: 0.6 };
      const standing = standingPose(start.x, start.z, start.yaw);
      return then(keyframes([[0, start], [0.45, mid], [1, standing]], duration), duration, idleStanding(standing, rng));
    }
    case 'fall':
      return fall(start, seconds, rng);
    case 'lying_still':
      return lyingStill(start, rng);
    case 'get_up':
      return getUp(start, seconds, rng);
  }
}
