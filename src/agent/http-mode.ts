/**
 * The seed-compatible path: each camera keeps its last window of keypoints, computes the
 * window's features every `stride` frames and POSTs /behavior/analyze, runs its own START/END
 * hysteresis on the answers and posts the events (plus a HEARTBEAT every few seconds) to
 * /event/payload, as the seed's agents did.
 */
import { DEFAULT_STREAM_END_AFTER, DEFAULT_STREAM_START_AFTER, DEFAULT_STREAM_WINDOW } from '../common/defaults.js';
import type { AnalyzeResponse, EventPayloadInput } from '../contracts/api.js';
import { computeFeatures, KEYPOINT_COUNT, KEYPOINT_VALUES } from '../features/pose-features.js';
import { analyzeRequest } from '../common/analysis-json.js';
import { AnalysisSchedule } from '../common/analysis-schedule.js';
import { EventDetector, type AnalysisPoint } from '../common/event-detector.js';
import { FrameRing } from '../common/frame-ring.js';
import type { CameraFrame } from './camera.js';
import { topEvent, type CameraStats } from './camera-stats.js';
import { describeFailure } from './http-client.js';
import { eventLine, waitUntil, type AgentContext, type ModeRunner } from './mode.js';

const HEARTBEAT_EVERY_MS = 5000;

class HttpCamera {
  private readonly ring: FrameRing;
  private readonly schedule: AnalysisSchedule;
  private detector: EventDetector | null = null;
  /** When the newest frame in the ring was sent: an analysis's latency runs from there. */
  private newestSentAt = 0;
  private posting: Promise<void> = Promise.resolve();
  private postsOpen = 0;
  private lastHeartbeat = performance.now();

  constructor(private readonly context: AgentContext, private readonly stats: CameraStats, window: number) {
    this.ring = new FrameRing(window, KEYPOINT_COUNT * KEYPOINT_VALUES);
    this.schedule = new AnalysisSchedule(window, context.options.stride);
  }

  get idle(): boolean {
    return !this.schedule.busy && this.postsOpen === 0;
  }

  push(frame: CameraFrame): void {
    this.ring.push(frame.keypoints, frame.index, frame.ts);
    this.newestSentAt = performance.now();
    this.stats.framesSent++;
    if (!this.schedule.push()) return;
    this.stats.expected++;
    const next = this.schedule.due();
    if (next === 'run') this.analyze();
    else if (next === 'supersede') this.stats.dropped++;
  }

  /** ENDs the events still active, as the server does when a stream closes. */
  finish(): void {
    if (!this.detector) return;
    for (const end of this.detector.finish({ ts: Date.now() / 1000, index: this.ring.newest().index })) this.post(end);
  }

  /** Analyses the newest window (a window that waited has moved on to the frames sent since). */
  private analyze(): void {
    const frames = this.ring.size;
    const features = computeFeatures(this.ring.window(), frames);
    const body = analyzeRequest(features, frames, features.length / frames, this.ring.indexes());
    const newest = this.ring.newest();
    const sentAt = this.newestSentAt;
    this.context.client
      .post('/behavior/analyze', body)
      .then(
        (response) => {
          if (response.status !== 200) return this.stats.problem('failed', `analyze: ${describeFailure(response)}`);
          const result = response.json as AnalyzeResponse;
          this.stats.answer(result, performance.now() - sentAt);
          this.detect(result, newest);
        },
        (err: Error) => this.stats.problem('failed', `analyze: ${err.message}`),
      )
      .finally(() => {
        if (this.schedule.finished()) this.analyze();
      });
  }

  private detect(result: AnalyzeResponse, newest: Omit<AnalysisPoint, 'scores'>): void {
    // The server's stream defaults, so both modes raise the same events.
    this.detector ??= new EventDetector({ events: result.events, thresholds: result.thresholds, startAfter: DEFAULT_STREAM_START_AFTER, endAfter: DEFAULT_STREAM_END_AFTER, probsEvery: 0 });
    for (const payload of this.detector.update({ scores: result.scores, ...newest })) this.post(payload);
    const now = performance.now();
    if (now - this.lastHeartbeat < HEARTBEAT_EVERY_MS) return;
    this.lastHeartbeat = now;
    const top = topEvent(result);
    this.post({
      type: 'HEARTBEAT',
      ts: newest.ts,
      frame_idx: newest.index,
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
    const window = context.model.windowSize || DEFAULT_STREAM_WINDOW;
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
