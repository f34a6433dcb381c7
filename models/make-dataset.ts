/**
 * Training windows for the bundled model, from the synthetic pose generator through the 169-feature
 * pipeline. Writes models/.work/{train,val,test}.x.f32 (windows x 16 x 169 float32), .y.u8
 * (windows x events, 0/1) and dataset.json. Splits come from disjoint scene seeds.
 *
 *   npx tsx models/make-dataset.ts [--train 30000] [--val 5000] [--test 5000] [--out models/.work]
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { computeFeatures, FEATURE_DIM, KEYPOINT_COUNT, KEYPOINT_VALUES } from '../src/features/pose-features.js';
import { generateScene, lifeScript, SYNTHETIC_EVENTS } from '../src/features/synthetic-pose.js';
import { Rng } from '../src/features/synthetic-pose/rng.js';

const WINDOW = 16;
const FPS = 30;
const SCENE_SECONDS = 40;
const STRIDE = 8; // frames between window starts within a scene
/** A window is labelled with an event when the event is active in at least LABEL_MIN of its last LABEL_SPAN frames. */
const LABEL_SPAN = 8;
const LABEL_MIN = 4;
const SPLIT_SEED_BASE = { train: 1_000_000, val: 2_000_000, test: 3_000_000 } as const;
type Split = keyof typeof SPLIT_SEED_BASE;

const { values: args } = parseArgs({
  options: {
    train: { type: 'string', default: '30000' },
    val: { type: 'string', default: '5000' },
    test: { type: 'string', default: '5000' },
    out: { type: 'string', default: join('models', '.work') },
  },
});

interface SplitSummary {
  windows: number;
  scenes: number;
  positives: Record<string, number>;
}

function writeSplit(split: Split, target: number, outDir: string): SplitSummary {
  const xFile = openSync(join(outDir, `${split}.x.f32`), 'w');
  const yFile = openSync(join(outDir, `${split}.y.u8`), 'w');
  const stride = KEYPOINT_COUNT * KEYPOINT_VALUES;
  const features = new Float32Array(WINDOW * FEATURE_DIM);
  const positives = Object.fromEntries(SYNTHETIC_EVENTS.map((e) => [e, 0]));
  let windows = 0;
  let scenes = 0;
  try {
    while (windows < target) {
      const seed = SPLIT_SEED_BASE[split] + scenes;
      const rng = new Rng(seed);
      const steps = lifeScript(seed, SCENE_SECONDS, rng.uniform(6, 10));
      const frames = SCENE_SECONDS * FPS;
      const scene = generateScene({ seed, fps: FPS, steps, frames, dropRate: rng.uniform(0, 0.1) });
      scenes += 1;
      for (let start = 0; start + WINDOW <= frames && windows < target; start += STRIDE, windows++) {
        computeFeatures(scene.keypoints.subarray(start * stride, (start + WINDOW) * stride), WINDOW, features);
        const tail = scene.labels.slice(start + WINDOW - LABEL_SPAN, start + WINDOW);
        const label = Uint8Array.from(SYNTHETIC_EVENTS, (e) => (tail.filter((l) => l.includes(e)).length >= LABEL_MIN ? 1 : 0));
        SYNTHETIC_EVENTS.forEach((e, i) => (positives[e] += label[i]));
        writeSync(xFile, new Uint8Array(features.buffer, features.byteOffset, features.byteLength));
        writeSync(yFile, label);
      }
    }
  } finally {
    closeSync(xFile);
    closeSync(yFile);
  }
  return { windows, scenes, positives };
}

function main(): void {
  const outDir = args.out;
  mkdirSync(outDir, { recursive: true });
  const splits: Record<string, SplitSummary> = {};
  for (const split of ['train', 'val', 'test'] as const) {
    const target = Number(args[split]);
    if (!Number.isInteger(target) || target < 1) throw new Error(`--${split} must be a whole number >= 1`);
    splits[split] = writeSplit(split, target, outDir);
    const { windows, scenes, positives } = splits[split];
    console.log(`${split}: ${windows} windows from ${scenes} scenes; positives ${JSON.stringify(positives)}`);
  }
  const meta = {
    events: SYNTHETIC_EVENTS,
    window: WINDOW,
    feature_dim: FEATURE_DIM,
    fps: FPS,
    scene_seconds: SCENE_SECONDS,
    stride: STRIDE,
    label_rule: `event active in >= ${LABEL_MIN} of the window's last ${LABEL_SPAN} frames`,
    split_seed_base: SPLIT_SEED_BASE,
    splits,
  };
  writeFileSync(join(outDir, 'dataset.json'), `${JSON.stringify(meta, null, 2)}\n`);
}

main();
