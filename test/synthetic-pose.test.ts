import t from 'tap';
import { computeFeatures, FEATURE_DIM, KEYPOINT_COUNT, KEYPOINT_VALUES } from '../src/features/pose-features.js';
import {
  generateScene,
  lifeScript,
  PoseSimulator,
  SYNTHETIC_EVENTS,
  type Activity,
  type SceneStep,
} from '../src/features/synthetic-pose.js';
import { POSTURE } from '../src/features/synthetic-pose/motions.js';

const STRIDE = KEYPOINT_COUNT * KEYPOINT_VALUES;
const FALL_SCENE: SceneStep[] = [
  { activity: 'stand', seconds: 2 },
  { activity: 'fall', seconds: 1 },
  { activity: 'lying_still', seconds: 3 },
];

const frameOf = (kp: Float32Array, f: number): Float32Array => kp.subarray(f * STRIDE, (f + 1) * STRIDE);
const point = (frame: Float32Array, k: number): { x: number; y: number; vis: number } => ({
  x: frame[k * 4]!,
  y: frame[k * 4 + 1]!,
  vis: frame[k * 4 + 3]!,
});
const mid = (frame: Float32Array, a: number, b: number): { x: number; y: number } => ({
  x: (point(frame, a).x + point(frame, b).x) / 2,
  y: (point(frame, a).y + point(frame, b).y) / 2,
});

t.test('the same seed gives the same scene; another seed another', async (t) => {
  const a = generateScene({ seed: 5, steps: FALL_SCENE, frames: 180 });
  const b = generateScene({ seed: 5, steps: FALL_SCENE, frames: 180 });
  const c = generateScene({ seed: 6, steps: FALL_SCENE, frames: 180 });
  t.equal(a.keypoints.length, 180 * STRIDE);
  t.same(Array.from(a.keypoints), Array.from(b.keypoints), 'keypoints identical');
  t.same(a.labels, b.labels, 'labels identical');
  t.not(Array.from(a.keypoints).join(), Array.from(c.keypoints).join(), 'a different seed differs');
});

t.test('labels follow the script frame by frame', async (t) => {
  const { labels } = generateScene({ seed: 11, steps: FALL_SCENE, frames: 180, dropRate: 0 });
  t.ok(labels.slice(0, 60).every((l) => l.length === 0), 'standing: no event');
  t.ok(labels.slice(60, 90).every((l) => l.length === 1 && l[0] === 'fall'), 'then 30 frames of fall');
  t.ok(labels.slice(90, 180).every((l) => l.length === 1 && l[0] === 'lying_still'), 'then lying still');
  t.same(SYNTHETIC_EVENTS, ['fall', 'lying_still', 'flailing']);
});

t.test('frames look like MediaPipe output', async (t) => {
  const { keypoints } = generateScene({ seed: 3, steps: lifeScript(3, 60, 15), frames: 1800, dropRate: 0 });
  let inside = 0;
  let total = 0;
  let bad = 0;
  for (let f = 0; f < 1800; f++) {
    const frame = frameOf(keypoints, f);
    for (let k = 0; k < KEYPOINT_COUNT; k++) {
      const p = point(frame, k);
      if (!Number.isFinite(p.x) || !Number.isFinite(p.y) || !(p.vis >= 0 && p.vis <= 1)) bad++;
      total++;
      if (p.x >= 0 && p.x <= 1 && p.y >= 0 && p.y <= 1) inside++;
    }
  }
  t.equal(bad, 0, 'coordinates finite, visibility in [0, 1]');
  t.ok(inside / total > 0.95, `${((100 * inside) / total).toFixed(1)}% of points inside the image`);
  const standing = frameOf(keypoints, 10);
  t.ok(point(standing, 0).y < mid(standing, 11, 12).y && mid(standing, 11, 12).y < mid(standing, 23, 24).y, 'nose above shoulders above hips (y down)');
  t.ok(mid(standing, 27, 28).y > mid(standing, 25, 26).y, 'ankles below knees');
});

t.test('missing detections are whole frames, at about the asked rate', async (t) => {
  const { keypoints } = generateScene({ seed: 8, steps: [], frames: 4000, dropRate: 0.2 });
  let dropped = 0;
  let partial = 0;
  for (let f = 0; f < 4000; f++) {
    const nan = frameOf(keypoints, f).filter((v) => Number.isNaN(v)).length;
    if (nan === STRIDE) dropped++;
    else if (nan > 0) partial++;
  }
  t.equal(partial, 0, 'a frame is either all there or all missing');
  t.ok(dropped / 4000 > 0.13 && dropped / 4000 < 0.27, `dropped share ${dropped / 4000}`);
  const clean = generateScene({ seed: 8, steps: [], frames: 600, dropRate: 0 });
  t.notOk(clean.keypoints.some((v) => Number.isNaN(v)), 'dropRate 0: nothing missing');
});

