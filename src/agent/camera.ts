/**
 * One simulated camera: a seeded person living a scripted life in front of it, captured at a
 * steady frame rate. Frame times are anchored on the start, so timer jitter never accumulates;
 * when the agent falls behind, the camera catches up by at most a couple of frames and skips the
 * rest, as a real camera driver would, instead of bursting a backlog at the server.
 */
import type { Activity } from '../features/synthetic-pose.js';
import { lifeScript, PoseSimulator, type SceneStep } from '../features/synthetic-pose.js';

/** Frames a late tick may still send; older ones are skipped. */
const MAX_CATCH_UP = 2;
/** The life script's length when the run has no end: a day, then normal activity only. */
const ENDLESS_SCRIPT_SEC = 24 * 3600;

export interface CameraFrame {
  /** Capture number, from 0; skipped frames leave gaps. */
  index: number;
  /** Capture time, unix seconds. */
  ts: number;
  /** 33 × [x, y, z, visibility]; NaN where the pose detection dropped. */
  keypoints: Float32Array;
  activity: Activity;
}

export interface CameraOptions {
  seed: number;
  fps: number;
  /** Seconds the camera will run (0 = no end): the length of its life script. */
  duration: number;
  eventEvery: number;
  /** Steps to play instead of a life script. */
  script?: readonly SceneStep[];
  /** Milliseconds after start() of the first frame, to spread cameras over a frame interval. */
  phaseMs: number;
}

export class SimulatedCamera {
  private readonly simulator: PoseSimulator;
  private readonly frameMs: number;
  private captured = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Frames captured but not sent because a tick came too late. */
  skipped = 0;

  constructor(readonly name: string, private readonly options: CameraOptions) {
    this.simulator = new PoseSimulator({ seed: options.seed, fps: options.fps });
    this.simulator.play(options.script ?? lifeScript(options.seed, options.duration || ENDLESS_SCRIPT_SEC, options.eventEvery));
    this.frameMs = 1000 / options.fps;
  }

  start(onFrame: (frame: CameraFrame) => void): void {
    this.startedAt = performance.now() + this.options.phaseMs;
    const tick = () => {
      const due = Math.floor((performance.now() - this.startedAt) / this.frameMs) + 1;
      for (let missing = due - this.captured; missing > 0; missing--) {
        const { keypoints, activity } = this.simulator.next();
        const index = this.captured++;
        if (missing > MAX_CATCH_UP) this.skipped++;
        else onFrame({ index, ts: Date.now() / 1000, keypoints, activity });
      }
      const next = this.startedAt + this.captured * this.frameMs;
      this.timer = setTimeout(tick, Math.max(0, next - performance.now()));
    };
    this.timer = setTimeout(tick, this.options.phaseMs);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
