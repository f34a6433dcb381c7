/**
 * One camera's stream on a socket: the open handshake, each frame as JSON or binary (keypoints,
 * or per-frame features computed here), and what the server answers — analyses, the events it
 * writes, errors, the close.
 */
import type { AnalyzeResponse } from '../contracts/api.js';
import { computeFeatures, KEYPOINT_COUNT, KEYPOINT_VALUES } from '../features/pose-features.js';
import { AnalysisSchedule } from '../common/analysis-schedule.js';
import { FrameRing } from '../common/frame-ring.js';
import { encodeBinaryFrame, keypointsJson } from '../common/stream-frame-encoding.js';
import type { CameraFrame } from './camera.js';
import type { CameraStats } from './camera-stats.js';
import { eventLine, type AgentContext } from './mode.js';

/** How long connecting a socket, or opening a stream on it, may take. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Send times of the last frames, by index (an analysis names the newest frame of its window). */
const SENT_TIMES_KEPT = 1024;
/** Error codes that mean the frame or request was refused, not that an analysis failed. */
const MESSAGE_ERRORS = new Set(['bad_message', 'unknown_stream', 'limit']);

export interface ServerMessage {
  type?: string;
  stream_id?: string;
  [field: string]: unknown;
}

export class WsCameraStream {
  private schedule: AnalysisSchedule | null = null;
  private keypointRing: FrameRing | null = null;
  private readonly sentAt = new Float64Array(SENT_TIMES_KEPT);
  /** Analysis failures since the last analysis, whose `dropped` already counts the earlier ones. */
  private failuresSinceAnswer = 0;
  private settleOpen: ((error?: Error) => void) | null = null;
  opened = false;
  closed = false;

  constructor(private readonly context: AgentContext, readonly stats: CameraStats, private readonly transmit: (data: string | ArrayBuffer) => boolean) {}

  /** Asks the server to open the stream; resolves on `opened`, rejects on a refusal, a failed send or no answer in time. */
  open(): Promise<void> {
    const { stride } = this.context.options;
    return new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        clearTimeout(timer);
        this.settleOpen = null;
        if (!error) return resolve();
        this.closed = true;
        reject(error);
      };
      const timer = setTimeout(() => settle(new Error(`${this.stats.name}: no answer to open in ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS);
      this.settleOpen = settle;
      const sent = this.transmit(JSON.stringify({ type: 'open', stream_id: this.stats.name, stride, events: true, session_id: this.stats.name }));
      if (!sent) settle(new Error(`${this.stats.name}: the open message could not be sent`));
    });
  }

  /** Sends one frame; false when the socket would not take it. */
  send(frame: CameraFrame): boolean {
    const { binary, input } = this.context.options;
    const values = input === 'features' ? this.featuresOf(frame) : frame.keypoints;
    const id = this.stats.name;
    const data = binary ? encodeBinaryFrame(id, input, values, frame.index, frame.ts) : JSON.stringify({ stream_id: id, index: frame.index, ts: frame.ts, [input]: input === 'features' ? Array.from(values) : keypointsJson(values) });
    if (!this.transmit(data)) return false;
    this.sentAt[frame.index % SENT_TIMES_KEPT] = performance.now();
    this.stats.framesSent++;
    if (this.schedule!.push()) this.stats.expected++;
    return true;
  }

  close(): void {
    this.transmit(JSON.stringify({ type: 'close', stream_id: this.stats.name }));
  }

  onMessage(message: ServerMessage): void {
    switch (message.type) {
      case 'opened':
        return this.onOpened(message);
      case 'analysis':
        return this.onAnalysis(message);
      case 'event':
        return this.onEvent(message.payload as Record<string, unknown>);
      case 'error':
        return this.onError(String(message.code), String(message.detail));
      case 'closed':
        this.closed = true;
        return;
    }
  }

  /** The socket is gone: whatever was still open is lost. */
  disconnected(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.settleOpen?.(new Error(reason));
    this.stats.problem('error', reason);
  }

  private onOpened(message: ServerMessage): void {
    const window = Number(message.window);
    this.schedule = new AnalysisSchedule(window, Number(message.stride));
    if (this.context.options.input === 'features') this.keypointRing = new FrameRing(window, KEYPOINT_COUNT * KEYPOINT_VALUES);
    this.opened = true;
    this.settleOpen?.();
  }

  private onAnalysis(message: ServerMessage): void {
    const index = message.index as number | null;
    const latency = index === null ? null : performance.now() - this.sentAt[index % SENT_TIMES_KEPT]!;
    this.stats.answer(message as unknown as AnalyzeResponse, latency);
    this.stats.serverLatency.add(Number(message.latency_ms));
    this.stats.dropped += Math.max(0, Number(message.dropped) - this.failuresSinceAnswer);
    this.failuresSinceAnswer = 0;
  }

  private onEvent(payload: Record<string, unknown>): void {
    this.stats.event(String(payload.type), typeof payload.event === 'string' ? payload.event : null);
    if (payload.type !== 'PROBS') this.context.notify(eventLine(this.stats.name, payload));
  }

  private onError(code: string, detail: string): void {
    if (this.settleOpen) return this.settleOpen(new Error(`${this.stats.name}: open refused: ${code}: ${detail}`));
    // A failed analysis is also counted in the next analysis's `dropped`; count it once.
    if (MESSAGE_ERRORS.has(code)) return this.stats.problem('error', `${code}: ${detail}`);
    this.failuresSinceAnswer++;
    this.stats.problem('failed', `${code}: ${detail}`);
  }

  /**
   * This frame's feature row, computed over the last window of keypoints so that gaps are filled
   * from the frames before it, as the model saw them in training.
   */
  private featuresOf(frame: CameraFrame): Float32Array {
    const ring = this.keypointRing!;
    ring.push(frame.keypoints, frame.index, frame.ts);
    const features = computeFeatures(ring.window(), ring.size);
    const width = features.length / ring.size;
    return features.subarray(features.length - width);
  }
}
