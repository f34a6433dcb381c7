/**
 * The watch page's server side, below HTTP: feeds the camera board from the event log, sends each
 * change to the live feeds' listeners (cameras batched once a second), and gathers the server
 * panel (readiness, device, workers, queue depth, analyses per second, Kakao state: never a token).
 */
import type { EventLog } from '../events/event-log.js';
import type { Metrics } from '../metrics.js';
import { asRecord } from '../events/records.js';
import type { BoardChange, CameraBoard, CameraView } from './camera-board.js';
import { EventHistory } from './event-history.js';

/** One message of the live feed: its SSE event name and its data. */
export interface FeedMessage {
  name: 'event' | 'delivery' | 'cameras' | 'tick';
  data: unknown;
  /** A PROBS or HEARTBEAT event: sent only to feeds that asked for them. */
  chatty?: boolean;
}

export interface WatchServiceDeps {
  board: CameraBoard;
  events: Pick<EventLog, 'watch' | 'recentJson' | 'kakaoTokenCheck' | 'page'>;
  metrics: Metrics;
  /** The /ready body: status, reasons, workers, device, model. */
  readiness(): Record<string, unknown>;
  /** Streams open now. */
  openStreams(): number;
  /** The first served model's events and thresholds, and every model's display labels (they may change on a reload). */
  model(): { events: readonly string[]; thresholds: readonly number[]; labels: Readonly<Record<string, string>> };
  /** Events refilled from the log at start (the recent list). */
  keepRecent: number;
}

/** How long a Kakao token check is reused: it calls Kakao, and many pages poll the panel. */
const KAKAO_CHECK_TTL_MS = 60_000;
const RATE_WINDOW = 5;

export class WatchService {
  /** The events list page by page: the board's newest, then the store's older ones. */
  readonly history: EventHistory;
  private readonly listeners = new Set<(message: FeedMessage) => void>();
  private readonly timer: NodeJS.Timeout;
  private readonly unwatch: () => void;
  private readonly unsubscribe: () => void;
  /** Windows analysed (the batch-size histogram's sum), sampled once a second. */
  private readonly analysed: number[] = [];
  private kakaoCheck: { at: number; value: Promise<Record<string, unknown>> } | null = null;

  constructor(private readonly deps: WatchServiceDeps) {
    const { board, events } = deps;
    this.history = new EventHistory(board, events);
    // The recent list, refilled from the log's tail, seeds the events and the cameras that sent them.
    const seed = JSON.parse(events.recentJson(deps.keepRecent)) as unknown[];
    for (const item of seed) {
      // The recent list holds any JSON object the store's tail had; only records go on the board.
      const record = asRecord(item);
      if (!record) continue;
      const at = Date.parse(record.timestamp);
      board.record(record, false, Number.isFinite(at) ? at : Date.now());
    }
    this.unwatch = events.watch({
      written: (record, _line, alerted) => board.record(record, alerted),
      alertOutcome: (o) => board.alertOutcome(o.event_id, o.delivered, o.reason),
    });
    this.unsubscribe = board.subscribe((change) => this.broadcast(feedMessage(change)));
    this.timer = setInterval(() => void this.tick(), 1000);
    this.timer.unref();
  }

  /** Adds a live-feed listener; returns its removal. */
  listen(listener: (message: FeedMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** What the page starts from: the model, every camera, the newest events and the cursor of the older ones. */
  snapshot(): Record<string, unknown> {
    const { board } = this.deps;
    const model = this.deps.model();
    const newest = this.history.first({ limit: 50, types: ['START', 'END'] });
    return {
      now_ms: Date.now(),
      silent_after_ms: board.silentAfterMs,
      model: { events: model.events, thresholds: model.thresholds, labels: model.labels },
      cameras: board.views(),
      events: newest.events,
      events_next: newest.next,
    };
  }

  /** The server panel. */
  async server(): Promise<Record<string, unknown>> {
    const { metrics } = this.deps;
    const ready = this.deps.readiness();
    const queue = (await metrics.inference.queueDepth.get()).values[0]?.value ?? 0;
    const undelivered: Record<string, number> = {};
    for (const v of (await metrics.kakao.undelivered.get()).values) undelivered[String(v.labels.reason)] = v.value;
    const samples = this.analysed;
    const span = samples.length - 1;
    const perSecond = span > 0 ? (samples[span]! - samples[0]!) / span : 0;
    return {
      now_ms: Date.now(),
      status: ready.status,
      reasons: ready.reasons ?? [],
      device: ready.device ?? null,
      workers: ready.workers ?? null,
      queue_depth: queue,
      analyses_per_second: Math.round(perSecond * 10) / 10,
      streams_open: this.deps.openStreams(),
      kakao: { ...(await this.kakaoState()), undelivered },
    };
  }

  close(): void {
    clearInterval(this.timer);
    this.unwatch();
    this.unsubscribe();
    this.listeners.clear();
  }

  /** The token check, cut to what the page may show: valid or why not, and lifetimes. Never a token. */
  private async kakaoState(): Promise<Record<string, unknown>> {
    const now = Date.now();
    if (!this.kakaoCheck || now - this.kakaoCheck.at > KAKAO_CHECK_TTL_MS) {
      this.kakaoCheck = { at: now, value: this.deps.events.kakaoTokenCheck() };
    }
    const check = await this.kakaoCheck.value;
    const token = (check.token ?? {}) as Record<string, unknown>;
    const pick = (key: string) => (key in token ? token[key] : null);
    return {
      token_valid: check.ok === true,
      error: check.ok === true ? null : String(check.err ?? 'unknown'),
      expires_at: pick('expires_at'),
      expires_in: pick('expires_in'),
      refresh_token_state: pick('refresh_token_state'),
      refresh_token_expires_in: pick('refresh_token_expires_in'),
      checked_at_ms: this.kakaoCheck.at,
    };
  }

  private async tick(): Promise<void> {
    const changed: CameraView[] = this.deps.board.takeChanged();
    if (changed.length) this.broadcast({ name: 'cameras', data: { now_ms: Date.now(), cameras: changed } });
    else this.broadcast({ name: 'tick', data: { now_ms: Date.now() } });
    const sum = (await this.deps.metrics.inference.batchSize.get()).values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
    this.analysed.push(sum);
    if (this.analysed.length > RATE_WINDOW + 1) this.analysed.shift();
  }

  private broadcast(message: FeedMessage): void {
    for (const listener of this.listeners) listener(message);
  }
}

function feedMessage(change: BoardChange): FeedMessage {
  if (change.kind === 'delivery') return { name: 'delivery', data: { event_id: change.event_id, delivery: change.delivery } };
  const type = change.entry.record.event_type;
  return { name: 'event', data: change.entry, chatty: type !== 'START' && type !== 'END' };
}