t.test('a fall brings the body down and horizontal; lying still barely moves', async (t) => {
  const { keypoints } = generateScene({ seed: 21, steps: FALL_SCENE, frames: 180, dropRate: 0 });
  const torso = (f: number): { dx: number; dy: number; hipY: number } => {
    const frame = frameOf(keypoints, f);
    const s = mid(frame, 11, 12);
    const h = mid(frame, 23, 24);
    return { dx: Math.abs(s.x - h.x), dy: Math.abs(s.y - h.y), hipY: h.y };
  };
  const before = torso(50);
  const after = torso(150);
  t.ok(before.dy > 2 * before.dx, 'upright before');
  t.ok(after.dx > after.dy, 'horizontal after');
  t.ok(after.hipY > before.hipY, 'hips lower in the image after');
  const speed = (from: number, to: number): number => {
    const feats = computeFeatures(keypoints.subarray(from * STRIDE, to * STRIDE), to - from);
    let sum = 0;
    for (let f = 1; f < to - from; f++) for (let i = 66; i < 132; i++) sum += Math.abs(feats[f * FEATURE_DIM + i]!);
    return sum / (to - from - 1);
  };
  t.ok(speed(62, 88) > 3 * speed(120, 170), `fall moves more than lying still (${speed(62, 88)} vs ${speed(120, 170)})`);
});

t.test('flailing moves the arms far more than standing or waving', async (t) => {
  const steps: SceneStep[] = [
    { activity: 'stand', seconds: 3 },
    { activity: 'flailing', seconds: 3 },
    { activity: 'wave', seconds: 3 },
  ];
  const { keypoints } = generateScene({ seed: 4, steps, frames: 270, dropRate: 0 });
  const wristSpeed = (from: number, to: number): number => {
    const feats = computeFeatures(keypoints.subarray(from * STRIDE, to * STRIDE), to - from);
    let sum = 0;
    for (let f = 1; f < to - from; f++) for (const i of [66 + 30, 66 + 31, 66 + 32, 66 + 33]) sum += Math.abs(feats[f * FEATURE_DIM + i]!);
    return sum / (to - from - 1);
  };
  const stand = wristSpeed(10, 80);
  const flail = wristSpeed(100, 170);
  const wave = wristSpeed(200, 260);
  t.ok(flail > 3 * stand && flail > 2 * wave, `wrist speed: stand ${stand}, flailing ${flail}, wave ${wave}`);
});

t.test('steps that need another posture get the transition first', async (t) => {
  const sim = new PoseSimulator({ seed: 2, dropRate: 0 });
  sim.play([{ activity: 'lying_still', seconds: 1 }]);
  const seen: Activity[] = [];
  for (let f = 0; f < 300; f++) {
    const { activity } = sim.next();
    if (seen[seen.length - 1] !== activity) seen.push(activity);
  }
  t.same(seen.slice(0, 3), ['fall', 'lying_still', 'get_up'], `activities: ${seen.join(' → ')}`);
  t.throws(() => sim.play([{ activity: 'walk', seconds: 0 }]), /seconds must be > 0/);
});

t.test('fps sets how many frames a step lasts', async (t) => {
  const { labels } = generateScene({ seed: 1, fps: 15, steps: [{ activity: 'flailing', seconds: 2 }], frames: 40 });
  t.equal(labels.filter((l) => l.includes('flailing')).length, 30);
});

t.test('life scripts: deterministic, about the asked length, events at about the asked spacing', async (t) => {
  const script = lifeScript(9, 600, 30);
  t.same(script, lifeScript(9, 600, 30), 'deterministic');
  const total = script.reduce((s, step) => s + step.seconds, 0);
  t.ok(Math.abs(total - 600) < 1, `total ${total}s`);
  const events = script.filter((s) => s.activity === 'fall' || s.activity === 'flailing').length;
  t.ok(events >= 10 && events <= 30, `${events} events in 600 s`);
  const breaks = script.filter((step, i) => i > 0 && POSTURE[step.activity].from !== POSTURE[script[i - 1]!.activity].to);
  t.same(breaks, [], 'every step starts in the posture the previous one ended in');
});
