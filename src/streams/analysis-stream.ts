/**
 * One stream (one camera): a ring of its last `window` frames, an analysis every `stride` frames
 * through the shared batcher, and, when asked for, server-side events. At most one analysis of a
 * stream is in flight; frames that arrive meanwhile make the next one run on the newest window as
 * soon as it returns (latest wins), so results stay in order and a slow model never piles up work.
 */
import type { AnalyzeResponse, EventPayloadInput } from '../contracts/api.js';
import type { ServedModel } from '../inference/model-registry.js';
import { analysisResult } from '../common/analysis-json.js';
import { computeFeatures, KEYPOINT_COUNT, KEYPOINT_VALUES } from '../features/pose-features.js';
import { AnalysisSchedule } from '../common/analysis-schedule.js';
import { EventDetector } from '../common/event-detector.js';
import { FrameRing } from '../common/frame-ring.js';
import type { DecodedFrame } from './stream-messages.js';
import type { FrameInput } from '../common/stream-frame-encoding.js';

export interface StreamSettings {
  id: string;
  window: number;
  stride: number;
  events: boolean;
  probsEvery: number;
  sessionId: string;
  userId: string | null;
  /** The model the agent named in `open`; null = the one whose window is `window`. */
  model: string | null;
}

/** What a stream needs from the rest of the server (the hub provides it). */
export interface StreamServices {
  startAfter: number;
  endAfter: number;
  /** The model version that analyses this stream now (after a reload, the new one); throws an AppError when none can. */
  resolve(stream: AnalysisStream): ServedModel;
  /** Delivers an analysis to the socket; false when it had to be dropped. */
  deliver(stream: AnalysisStream, analysis: StreamAnalysisResult): boolean;
  failed(stream: AnalysisStream, err: unknown): void;
  /** A window waiting for its turn was replaced by a newer one (the stream is behind). */
  superseded(stream: AnalysisStream): void;
  /** Writes server-side events (in order) as if the agent had posted them. */
  emit(stream: AnalysisStream, payloads: EventPayloadInput[]): void;
}

export interface StreamAnalysisResult {
  result: AnalyzeResponse;
  index: number | null;
  frames: number;
  latencyMs: number;
  dropped: number;
}

export class AnalysisStream {
  private input: FrameInput | null = null;
  private ring: FrameRing | null = null;
  private readonly schedule: AnalysisSchedule;
  private newestArrival = 0;
  private dropped = 0;
  private closed = false;
  private detector: EventDetector | null;

  constructor(readonly settings: StreamSettings, private readonly services: StreamServices, private model: ServedModel) {
    this.schedule = new AnalysisSchedule(settings.window, settings.stride);
    this.detector = settings.events ? this.newDetector(model) : null;
  }

  /** The model version that analysed (or will analyse) this stream's latest window. */
  get servedBy(): ServedModel {
    return this.model;
  }

  private newDetector(model: ServedModel): EventDetector {
    const { startAfter, endAfter } = this.services;
    return new EventDetector({ events: model.events, thresholds: model.thresholds, startAfter, endAfter, probsEvery: this.settings.probsEvery });
  }

  /**
   * Moves to another model version (a reload): open START/END state carries over when the event
   * names stay (under the new thresholds); otherwise active events END with state `model_changed`.
   */
  private switchTo(model: ServedModel): void {
    const previous = this.model;
    this.model = model;
    if (!this.detector) return;
    if (sameNames(previous.events, model.events)) {
      this.detector.useThresholds(model.thresholds);
      return;
    }
    const newest = this.ring!.newest();
    const ends = this.detector.finish({ ts: newest.ts, index: newest.index }, 'model_changed');
    this.detector = this.newDetector(model);
    if (ends.length) this.services.emit(this, ends);
  }

  get id(): string {
    return this.settings.id;
  }

  /** Adds a frame; throws a message for the agent when it does not fit the stream. */
  push(frame: DecodedFrame, arrival: number): void {
    if (this.input === null) {
      this.input = frame.input;
      this.ring = new FrameRing(this.settings.window, frame.input === 'features' ? this.model.featureDim : KEYPOINT_COUNT * KEYPOINT_VALUES);
    } else if (frame.input !== this.input) {
      throw new Error(`stream ${this.id} carries ${this.input}; this frame has ${frame.input}`);
    }
    this.ring!.push(frame.values, frame.index, frame.ts ?? Date.now() / 1000);
    this.newestArrival = arrival;
    if (!this.schedule.push()) return;
    const next = this.schedule.due();
    if (next === 'run') this.run();
    else if (next === 'supersede') {
      this.dropped++;
      this.services.superseded(this);
    }
  }

  /** Counts an analysis that could not be delivered; reported with the next one that is. */
  countDropped(): void {
    this.dropped++;
  }

  /** Stops analysing; returns the ENDs of events still active (the caller writes them). */
  close(): EventPayloadInput[] {
    this.closed = true;
    if (!this.detector || !this.ring || this.ring.size === 0) return [];
    const newest = this.ring.newest();
    return this.detector.finish({ ts: newest.ts, index: newest.index });
  }

  private run(): void {
    const ring = this.ring!;
    const frames = ring.size;
    const newest = ring.newest();
    const arrival = this.newestArrival;
    let model: ServedModel;
    let analysis: Promise<Float32Array>;
    try {
      model = this.services.resolve(this);
      if (model !== this.model) this.switchTo(model);
      const raw = ring.window();
      analysis = model.submit(this.input === 'keypoints' ? computeFeatures(raw, frames) : raw, frames);
    } catch (err) {
      analysis = Promise.reject(err);
      model = this.model;
    }
    analysis
      .then(
        (scores) => {
          if (this.closed) return;
          const result = analysisResult(scores, model);
          const delivered = this.services.deliver(this, { result, index: newest.index, frames, latencyMs: performance.now() - arrival, dropped: this.dropped });
          if (delivered) this.dropped = 0;
          if (this.detector) {
            const payloads = this.detector.update({ scores, ts: newest.ts, index: newest.index });
            if (payloads.length) this.services.emit(this, payloads);
          }
        },
        (err) => {
          if (this.closed) return;
          this.dropped++;
          this.services.failed(this, err);
        },
      )
      .finally(() => {
        // the window that waited runs on the newest frames
        if (this.schedule.finished() && !this.closed) this.run();
      });
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}
