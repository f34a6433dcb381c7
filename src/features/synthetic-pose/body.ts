/**
 * A stick-figure person: a handful of joint angles (Pose) turned into MediaPipe's 33 points in
 * 3-D world coordinates (body heights; X to the image's right, Y up, Z towards the camera).
 */
import type { Rng } from './rng.js';

/** Segment lengths in body heights. */
export interface Body {
  hipHalf: number;
  shoulderHalf: number;
  torso: number;
  neck: number;
  upperArm: number;
  forearm: number;
  thigh: number;
  shin: number;
}

export const POSE_KEYS = [
  'x', 'z', 'yaw', 'tilt', 'lean', 'neck',
  'lFlex', 'lAbd', 'lElbow', 'rFlex', 'rAbd', 'rElbow',
  'lHip', 'lKnee', 'rHip', 'rKnee', 'spread',
] as const;

/**
 * x, z: where the person stands on the floor. yaw: facing (0 = towards the camera). tilt: the whole
 * body rolled in the image plane (±π/2 = lying). lean: torso pitched forward. Arms: flex raises
 * forward, abd raises sideways, elbow bends. Legs: hip raises the thigh forward, knee bends back.
 */
export type Pose = Record<(typeof POSE_KEYS)[number], number>;

export function randomBody(rng: Rng): Body {
  const j = (v: number): number => v * rng.uniform(0.93, 1.07);
  return {
    hipHalf: j(0.085), shoulderHalf: j(0.12), torso: j(0.3), neck: j(0.1),
    upperArm: j(0.17), forearm: j(0.15), thigh: j(0.245), shin: j(0.245),
  };
}

/** Standing still, arms hanging, at the given place and facing. */
export function standingPose(x: number, z: number, yaw: number): Pose {
  return {
    x, z, yaw, tilt: 0, lean: 0.03, neck: 0.05,
    lFlex: 0.05, lAbd: 0.12, lElbow: 0.2, rFlex: 0.05, rAbd: 0.12, rElbow: 0.2,
    lHip: 0, lKnee: 0.03, rHip: 0, rKnee: 0.03, spread: 0.04,
  };
}

export function lerpPose(a: Pose, b: Pose, s: number): Pose {
  const out = { ...a };
  for (const k of POSE_KEYS) out[k] = a[k] + (b[k] - a[k]) * s;
  return out;
}

type Vec = [number, number, number];
const add = (a: Vec, b: Vec, s = 1): Vec => [a[0] + b[0] * s, a[1] + b[1] * s, a[2] + b[2] * s];
const scale = (a: Vec, s: number): Vec => [a[0] * s, a[1] * s, a[2] * s];
const dot = (a: Vec, b: Vec): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: Vec, b: Vec): Vec => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
function unit(a: Vec, fallback: Vec): Vec {
  const n = Math.sqrt(dot(a, a));
  return n < 1e-9 ? fallback : scale(a, 1 / n);
}

const UP: Vec = [0, 1, 0];
const FRONT: Vec = [0, 0, 1];
const SIDE: Vec = [1, 0, 0]; // the person's left, in their own frame

/**
 * The 33 points (world) and, per point, the direction its surface faces (for occlusion), written
 * into points[k*3..] and normals[k*3..]. The lowest point rests on the floor (y = 0).
 */
