/**
 * What the watch page shows, kept in the main thread: one entry per camera seen (streams' analyses
 * and the session_ids of written events) with its active events, latest scores and a short history
 * of its top score; the recent events with their memo outcomes. Bounded everywhere: cameras,
 * points per camera, events, outcomes. Knows nothing of HTTP; listeners get each change.
 */
import type { EventRecord } from '../events/records.js';
import { NO_CAMERA, recordMatches, type EventFilter } from '../common/event-filter.js';

export interface CameraBoardOptions {
  /** Most cameras kept; the one silent longest is forgotten first. */
  maxCameras?: number;
  /** Seconds of top-score history kept per camera. */
  historySec?: number;
  /** Most history points per camera (analyses are thinned to one point per `pointEverySec`). */
  maxPoints?: number;
  pointEverySec?: number;
  /** A camera heard from longer ago than this shows as silent. */
  silentAfterSec?: number;
  /** START/END events kept, and other events (PROBS, HEARTBEAT, …) kept, apart so a flood of one does not push out the other. */
  maxAlertEvents?: number;
  maxOtherEvents?: number;
  now?: () => number;
}

/** [unix ms, top score] */
export type Point = [number, number];

export interface ActiveEvent {
  event: string;
  since_ms: number;
  event_id: string | null;
}

export interface CameraView {
  id: string;
  /** 'stream' once analyses came from a stream, else 'events'. */
  source: 'stream' | 'events';
  seen_ms: number;
  state: 'normal' | 'active' | 'silent';
  active: ActiveEvent[];
  /** Latest score per event name (analyses' scores, or a PROBS event's probs). */
  scores: Record<string, number>;
  thresholds: Record<string, number>;
  points: Point[];
}

export type Delivery = { state: 'pending' } | { state: 'delivered' } | { state: 'undelivered'; reason: string } | { state: 'none' };

export interface EventEntry {
  seq: number;
  received_ms: number;
  record: EventRecord;
  delivery: Delivery;
}

export interface EventDetail extends EventEntry {
  /** The START this END closed (same camera and event), when still kept. */
  start: EventEntry | null;
  /** The camera's top score around the event, when its history still covers it. */
  points: Point[];
}

export interface EventQuery extends EventFilter {
  limit?: number;
}

export type BoardChange =
  | { kind: 'event'; entry: EventEntry }
  | { kind: 'delivery'; event_id: string; delivery: Delivery };

const ALERT_TYPES = new Set(['START', 'END']);

interface Camera {
  id: string;
  source: 'stream' | 'events';
  seenMs: number;
  active: Map<string, ActiveEvent>;
  scores: Record<string, number>;
  thresholds: Record<string, number>;
  points: Point[];
}

/** A fixed-capacity list, oldest first. */
class Ring<T> {
  private readonly items: T[] = [];
  constructor(private readonly capacity: number) {}
  push(item: T): void {
    this.items.push(item);
    if (this.items.length > this.capacity) this.items.splice(0, this.items.length - this.capacity);
  }
  values(): readonly T[] {
    return this.items;
  }
}

export class CameraBoard {
  private readonly cameras = new Map<string, Camera>();
  private readonly alerts: Ring<EventEntry>;
  private readonly others: Ring<EventEntry>;
  private readonly byId = new Map<string, EventEntry>();
  /** Outcomes that arrived before (or without) their entry. */
  private readonly outcomes = new Map<string, Delivery>();
  private readonly listeners = new Set<(change: BoardChange) => void>();
  /** Cameras changed since the last takeChanged(). */
  private readonly changed = new Set<string>();
  private nextSeq = 1;
  private readonly maxCameras: number;
  private readonly historyMs: number;
  private readonly maxPoints: number;
  private readonly pointEveryMs: number;
  private readonly maxOutcomes: number;
  readonly silentAfterMs: number;
  private readonly now: () => number;

