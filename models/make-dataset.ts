/**
 * Training windows for the bundled models, from the synthetic pose generator through the 169-feature
 * pipeline. Writes OUT/{train,val,test}.x.f32 (windows x window x 169 float32), .y.u8
 * (windows x events, 0/1) and dataset.json. Splits come from disjoint scene seeds.
 *
 *   npx tsx models/make-dataset.ts [--window 16] [--stride 8] [--label-span 8] [--label-min 4]
 *                                  [--train 30000] [--val 5000] [--test 5000] [--out models/.work]
 *
 * The defaults write the window-16 set the bundled `behavior_lstm` is trained on. The label rule is
 * defined on the window's last frames whatever its length (an event is labelled when it is active in
 * at least label-min of the last label-span frames), so a longer window adds context, not a
 * different meaning of "the event is happening now".
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { computeFeatures, FEATURE_DIM, KEYPOINT_COUNT, KEYPOINT_VALUES } from '../src/features/pose-features.js';
import { generateScene, lifeScript, SYNTHETIC_EVENTS } from '../src/features/synthetic-pose.js';
import { Rng } from '../src/features/synthetic-pose/rng.js';

const FPS = 30;
const SCENE_SECONDS = 40;
const SCENE_FRAMES = SCENE_SECONDS * FPS;
const SPLIT_SEED_BASE = { train: 1_000_000, val: 2_000_000, test: 3_000_000 } as const;
type Split = keyof typeof SPLIT_SEED_BASE;

const { values: args } = parseArgs({
  options: {
    window: { type: 'string', default: '16' }, // frames per window
    stride: { type: 'string', default: '8' }, // frames between window starts within a scene
    'label-span': { type: 'string', default: '8' }, // the label looks at the window's last label-span frames ...
    'label-min': { type: 'string', default: '4' }, // ... and needs the event active in at least label-min of them
    train: { type: 'string', default: '30000' },
    val: { type: 'string', default: '5000' },
    test: { type: 'string', default: '5000' },
    out: { type: 'string', default: join('models', '.work') },
  },
});

function wholeNumber(name: keyof typeof args, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`--${name} must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`}`);
  }
  return value;
}

const WINDOW = wholeNumber('window', 1, SCENE_FRAMES);
const STRIDE = wholeNumber('stride', 1);
const LABEL_SPAN = wholeNumber('label-span', 1, WINDOW);
const LABEL_MIN = wholeNumber('label-min', 1, LABEL_SPAN);

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
      const frames = SCENE_FRAMES;
      const scene = generateScene({ seed, fps: FPS, steps, frames, dropRate: rng.uniform(0, 0.1) });
      scenes += 1;
      for (let start = 0; start + WINDOW <= frames && windows < target; start += STRIDE, windows++) {
        computeFeatures(scene.keypoints.subarray(start * stride, (start + WINDOW) * stride), WINDOW, features);
        const tail = scene.labels.slice(start + WINDOW - LABEL_SPAN, start + WINDOW);
        const label = Uint8Array.from(SYNTHETIC_EVENTS, (e) => (tail.filter((l) => l.includes(e)).length >= LABEL_MIN ? 1 : 0));
        SYNTHETIC_EVENTS.forEach((e, i) => (positives[e]! += label[i]!));
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
    const target = wholeNumber(split, 1);
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
