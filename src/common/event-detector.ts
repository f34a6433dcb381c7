/**
 * Server-side START / END / PROBS for one stream, with hysteresis: an event STARTs after
 * `startAfter` consecutive analyses at or over its threshold and ENDs after `endAfter`
 * consecutive analyses under it, so one noisy window neither starts nor ends it.
 * The START is dated at the first analysis over the threshold, the END at the first one under it,
 * and the END's duration_sec is the time between them; its prob is the event's peak score.
 */
import type { EventPayloadInput } from '../contracts/api.js';

export interface DetectorOptions {
  events: readonly string[];
  thresholds: readonly number[];
  startAfter: number;
  endAfter: number;
  /** A PROBS event every this many analyses; 0 = none. */
  probsEvery: number;
}

export interface AnalysisPoint {
  scores: ArrayLike<number>;
  ts: number;
  index: number | null;
}

interface EventState {
  active: boolean;
  run: number;
  /** The first analysis of the current run over (inactive) or under (active) the threshold. */
  runStart: AnalysisPoint | null;
  activeSince: AnalysisPoint | null;
  peak: number;
}

export class EventDetector {
  private readonly states: EventState[];
  private analyses = 0;

  constructor(private options: DetectorOptions) {
    this.states = options.events.map(() => ({ active: false, run: 0, runStart: null, activeSince: null, peak: 0 }));
  }

  /** Feeds one analysis; returns the events it completes (in model order, PROBS last). */
  update(point: AnalysisPoint): EventPayloadInput[] {
    const out: EventPayloadInput[] = [];
    const { events, thresholds, startAfter, endAfter, probsEvery } = this.options;
    this.states.forEach((state, i) => {
      const score = point.scores[i]!;
      const over = score >= thresholds[i]!;
      if (state.active) state.peak = Math.max(state.peak, score);
      if (over !== state.active) {
        if (state.run === 0) state.runStart = point;
        state.run++;
      } else {
        state.run = 0;
        state.runStart = null;
      }
      if (!state.active && state.run >= startAfter) {
        const since = state.runStart!;
        Object.assign(state, { active: true, run: 0, runStart: null, activeSince: since, peak: score });
        out.push({ type: 'START', ts: since.ts, frame_idx: since.index, event: events[i]!, prob: score });
      } else if (state.active && state.run >= endAfter) {
        out.push(this.endOf(i, state.runStart!));
      }
    });
    this.analyses++;
    if (probsEvery > 0 && this.analyses % probsEvery === 0) out.push(this.probs(point));
    return out;
  }

  /** ENDs every active event, dated `point`, with `state` saying why (the stream closed, its model changed). */
  finish(point: { ts: number; index: number | null }, state = 'stream_closed'): EventPayloadInput[] {
    const out: EventPayloadInput[] = [];
    this.states.forEach((s, i) => {
      if (s.active) out.push({ ...this.endOf(i, { ...point, scores: [] }), state });
    });
    return out;
  }

  /** The same events under new thresholds (a reloaded model): active events and runs carry over. */
  useThresholds(thresholds: readonly number[]): void {
    this.options = { ...this.options, thresholds };
  }

  private endOf(i: number, at: AnalysisPoint): EventPayloadInput {
    const state = this.states[i]!;
    const since = state.activeSince!;
    const payload: EventPayloadInput = {
      type: 'END',
      ts: at.ts,
      frame_idx: at.index,
      event: this.options.events[i]!,
      prob: state.peak,
      duration_sec: Math.max(0, at.ts - since.ts),
    };
    Object.assign(state, { active: false, run: 0, runStart: null, activeSince: null, peak: 0 });
    return payload;
  }

  private probs(point: AnalysisPoint): EventPayloadInput {
    const probs: Record<string, number> = {};
    let top = 0;
    this.options.events.forEach((name, i) => {
      probs[name] = point.scores[i]!;
      if (point.scores[i]! > point.scores[top]!) top = i;
    });
    return { type: 'PROBS', ts: point.ts, frame_idx: point.index, probs, top_event: this.options.events[top]!, top_prob: point.scores[top]! };
  }
}