  constructor(options: CameraBoardOptions = {}) {
    this.maxCameras = options.maxCameras ?? 200;
    this.historyMs = (options.historySec ?? 600) * 1000;
    this.maxPoints = options.maxPoints ?? 600;
    this.pointEveryMs = (options.pointEverySec ?? 1) * 1000;
    this.silentAfterMs = (options.silentAfterSec ?? 30) * 1000;
    this.alerts = new Ring(options.maxAlertEvents ?? 1000);
    this.others = new Ring(options.maxOtherEvents ?? 500);
    this.maxOutcomes = (options.maxAlertEvents ?? 1000) * 2;
    this.now = options.now ?? Date.now;
  }

  /** One stream analysis: the camera's latest scores and a history point (at most one per pointEverySec). */
  analysis(cameraId: string, events: readonly string[], scores: ArrayLike<number>, thresholds: readonly number[]): void {
    const camera = this.camera(cameraId, 'stream');
    let top = 0;
    for (let i = 0; i < events.length; i++) {
      const name = events[i]!;
      const score = scores[i] ?? 0;
      camera.scores[name] = score;
      camera.thresholds[name] = thresholds[i] ?? 1;
      if (score > top) top = score;
    }
    this.addPoint(camera, top);
  }

  /** A record that has been written; `alerted` when its END sends a memo. */
  record(record: EventRecord, alerted = false, receivedMs = this.now()): EventEntry {
    const id = record.session_id ?? NO_CAMERA;
    const camera = this.camera(id, 'events', receivedMs);
    const data = record.data ?? {};
    const event = typeof data.event === 'string' ? data.event : null;
    const type = record.event_type;
    if (type === 'START' && event !== null) {
      camera.active.set(event, { event, since_ms: receivedMs, event_id: record.event_id });
    } else if (type === 'END' && event !== null) {
      camera.active.delete(event);
    }
    const probs = data.probs;
    if (probs && typeof probs === 'object' && !Array.isArray(probs)) {
      let top = 0;
      for (const [name, value] of Object.entries(probs as Record<string, unknown>)) {
        if (typeof value !== 'number') continue;
        camera.scores[name] = value;
        if (value > top) top = value;
      }
      this.addPoint(camera, top);
    } else if (type === 'PROBS' && typeof data.top_prob === 'number') {
      this.addPoint(camera, data.top_prob);
    }
    const delivery: Delivery = this.outcomes.get(record.event_id) ?? (alerted ? { state: 'pending' } : { state: 'none' });
    this.outcomes.delete(record.event_id);
    const entry: EventEntry = { seq: this.nextSeq++, received_ms: receivedMs, record, delivery };
    const ring = ALERT_TYPES.has(type) ? this.alerts : this.others;
    const oldest = ring.values()[0];
    ring.push(entry);
    // A record stored twice with one event_id (an Idempotency-Key's retry that took over) is found as its newer entry.
    if (oldest && ring.values()[0] !== oldest && this.byId.get(oldest.record.event_id) === oldest) this.byId.delete(oldest.record.event_id);
    this.byId.set(record.event_id, entry);
    this.emit({ kind: 'event', entry });
    return entry;
  }

  /** What became of an END's memo. */
  alertOutcome(eventId: string, delivered: boolean, reason: string | null): void {
    const delivery: Delivery = delivered ? { state: 'delivered' } : { state: 'undelivered', reason: reason ?? 'unknown' };
    const entry = this.byId.get(eventId);
    if (entry) entry.delivery = delivery;
    else {
      this.outcomes.set(eventId, delivery);
      if (this.outcomes.size > this.maxOutcomes) this.outcomes.delete(this.outcomes.keys().next().value!);
    }
    this.emit({ kind: 'delivery', event_id: eventId, delivery });
  }

  /** Every camera, most recently heard first. */
  views(): CameraView[] {
    return [...this.cameras.values()].sort((a, b) => b.seenMs - a.seenMs).map((c) => this.view(c));
  }

  /** The cameras changed since the last call (for the live feed's periodic update). */
  takeChanged(): CameraView[] {
    const out = [...this.changed].map((id) => this.cameras.get(id)).filter((c): c is Camera => c !== undefined).map((c) => this.view(c, true));
    this.changed.clear();
    return out;
  }

