import { readFileSync } from 'node:fs';
import t from 'tap';
import { computeFeatures, FEATURE_DIM, KEYPOINT_COUNT, KEYPOINT_VALUES } from '../src/features/pose-features.js';

interface FixtureCase {
  name: string;
  frames: number;
  keypoints: (number | null)[];
  features: number[];
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/pose-features.json', import.meta.url), 'utf8')) as {
  cases: FixtureCase[];
};

/** MediaPipe hands out float32; null in the fixture is a missing value. */
function keypointsOf(c: FixtureCase): Float32Array {
  return Float32Array.from(c.keypoints, (v) => (v === null ? Number.NaN : v));
}

t.test('matches the numpy pipeline on every fixture window (1e-5)', async (t) => {
  t.ok(fixture.cases.length >= 6, 'fixture has its windows');
  for (const c of fixture.cases) {
    const got = computeFeatures(keypointsOf(c), c.frames);
    t.equal(got.length, c.frames * FEATURE_DIM, `${c.name}: frames x 169`);
    let worst = 0;
    let at = -1;
    for (let i = 0; i < got.length; i++) {
      const diff = Math.abs(got[i]! - c.features[i]!);
      if (!(diff <= worst)) {
        worst = diff;
        at = i;
      }
    }
    const where = at < 0 ? '' : ` (frame ${Math.floor(at / FEATURE_DIM)}, feature ${at % FEATURE_DIM})`;
    t.ok(worst <= 1e-5, `${c.name}: max |ts - numpy| = ${worst}${where}`);
  }
});

t.test('the fixture exercises gaps, clipping and empty windows', async (t) => {
  const names = fixture.cases.map((c) => c.name).join(' | ');
  const nullFrames = fixture.cases.flatMap((c) => {
    const stride = KEYPOINT_COUNT * KEYPOINT_VALUES;
    return Array.from({ length: c.frames }, (_, f) => c.keypoints.slice(f * stride, (f + 1) * stride).every((v) => v === null));
  });
  t.ok(nullFrames.filter(Boolean).length > 10, `whole missing frames present (${names})`);
  t.ok(fixture.cases.some((c) => c.features.some((v) => Math.abs(v) === 10)), 'some features hit the clip');
  t.ok(fixture.cases.some((c) => c.features.every((v) => v === 0)), 'a window with nothing detected gives zeros');
});

t.test('writes into a given buffer and leaves no NaN', async (t) => {
  const c = fixture.cases[1]!;
  const out = new Float32Array(c.frames * FEATURE_DIM + 5).fill(7);
  const returned = computeFeatures(keypointsOf(c), c.frames, out);
  t.equal(returned, out, 'returns the buffer it was given');
  t.ok(out.subarray(0, c.frames * FEATURE_DIM).every((v) => Number.isFinite(v) && v >= -10 && v <= 10), 'finite and clipped');
  t.same(Array.from(out.subarray(c.frames * FEATURE_DIM)), [7, 7, 7, 7, 7], 'nothing written past frames*169');
});

t.test('positions, velocities and angles do not depend on where the person stands or how big they look', async (t) => {
  const c = fixture.cases[0]!;
  const base = keypointsOf(c);
  const moved = Float64Array.from(base, (v, i) => {
    const coord = i % KEYPOINT_VALUES;
    return coord === 0 ? 0.5 * v + 0.3 : coord === 1 ? 0.5 * v - 0.1 : v;
  });
  const a = computeFeatures(base, c.frames);
  const b = computeFeatures(moved, c.frames);
  let worst = 0;
  for (let f = 0; f < c.frames; f++) {
    for (let i = 0; i < 136; i++) worst = Math.max(worst, Math.abs(a[f * FEATURE_DIM + i]! - b[f * FEATURE_DIM + i]!));
  }
  t.ok(worst < 1e-4, `shift and scale change the first 136 features by ${worst}`);
});

t.test('refuses too few keypoints and a bad frame count', async (t) => {
  t.throws(() => computeFeatures(new Float32Array(KEYPOINT_COUNT * KEYPOINT_VALUES), 2), /expected 264 keypoint values/);
  t.throws(() => computeFeatures(new Float32Array(0), -1), /frames must be/);
  t.throws(() => computeFeatures(new Float32Array(132), 1, new Float32Array(10)), /out holds 10/);
});
