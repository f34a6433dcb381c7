/**
 * A fixed camera looking at the scene, and the pose tracker's imperfections: MediaPipe-style
 * normalised coordinates (x, y in [0, 1] of the image, y down; z relative depth, hips at 0),
 * visibility, correlated jitter, the odd glitch, and whole frames with no detection.
 */
import type { Rng } from './rng.js';

/** Where on the floor the person may walk (body heights), chosen so they stay mostly in frame. */
export interface Stage {
  xMin: number;
  xMax: number;
  zMin: number;
  zMax: number;
}

/** Per-keypoint reliability: face and torso track best, hands and feet worst. */
const BASE_VISIBILITY = Float64Array.from({ length: 33 }, (_, k) =>
  k <= 12 ? 0.99 : k <= 16 ? 0.96 : k <= 22 ? 0.9 : k <= 24 ? 0.98 : k <= 28 ? 0.94 : 0.88,
);

export class Camera {
  /** Image width / height folded into x: MediaPipe normalises x by width and y by height. */
  private readonly aspect: number;
  private readonly focal: number;
  private readonly distance: number;
  private readonly height: number;
  private readonly cx: number;
  private readonly cy: number;
  private readonly roll: number;
  readonly stage: Stage;

  constructor(rng: Rng) {
    this.aspect = rng.pick([9 / 16, 3 / 4, 1]);
    this.distance = rng.uniform(3.5, 7);
    const screenHeight = rng.uniform(0.3, 0.7); // of a standing person at the stage centre
    this.focal = screenHeight * this.distance;
    this.height = rng.uniform(0.5, 1.5);
    const floorY = rng.uniform(0.75, 0.95);
    this.cy = floorY - (screenHeight * this.height);
    this.cx = rng.uniform(0.4, 0.6);
    this.roll = rng.normal(0, 0.03);
    const halfWidth = 0.33 / (this.aspect * screenHeight);
    this.stage = {
      xMin: (0.5 - this.cx) / (this.aspect * screenHeight) - halfWidth,
      xMax: (0.5 - this.cx) / (this.aspect * screenHeight) + halfWidth,
      zMin: -1.5,
      zMax: Math.min(0.8, this.distance - 2.5),
    };
  }

  /** World point → image x, y and the depth term MediaPipe reports as z (before centring on the hips). */
  project(wx: number, wy: number, wz: number, out: Float64Array, at: number): void {
    const c = Math.cos(this.roll);
    const s = Math.sin(this.roll);
    const yUp = wy - this.height;
    const x = wx * c - yUp * s;
    const y = wx * s + yUp * c;
    const k = this.focal / (this.distance - wz);
    out[at] = this.cx + this.aspect * k * x;
    out[at + 1] = this.cy - k * y;
    out[at + 2] = -this.aspect * k * wz;
  }
}

export interface TrackerOptions {
  dropRate: number;
}

/** The tracker's state across frames: correlated jitter and runs of dropped detections. */
export class Tracker {
  private readonly jitter: number;
  private readonly drift = new Float64Array(33 * 3);
  private readonly dropStart: number;
  private dropping = false;
  private readonly image = new Float64Array(33 * 3);

  constructor(
    private readonly rng: Rng,
    private readonly camera: Camera,
    options: TrackerOptions,
  ) {
    this.jitter = rng.uniform(0.002, 0.008);
    // dropped runs continue with probability 1/2; this start rate makes `dropRate` the long-run share
    const r = Math.min(Math.max(options.dropRate, 0), 0.9);
    this.dropStart = (0.5 * r) / (1 - r);
  }

  /** World points and normals → 33*4 keypoints (x, y, z, visibility), or all NaN for a dropped frame. */
  observe(points: Float64Array, normals: Float64Array, out: Float32Array): void {
    this.dropping = this.rng.chance(this.dropping ? 0.5 : this.dropStart);
    if (this.dropping) {
      out.fill(Number.NaN);
      return;
    }
    const img = this.image;
    for (let k = 0; k < 33; k++) this.camera.project(points[k * 3]!, points[k * 3 + 1]!, points[k * 3 + 2]!, img, k * 3);
    const hipZ = (img[23 * 3 + 2]! + img[24 * 3 + 2]!) / 2;
    const size = Math.abs(img[0 * 3 + 1]! - (img[29 * 3 + 1]! + img[30 * 3 + 1]!) / 2) + 0.05;
    const glitch = this.rng.chance(0.01) ? this.rng.int(13, 32) : -1;
    for (let k = 0; k < 33; k++) {
      const facing = normals[k * 3 + 2]!; // towards the camera: +z
      let vis = BASE_VISIBILITY[k]! * (0.35 + 0.65 / (1 + Math.exp(-5 * (facing + 0.2))));
      const x = img[k * 3]!;
      const y = img[k * 3 + 1]!;
      if (x < 0 || x > 1 || y < 0 || y > 1) vis *= 0.15;
      vis = Math.min(1, Math.max(0, vis + this.rng.normal(0, 0.03)));
      // hard-to-see points wobble more
      const sd = this.jitter * size * (1 + 2 * (1 - vis));
      for (let c = 0; c < 3; c++) {
        const i = k * 3 + c;
        this.drift[i] = 0.6 * this.drift[i]! + 0.8 * this.rng.normal(0, sd);
      }
      const jump = k === glitch ? this.rng.normal(0, 0.08 * size) : 0;
      out[k * 4] = x + this.drift[k * 3]! + jump;
      out[k * 4 + 1] = y + this.drift[k * 3 + 1]! + jump;
      out[k * 4 + 2] = img[k * 3 + 2]! - hipZ + this.drift[k * 3 + 2]!;
      out[k * 4 + 3] = vis;
    }
  }
}
