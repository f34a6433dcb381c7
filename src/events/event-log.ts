/**
 * The event side as the HTTP routes see it: append a record (acknowledged once written), the
 * recent list, the log's readiness, the Kakao debug calls, reopen and close.
 */
import type { AlertRequest, EventPage, EventPageQuery, EventsConfig, KeyClaim, WriterInit } from '../contracts/writer.js';
import { AppError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Metrics } from '../metrics.js';
import { shownServers } from '../common/nats-url.js';
import { RecentEvents } from './recent.js';
import { parseRecord, serializeRecord, type EventRecord } from './records.js';
import { WriterClient, type AlertOutcome } from './writer-client.js';

export type { AlertOutcome };

/** Told of each record once it is written, and of each END memo's outcome (the watch page). */
export interface EventWatcher {
  written(record: EventRecord, line: string, alerted: boolean): void;
  alertOutcome(outcome: AlertOutcome): void;
}

/** The most characters one /event/recent answer holds (its newest records that fit). */
export const RECENT_ANSWER_MAX_CHARS = 4 * 1024 * 1024;

/** What the event side is built from: the writer thread's own settings. */
export type EventLogOptions = WriterInit;

export class EventLog {
  private readonly client: WriterClient;
  private readonly recent: RecentEvents;
  private readonly kakaoGraceMs: number;
  private readonly maxEventBytes: number;

  private readonly watchers = new Set<EventWatcher>();
  /** Display labels of event names (the models' `labels`), put on each memo. */
  private labels: () => Readonly<Record<string, string>> = () => ({});

  private constructor(client: WriterClient, recent: RecentEvents, kakaoGraceMs: number, maxEventBytes: number) {
    this.client = client;
    client.onAlertOutcome = (outcome) => { for (const w of this.watchers) w.alertOutcome(outcome); };
    client.onFollowed = (lines, positions, alerted) => this.followed(lines, positions, alerted);
    this.recent = recent;
    this.kakaoGraceMs = kakaoGraceMs;
    this.maxEventBytes = maxEventBytes;
  }

  /** Starts the writer thread and refills the recent list from the log's tail. */
  static async open(options: EventLogOptions, logger: Logger, metrics: Metrics): Promise<EventLog> {
    const { events, kakao } = options;
    const start = await WriterClient.start(options, logger, metrics);
    const recent = new RecentEvents(events.keepRecent);
    const refill = recent.refill(start.tail, start.tailPositions ?? undefined);
    const facts = events.store === 'nats'
      ? { store: 'nats', stream: describeStore(events), replica: events.nats?.replicaId, recent: refill.loaded }
      : { store: 'file', path: events.logPath, recent: refill.loaded, fsync: events.fsync };
    if (start.tornBytes || refill.invalid || start.oversizedLines) {
      logger.warn({ ...facts, torn_last_line_bytes: start.tornBytes, invalid_lines: refill.invalid, oversized_lines: start.oversizedLines },
        'event log tail had lines that were skipped');
    } else {
      logger.info(facts, 'event log open');
    }
    if (start.client.readiness()) logger.error({ problem: start.client.readiness() }, 'event log is not writable; events are refused until it is');
    return new EventLog(start.client, recent, kakao.timeoutMs, events.maxEventBytes);
  }

  /**
   * Resolves after the line has been written (and synced, per the fsync policy), then the record
   * joins the recent list. Rejects with AppError event_backlog_full | event_log_unavailable |
   * shutting_down, or payload_too_large for a line over BACKEND_EVENT_MAX_BYTES (before anything
   * is written). alert=true (END events) sends a Kakao memo once the line is written.
   */
  append(record: EventRecord, options?: { alert?: boolean }): Promise<void> {
    const line = serializeRecord(record);
    // Bounds what one event costs everywhere it goes: the log, the recent list, every /event/recent answer.
    const bytes = Buffer.byteLength(line);
    if (bytes > this.maxEventBytes) {
      return Promise.reject(new AppError('payload_too_large', `the event is ${bytes} bytes as a log line; the limit is ${this.maxEventBytes} (BACKEND_EVENT_MAX_BYTES)`));
    }
    const alert = options?.alert ? alertFor(record, this.labels()) : null;
    // Acks settle in FIFO order; a shared store's positions place the line among the other replicas' records.
    return this.client.append(line, alert).then((position) => {
      this.recent.push(line, position);
      for (const w of this.watchers) w.written(record, line, alert !== null);
    });
  }

