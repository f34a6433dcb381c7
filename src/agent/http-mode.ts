/**
 * The seed-compatible path: each camera keeps its last window of keypoints, computes the
 * window's features every `stride` frames and POSTs /behavior/analyze, runs its own START/END
 * hysteresis on the answers and posts the events (plus a HEARTBEAT every few seconds) to
 * /event/payload, as the seed's agents did.
 */
import type { AnalyzeResponse } from '../contracts/api.js';
import type { EventPayloadInput } from '../events/records.js';
import { computeFeatures, KEYPOINT_COUNT, KEYPOINT_VALUES } from '../features/pose-features.js';
import { EventDetector } from '../streams/event-detector.js';
import { FrameRing } from '../streams/frame-ring.js';
import { AnalysisSchedule } from './analysis-schedule.js';
import type { CameraFrame } from './camera.js';
import { topEvent, type CameraStats } from './camera-stats.js';
import { describeFailure } from './http-client.js';
import { DEFAULT_WINDOW, eventLine, waitUntil, type AgentContext, type ModeRunner } from './mode.js';

/** The server's stream defaults (BACKEND_STREAM_START_AFTER / END_AFTER), so both modes raise the same events. */
const START_AFTER = 3;
const END_AFTER = 3;
const HEARTBEAT_EVERY_MS = 5000;

/** A window waiting to be analysed. */
interface Job {
  keypoints: Float32Array;
  indexes: number[];
  ts: number;
  dueAt: number;
}

class HttpCamera {
  private readonly ring: FrameRing;
  private readonly schedule: AnalysisSchedule;
  private readonly indexes: number[] = [];
  private detector: EventDetector | null = null;
  private inFlight = false;
  private pending: Job | null = null;
  private posting: Promise<void> = Promise.resolve();
  private postsOpen = 0;
  private lastHeartbeat = performance.now();
  private lastIndex = 0;

  constructor(private readonly context: AgentContext, private readonly stats: CameraStats, private readonly window: number) {
    this.ring = new FrameRing(window, KEYPOINT_COUNT * KEYPOINT_VALUES);
    this.schedule = new AnalysisSchedule(window, context.options.stride);
  }

  get idle(): boolean {
    return !this.inFlight && !this.pending && this.postsOpen === 0;
  }

  push(frame: CameraFrame): void {
    this.ring.push(frame.keypoints, frame.index, frame.ts);
    this.indexes.push(frame.index);
    if (this.indexes.length > this.window) this.indexes.shift();
    this.lastIndex = frame.index;
    this.stats.framesSent++;
    if (!this.schedule.push()) return;
    this.stats.expected++;
    const job = { keypoints: this.ring.window(), indexes: [...this.indexes], ts: frame.ts, dueAt: performance.now() };
    if (!this.inFlight) return this.analyze(job);
    // At most one window waits behind the request in flight; a newer one replaces it.
    if (this.pending) this.stats.dropped++;
    this.pending = job;
  }

  /** ENDs the events still active, as the server does when a stream closes. */
  finish(): void {
    if (!this.detector) return;
    for (const end of this.detector.finish({ ts: Date.now() / 1000, index: this.lastIndex })) this.post({ ...end, state: 'stream_closed' });
  }

  private analyze(job: Job): void {
    this.inFlight = true;
    const features = computeFeatures(job.keypoints, this.window);
    const width = features.length / this.window;
    const frames = job.indexes.map((index, f) => ({ index, features: Array.from(features.subarray(f * width, (f + 1) * width)) }));
    this.context.client
      .post('/behavior/analyze', { frames })
      .then(
        (response) => {
          if (response.status !== 200) return this.stats.problem('failed', `analyze: ${describeFailure(response)}`);
          const result = response.body as AnalyzeResponse;
          this.stats.answer(result, performance.now() - job.dueAt);
          this.detect(result, job);
        },
        (err: Error) => this.stats.problem('failed', `analyze: ${err.message}`),
      )
      .finally(() => {
        this.inFlight = false;
        const next = this.pending;
        this.pending = null;
        if (next) this.analyze(next);
      });
  }

  private detect(result: AnalyzeResponse, job: Job): void {
    this.detector ??= new EventDetector({ events: result.events, thresholds: result.thresholds, startAfter: START_AFTER, endAfter: END_AFTER, probsEvery: 0 });
    for (const payload of this.detector.update({ scores: result.scores, ts: job.ts, index: job.indexes.at(-1)! })) this.post(payload);
    const now = performance.now();
    if (now - this.lastHeartbeat < HEARTBEAT_EVERY_MS) return;
    this.lastHeartbeat = now;
    const top = topEvent(result);
    this.post({
      type: 'HEARTBEAT',
      ts: job.ts,
      frame_idx: job.indexes.at(-1)!,
      state: this.stats.active.size > 0 ? 'anomaly' : 'normal',
      top_event: top?.event ?? null,
      top_prob: top?.score ?? null,
    });
  }

  /** Posts events one at a time, so the log keeps each camera's order (a START before its END). */
  private post(payload: EventPayloadInput): void {
    const body = { ...payload, session_id: this.stats.name, user_id: null };
    this.postsOpen++;
    this.posting = this.posting.then(async () => {
      try {
        const response = await this.context.client.post('/event/payload', body);
        if (response.status !== 200) return this.stats.problem('error', `${payload.type} not posted: ${describeFailure(response)}`);
        this.stats.event(payload.type, payload.event ?? null);
        if (payload.type !== 'HEARTBEAT') this.context.notify(eventLine(this.stats.name, payload));
      } catch (err) {
        this.stats.problem('error', `${payload.type} not posted: ${(err as Error).message}`);
      } finally {
        this.postsOpen--;
      }
    });
  }
}

export class HttpMode implements ModeRunner {
  private readonly cameras: HttpCamera[];

  constructor(context: AgentContext) {
    const window = context.model.windowSize || DEFAULT_WINDOW;
    this.cameras = context.stats.map((stats) => new HttpCamera(context, stats, window));
  }

  async start(): Promise<void> {}

  send(camera: number, frame: CameraFrame): void {
    this.cameras[camera]!.push(frame);
  }

  async finish(deadline: number): Promise<void> {
    await waitUntil(() => this.cameras.every((c) => c.idle), deadline);
    for (const camera of this.cameras) camera.finish();
    await waitUntil(() => this.cameras.every((c) => c.idle), deadline);
  }
}
