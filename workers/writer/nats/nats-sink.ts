/**
 * The event store on NATS JetStream, shared by every replica. Each record is one message: its
 * JSONL line (without the "\n") as data, its event_id as msgID (a repeated publish is stored
 * once), the replica in a header. END records whose memo must be sent go to the alert subject
 * with their AlertRequest, for whichever replica takes it. Records stored by other replicas are
 * followed live and handed to the main thread, so every replica's recent list shows them.
 */
import { headers, TimeoutError } from '@nats-io/transport-node';
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { AlertRequest, EventPage, EventPageQuery } from '../../../src/contracts/writer.js';
import { errorMessage } from '../../../src/common/errors.js';
import { emptyLogTail } from '../../../src/common/log-tail.js';
import { storePosition } from '../../../src/common/store-cursor.js';
import { recordMatches } from '../../../src/common/event-filter.js';
import { parseJsonObject } from '../../../src/common/parse-json-object.js';
import {
  ALERT_HEADER, alertSubject, encodeAlert, readRange, recordSubject, REPLICA_HEADER, streamBounds, type StoredRecord,
} from '../../../src/common/event-stream.js';
import type { EventSink, StoreTail } from '../event-sink.js';
import type { NatsContext, NatsHandles } from './context.js';

/**
 * One publish waits up to ACK_TIMEOUT_MS for its ack and is sent again (same msgID) until
 * PUBLISH_DEADLINE_MS: long enough to wait out a stream leader's election on a cluster (a few
 * seconds), short enough that a client is answered while it still waits.
 */
const ACK_TIMEOUT_MS = 2000;
const PUBLISH_DEADLINE_MS = 6000;
/** While a cluster elects a leader nobody answers for the stream ("no responders"): pause, then retry. */
const NO_RESPONDERS_PAUSE_MS = 250;
/**
 * The most records one page() request reads, matching or not: a page of a rare camera in a big
 * store stops there and returns the cursor where it stopped, so one request stays cheap.
 */
export const PAGE_SCAN_MAX = 5000;
/** Following that stopped or could not start is tried again this often. */
const FOLLOW_RETRY_MS = 2000;
/** page() reads backwards in ranges of this many records. */
const PAGE_CHUNK = 1000;

/** The event_id ending a stored line (serializeRecord writes it last), or null. */
const EVENT_ID_AT_END = /, "event_id": "([0-9A-Za-z_-]{1,128})"\}$/;

export class NatsSink implements EventSink {
  readonly sendsAlerts = true;
  private readonly context: NatsContext;
  private readonly recordSubject: string;
  private readonly alertSubject: string;
  /** Rejections of the appends waiting for acks: a lost connection fails them at once. */
  private readonly waiting = new Set<(err: Error) => void>();
  private followed: ((lines: string[], positions: number[], alerted: boolean[]) => void) | null = null;
  private following: ConsumerMessages | null = null;
  private startingToFollow = false;
  /** The last stream sequence handed on (or read in the tail); following resumes after it. */
  private lastSeen: number | null = null;
  private batch: string[] = [];
  private batchPositions: number[] = [];
  private batchAlerted: boolean[] = [];
  private closed = false;
  private readonly stopListening: (() => void)[] = [];

  constructor(context: NatsContext) {
    this.context = context;
    this.recordSubject = recordSubject(context.config.stream);
    this.alertSubject = alertSubject(context.config.stream);
  }

  async start(maxLines: number, followed: (lines: string[], positions: number[], alerted: boolean[]) => void): Promise<StoreTail> {
    this.followed = followed;
    this.stopListening.push(this.context.onLost((reason) => this.failWaiting(reason)));
    await this.context.start(); // a stream that disagrees with the settings throws here, before 'ready'
    const tail: StoreTail = { ...emptyLogTail(), positions: [] };
    const handles = this.context.usable() ? this.context.handles : null;
    if (handles) {
      try {
        const bounds = await streamBounds(handles.jsm, this.context.config.stream);
        if (bounds.count > 0 && maxLines > 0) {
          for await (const record of readRange(handles.js, this.context.config.stream, Math.max(bounds.first, bounds.last - maxLines + 1), bounds.last)) {
            tail.lines.push(record.line);
            tail.positions!.push(record.seq);
          }
        }
        this.lastSeen = bounds.last;
      } catch (err) {
        this.context.logger.warn({ err: errorMessage(err) }, 'cannot read the event stream\'s tail; recent events start empty');
      }
    }
    // Every time the store becomes usable (now, after a reconnection) following resumes after lastSeen.
    this.stopListening.push(this.context.onUsable((usable) => void this.follow(usable)));
    return tail;
  }

