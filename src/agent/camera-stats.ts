/**
 * What the agent knows about one camera while it runs: counters, latencies, the newest analysis
 * and the events in progress. The display reads it live; the summary reads it at the end.
 */
import type { AnalyzeResponse } from '../contracts/api.js';
import { LatencyRecorder } from '../common/latency.js';

/** Error details kept per camera for the summary (the count goes on). */
const PROBLEMS_KEPT = 5;

export class CameraStats {
  framesSent = 0;
  /** Frames the camera produced but the agent did not send: its timer fell behind, or the socket was congested. */
  framesSkipped = 0;
  /** Analyses due: one every `stride` frames once the window is full. */
  expected = 0;
  answered = 0;
  /** ws: reported by the server; http: superseded by a newer window while a request was in flight. */
  dropped = 0;
  /** Analyses that came back as an error. */
  failed = 0;
  /** Errors that are not a lost analysis (a rejected message, an event that was not written, a socket gone). */
  errors = 0;
  /** Events by type: posted by the agent (http) or pushed by the server (ws). */
  readonly events: Record<string, number> = {};
  /** Events started and not yet ended. */
  readonly active = new Set<string>();
  /** From the newest frame of a window being sent to its analysis arriving. */
  readonly latency = new LatencyRecorder();
  /** ws: the server's own figure (frame arrival → analysis sent). */
  readonly serverLatency = new LatencyRecorder();
  readonly problems: string[] = [];
  /** What the person in front of the camera is doing now (the generator's truth). */
  activity = '';
  last: AnalyzeResponse | null = null;

  constructor(readonly name: string) {}

  /** Every due analysis is accounted for: answered, dropped or failed. */
  get settled(): boolean {
    return this.answered + this.dropped + this.failed >= this.expected;
  }

  get lost(): number {
    return Math.max(0, this.expected - this.answered);
  }

  answer(result: AnalyzeResponse, latencyMs: number | null): void {
    this.answered++;
    this.last = result;
    if (latencyMs !== null) this.latency.add(latencyMs);
  }

  /** Counts an event and keeps track of the ones in progress. */
  event(type: string, name: string | null): void {
    this.events[type] = (this.events[type] ?? 0) + 1;
    if (!name) return;
    if (type === 'START') this.active.add(name);
    if (type === 'END') this.active.delete(name);
  }

  problem(kind: 'failed' | 'error', detail: string): void {
    if (kind === 'failed') this.failed++;
    else this.errors++;
    if (this.problems.length < PROBLEMS_KEPT) this.problems.push(detail);
  }
}

/** The event with the highest score in an analysis. */
export function topEvent(result: AnalyzeResponse): { event: string; score: number } | null {
  let top = -1;
  result.scores.forEach((score, i) => {
    if (top < 0 || score > result.scores[top]!) top = i;
  });
  return top < 0 ? null : { event: result.events[top]!, score: result.scores[top]! };
}