  /** The newest events kept, newest first, filtered, at most `limit` (older ones come from the store). */
  events(query: EventQuery = {}): EventEntry[] {
    const limit = Math.max(1, Math.min(query.limit ?? 50, 500));
    const types = query.types && query.types.length ? query.types : null;
    const pools: (readonly EventEntry[])[] = [];
    if (!types || types.some((ty) => ALERT_TYPES.has(ty))) pools.push(this.alerts.values());
    if (!types || types.some((ty) => !ALERT_TYPES.has(ty))) pools.push(this.others.values());
    const out: EventEntry[] = [];
    for (const pool of pools) {
      for (let i = pool.length - 1; i >= 0; i--) {
        const entry = pool[i]!;
        if (!recordMatches(entry.record, query)) continue;
        out.push(entry);
        if (out.length >= limit && pools.length === 1) break;
      }
    }
    return out.sort((a, b) => b.seq - a.seq).slice(0, limit);
  }

  /** An event still kept (with its memo's delivery), or null. */
  entry(eventId: string): EventEntry | null {
    return this.byId.get(eventId) ?? null;
  }

  /** One event with its START and the scores around it, or null when it is no longer kept. */
  event(eventId: string): EventDetail | null {
    const entry = this.byId.get(eventId);
    if (!entry) return null;
    const data = entry.record.data ?? {};
    let start: EventEntry | null = null;
    if (entry.record.event_type === 'END') {
      const pool = this.alerts.values();
      for (let i = pool.length - 1; i >= 0; i--) {
        const e = pool[i]!;
        if (e.seq < entry.seq && e.record.event_type === 'START' && e.record.session_id === entry.record.session_id && e.record.data?.event === data.event) {
          start = e;
          break;
        }
      }
    }
    const duration = typeof data.duration_sec === 'number' ? data.duration_sec * 1000 : 0;
    const from = (start?.received_ms ?? entry.received_ms - duration) - 15_000;
    const to = entry.received_ms + 15_000;
    const camera = this.cameras.get(entry.record.session_id ?? NO_CAMERA);
    const points = camera ? camera.points.filter(([t]) => t >= from && t <= to) : [];
    return { ...entry, start, points };
  }

  subscribe(listener: (change: BoardChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: BoardChange): void {
    for (const listener of this.listeners) listener(change);
  }

  private camera(id: string, source: 'stream' | 'events', at = this.now()): Camera {
    let camera = this.cameras.get(id);
    if (!camera) {
      if (this.cameras.size >= this.maxCameras) this.forgetQuietest();
      camera = { id, source, seenMs: at, active: new Map(), scores: {}, thresholds: {}, points: [] };
      this.cameras.set(id, camera);
    }
    if (source === 'stream') camera.source = 'stream';
    camera.seenMs = Math.max(camera.seenMs, at);
    this.changed.add(id);
    return camera;
  }

  private forgetQuietest(): void {
    let quietest: Camera | null = null;
    for (const c of this.cameras.values()) if (!quietest || c.seenMs < quietest.seenMs) quietest = c;
    if (quietest) {
      this.cameras.delete(quietest.id);
      this.changed.delete(quietest.id);
    }
  }

  private addPoint(camera: Camera, top: number): void {
    const at = this.now();
    const points = camera.points;
    const last = points[points.length - 1];
    // Within one point's time: keep the highest score of it, so a short peak is not thinned away.
    if (last && at - last[0] < this.pointEveryMs) last[1] = Math.max(last[1], top);
    else points.push([at, top]);
    let drop = 0;
    while (drop < points.length && (points.length - drop > this.maxPoints || points[drop]![0] < at - this.historyMs)) drop++;
    if (drop) points.splice(0, drop);
  }

  private view(c: Camera, recentPointsOnly = false): CameraView {
    const now = this.now();
    const state = now - c.seenMs > this.silentAfterMs ? 'silent' : c.active.size > 0 ? 'active' : 'normal';
    return {
      id: c.id,
      source: c.source,
      seen_ms: c.seenMs,
      state,
      active: [...c.active.values()],
      scores: { ...c.scores },
      thresholds: { ...c.thresholds },
      points: recentPointsOnly ? c.points.slice(-5) : c.points.slice(),
    };
  }
}