  /** Where memos get the display labels of event names (the models' `labels`; {} = the names as they are). */
  useLabels(labels: () => Readonly<Record<string, string>>): void {
    this.labels = labels;
  }

  /** Adds a watcher of written records and memo outcomes; returns its removal. */
  watch(watcher: EventWatcher): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  /**
   * The last `limit` records, oldest first (limit <= 0 → []), as a JSON array of the lines written
   * (floats keep their Python form); only the newest that fit in RECENT_ANSWER_MAX_CHARS.
   */
  recentJson(limit: number): string {
    return this.recent.lastJson(limit, RECENT_ANSWER_MAX_CHARS);
  }

  /** A page of older records from the whole store, newest first (the watch page's history). */
  page(query: EventPageQuery): Promise<EventPage> {
    return this.client.page(query);
  }

  /** Claims an Idempotency-Key in the store's shared bucket (store 'nats' only). */
  claimKey(key: string, fingerprint: string, eventId: string): Promise<KeyClaim> {
    return this.client.claimKey(key, fingerprint, eventId);
  }

  /** Settles a key claimed: done when its record was written, else let go so its retry writes. */
  settleKey(key: string, fingerprint: string, revision: number, eventId: string, written: boolean): void {
    this.client.settleKey(key, fingerprint, revision, eventId, written);
  }

  /** Null while the log is writable, else the reason (for /ready). */
  readiness(): string | null {
    return this.client.readiness();
  }

  /** {ok:true, response:<user/me body>, token:{…}} or {ok:false, err, token?}; never contains a token. */
  kakaoTokenCheck(): Promise<Record<string, unknown>> {
    return this.client.kakaoCall({ kind: 'token-check' });
  }

  /** {ok: result_code === 0, response} or {ok:false, err, response?}. */
  kakaoSendTest(text: string): Promise<Record<string, unknown>> {
    return this.client.kakaoCall({ kind: 'send-test', text });
  }

  /** Reopens the log file (SIGHUP, after logrotate moved it). */
  reopen(): void {
    this.client.reopen();
  }

  /** Refuses new appends (shutting_down), writes every pending line, gives Kakao work up to kakaoGraceMs (default: one Kakao timeout), stops the thread. */
  close(options?: { kakaoGraceMs?: number }): Promise<void> {
    return this.client.close(options?.kakaoGraceMs ?? this.kakaoGraceMs);
  }

  /**
   * Records other replicas stored: they join the recent list and the watchers as this replica's own
   * do (an END whose memo some replica sends shows as pending until its outcome comes). Whatever
   * reached the stream's subjects comes here: a line that is no record, or larger than this
   * replica would store, is skipped.
   */
  private followed(lines: string[], positions: number[], alerted: boolean[]): void {
    for (const [i, line] of lines.entries()) {
      const record = Buffer.byteLength(line) <= this.maxEventBytes ? parseRecord(line) : null;
      if (!record) continue;
      this.recent.push(line, positions[i] ?? null);
      for (const w of this.watchers) w.written(record, line, alerted[i] === true);
    }
  }
}

/**
 * Where records are stored, for /ready and the logs: the file's path (null: none), or the NATS
 * servers and stream as `nats://host:4222/STREAM` (without any user or password in the URL).
 */
export function describeStore(events: EventsConfig): string | null {
  if (events.store === 'file' || !events.nats) return events.logPath;
  return `${shownServers(events.nats.servers)}/${events.nats.stream}`;
}

function alertFor(record: EventRecord, labels: Readonly<Record<string, string>>): AlertRequest {
  const data = record.data ?? {};
  const num = (v: unknown) => (typeof v === 'number' ? v : null);
  const event = typeof data.event === 'string' ? data.event : null;
  return {
    event_id: record.event_id,
    session_id: record.session_id,
    event,
    label: event !== null && Object.hasOwn(labels, event) ? labels[event] ?? null : null,
    duration_sec: num(data.duration_sec),
    ts: num(data.ts),
    frame_idx: num(data.frame_idx),
    received_at_ms: Date.now(),
  };
}