  async append(batch: string, alerts: readonly AlertRequest[]): Promise<number[]> {
    const handles = this.context.usable() ? this.context.handles : null;
    if (!handles || this.closed) throw new Error(this.closed ? 'the event store is closed' : this.context.problem() ?? 'NATS is not connected');
    const alertFor = alerts.length > 0 ? new Map(alerts.map((alert) => [alert.event_id, alert])) : null;
    const lines = batch.split('\n');
    lines.pop(); // the batch ends with "\n"
    let positions: number[];
    try {
      positions = await new Promise<number[]>((resolve, reject) => {
        this.waiting.add(reject);
        // Every line at once: the acks come back pipelined on the one connection.
        Promise.all(lines.map((line) => this.publish(handles, line, alertFor)))
          .then(resolve, reject)
          .finally(() => this.waiting.delete(reject));
      });
    } catch (err) {
      if (this.context.usable()) this.context.storeFailed(errorMessage(err));
      throw err;
    }
    this.context.storeWorked();
    return positions;
  }

  async page(query: EventPageQuery): Promise<EventPage> {
    const handles = this.context.handles;
    if (!handles) throw new Error(this.context.problem() ?? 'NATS is not connected');
    const stream = this.context.config.stream;
    const bounds = await streamBounds(handles.jsm, stream);
    const lines: string[] = [];
    let before = bounds.last + 1;
    if (query.before !== null) {
      const position = storePosition(query.before);
      if (position === null) throw new Error(`not a cursor of the NATS event store: ${JSON.stringify(query.before.slice(0, 40))}`);
      before = Math.min(position, before);
    }
    const matches = (line: string) => {
      const record = parseJsonObject(line);
      return record !== null && recordMatches(record, query);
    };
    let high = before - 1;
    let scanned = 0;
    let oldestTaken = 0;
    while (bounds.count > 0 && high >= bounds.first && lines.length < query.limit && scanned < PAGE_SCAN_MAX) {
      const low = Math.max(bounds.first, high - PAGE_CHUNK + 1, high - (PAGE_SCAN_MAX - scanned) + 1);
      const range: StoredRecord[] = [];
      for await (const record of readRange(handles.js, stream, low, high)) range.push(record);
      for (let i = range.length - 1; i >= 0 && lines.length < query.limit; i--) {
        const record = range[i]!;
        if (!matches(record.line)) continue;
        lines.push(record.line);
        oldestTaken = record.seq;
      }
      scanned += high - low + 1;
      high = low - 1;
    }
    // A full page continues before its oldest record; a scan that stopped at its bound, where it stopped.
    let next: string | null = null;
    if (lines.length >= query.limit) next = oldestTaken > bounds.first ? String(oldestTaken) : null;
    else if (high >= bounds.first && bounds.count > 0) next = String(high + 1);
    return { lines, next };
  }

  /** The NATS store has no file to reopen. */
  async reopen(): Promise<void> {}

  /** Stops following; the connection itself is drained by its owner once the other NATS parts are done. */
  async close(): Promise<void> {
    this.closed = true;
    for (const stop of this.stopListening) stop();
    await this.following?.close();
    this.following = null;
    this.flushFollowed();
  }

  problem(): string | null {
    return this.context.problem();
  }