export function placeBody(body: Body, pose: Pose, points: Float64Array, normals: Float64Array): void {
  const local: Vec[] = new Array<Vec>(33);
  const facing: Vec[] = new Array<Vec>(33);
  const u: Vec = [0, Math.cos(pose.lean), Math.sin(pose.lean)];
  const f: Vec = [0, -Math.sin(pose.lean), Math.cos(pose.lean)];
  const shoulderMid = scale(u, body.torso);

  // head: 0 nose, 1-3 left eye (inner, centre, outer), 4-6 right eye, 7/8 ears, 9/10 mouth
  const hp = pose.lean + pose.neck;
  const hu: Vec = [0, Math.cos(hp), Math.sin(hp)];
  const hf: Vec = [0, -Math.sin(hp), Math.cos(hp)];
  const head = add(shoulderMid, hu, body.neck + 0.03);
  const at = (side: number, up: number, fwd: number): Vec => add(add(add(head, SIDE, side), hu, up), hf, fwd);
  local[0] = at(0, 0, 0.06);
  [0.015, 0.027, 0.04].forEach((w, i) => {
    local[1 + i] = at(w, 0.025, 0.047);
    local[4 + i] = at(-w, 0.025, 0.047);
  });
  local[7] = at(0.06, 0.015, -0.01);
  local[8] = at(-0.06, 0.015, -0.01);
  local[9] = at(0.02, -0.03, 0.045);
  local[10] = at(-0.02, -0.03, 0.045);
  for (let k = 0; k <= 10; k++) facing[k] = hf;
  facing[7] = unit(add(SIDE, hf, 0.3), SIDE);
  facing[8] = unit(add(scale(SIDE, -1), hf, 0.3), SIDE);

  for (const [sign, flex, abd, elbow, first] of [
    [1, pose.lFlex, pose.lAbd, pose.lElbow, 11],
    [-1, pose.rFlex, pose.rAbd, pose.rElbow, 12],
  ] as const) {
    const side = scale(SIDE, sign);
    const normal = unit(add(scale(side, 0.8), f, 0.6), side);
    const shoulder = add(shoulderMid, side, body.shoulderHalf);
    const upper = unit(add(scale(side, Math.sin(abd)), add(scale(u, -Math.cos(flex)), f, Math.sin(flex)), Math.cos(abd)), scale(u, -1));
    const bendTowards = unit(add(f, upper, -dot(f, upper)), u);
    const fore = add(scale(upper, Math.cos(elbow)), bendTowards, Math.sin(elbow));
    const elbowPt = add(shoulder, upper, body.upperArm);
    const wrist = add(elbowPt, fore, body.forearm);
    const palm = unit(cross(fore, bendTowards), side);
    local[first] = shoulder;
    local[first + 2] = elbowPt;
    local[first + 4] = wrist;
    local[first + 6] = add(add(wrist, fore, 0.05), palm, 0.015 * sign); // pinky
    local[first + 8] = add(add(wrist, fore, 0.06), palm, -0.01 * sign); // index
    local[first + 10] = add(add(wrist, fore, 0.03), bendTowards, 0.02); // thumb
    for (let k = first; k <= first + 10; k += 2) facing[k] = normal;
  }

  // legs hang from an upright pelvis: dir(θ) points down, swung forward by θ
  const dir = (theta: number, sign: number): Vec =>
    unit([sign * Math.sin(pose.spread), -Math.cos(theta), Math.sin(theta)], [0, -1, 0]);
  for (const [sign, hip, knee, first] of [
    [1, pose.lHip, pose.lKnee, 23],
    [-1, pose.rHip, pose.rKnee, 24],
  ] as const) {
    const hipPt: Vec = [sign * body.hipHalf, 0, 0];
    const kneePt = add(hipPt, dir(hip, sign), body.thigh);
    const shinDir = dir(hip - knee, sign);
    const ankle = add(kneePt, shinDir, body.shin);
    const toes = dir(hip - knee + Math.PI / 2, 0);
    local[first] = hipPt;
    local[first + 2] = kneePt;
    local[first + 4] = ankle;
    local[first + 6] = add(add(ankle, shinDir, 0.035), toes, -0.025); // heel
    local[first + 8] = add(add(ankle, shinDir, 0.04), toes, 0.1); // foot index
    const normal = unit(add(scale(SIDE, sign * 0.8), FRONT, 0.6), SIDE);
    for (let k = first; k <= first + 8; k += 2) facing[k] = normal;
  }

  const cy = Math.cos(pose.yaw);
  const sy = Math.sin(pose.yaw);
  const ct = Math.cos(pose.tilt);
  const st = Math.sin(pose.tilt);
  const turn = (v: Vec): Vec => {
    const x = v[0] * cy + v[2] * sy;
    const z = -v[0] * sy + v[2] * cy;
    return [x * ct - v[1] * st, x * st + v[1] * ct, z];
  };
  let lowest = Infinity;
  for (let k = 0; k < 33; k++) {
    const p = turn(local[k]!);
    const n = turn(facing[k]!);
    points.set(p, k * 3);
    normals.set(n, k * 3);
    lowest = Math.min(lowest, p[1]);
  }
  for (let k = 0; k < 33; k++) {
    points[k * 3]! += pose.x;
    points[k * 3 + 1]! -= lowest;
    points[k * 3 + 2]! += pose.z;
  }
}