  /** Resolves with the record's stream sequence (the first one's, for a repeat within the duplicate window). */
  private async publish(handles: NatsHandles, line: string, alertFor: Map<string, AlertRequest> | null): Promise<number> {
    const eventId = EVENT_ID_AT_END.exec(line)?.[1] ?? eventIdOf(line);
    const alert = eventId !== null ? alertFor?.get(eventId) : undefined;
    const head = headers();
    head.set(REPLICA_HEADER, this.context.replicaId);
    if (alert) head.set(ALERT_HEADER, encodeAlert(alert));
    const subject = alert ? this.alertSubject : this.recordSubject;
    const deadline = Date.now() + PUBLISH_DEADLINE_MS;
    for (;;) {
      try {
        // The same msgID on every attempt: a record whose ack was lost is still stored once.
        const ack = await handles.js.publish(subject, line, { headers: head, timeout: ACK_TIMEOUT_MS, ...(eventId !== null ? { msgID: eventId } : {}) });
        return ack.seq;
      } catch (err) {
        const timedOut = err instanceof TimeoutError;
        const noResponders = (err as Error).name === 'JetStreamNotEnabled';
        const left = deadline - Date.now();
        if (!(timedOut || noResponders) || left < (timedOut ? ACK_TIMEOUT_MS : NO_RESPONDERS_PAUSE_MS) || !this.context.usable()) {
          throw new Error(timedOut ? `no ack from NATS within ${PUBLISH_DEADLINE_MS / 1000} s` : `NATS did not store the record: ${errorMessage(err)}`);
        }
        if (noResponders) await new Promise((resolve) => setTimeout(resolve, NO_RESPONDERS_PAUSE_MS));
      }
    }
  }

  private failWaiting(reason: string): void {
    const err = new Error(reason);
    for (const reject of this.waiting) reject(err);
    this.waiting.clear();
  }

  /**
   * Follows the stream after lastSeen (or from its end, when the tail could not be read at start).
   * Each time the store becomes usable this starts a new ordered consumer: after a reconnection the
   * old one may have gone with the server that held it, which the client would notice only after
   * missed heartbeats, tens of seconds later.
   */
  private async follow(handles: NatsHandles): Promise<void> {
    if (this.startingToFollow || this.closed) return;
    this.startingToFollow = true;
    const previous = this.following;
    this.following = null;
    void previous?.close().catch(() => {});
    const stream = this.context.config.stream;
    try {
      const start = this.lastSeen ?? (await streamBounds(handles.jsm, stream)).last;
      const consumer = await handles.js.consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start + 1 });
      if (this.closed) return;
      this.lastSeen = start;
      const messages = await consumer.consume({ callback: (msg) => this.take(msg) });
      this.following = messages;
      void messages.closed().then((err) => {
        if (this.following !== messages || this.closed) return;
        this.context.logger.warn({ err: err ? errorMessage(err) : null }, 'stopped following the event stream; resuming');
        this.followAgain();
      });
    } catch (err) {
      this.context.logger.warn({ err: errorMessage(err) }, 'cannot follow the event stream; trying again');
      this.followAgain();
    } finally {
      this.startingToFollow = false;
    }
  }

  /** Later, when usable (a reconnection starts following anyway). */
  private followAgain(): void {
    setTimeout(() => {
      const handles = this.context.usable() ? this.context.handles : null;
      if (handles && !this.following) void this.follow(handles);
    }, FOLLOW_RETRY_MS).unref();
  }

  private take(msg: JsMsg): void {
    if (this.lastSeen !== null && msg.seq <= this.lastSeen) return;
    this.lastSeen = msg.seq;
    // This replica's own records joined its recent list when they were acknowledged.
    if (msg.headers?.get(REPLICA_HEADER) === this.context.replicaId) return;
    if (this.batch.length === 0) setImmediate(() => this.flushFollowed());
    this.batch.push(msg.string());
    this.batchPositions.push(msg.seq);
    this.batchAlerted.push(msg.subject === this.alertSubject);
  }

  private flushFollowed(): void {
    if (this.batch.length === 0) return;
    const lines = this.batch;
    const positions = this.batchPositions;
    const alerted = this.batchAlerted;
    this.batch = [];
    this.batchPositions = [];
    this.batchAlerted = [];
    this.followed?.(lines, positions, alerted);
  }
}

function eventIdOf(line: string): string | null {
  const id = parseJsonObject(line)?.event_id;
  return typeof id === 'string' && /^[\x21-\x7e]{1,128}$/.test(id) ? id : null;
}
