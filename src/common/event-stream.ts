/**
 * The NATS JetStream event stream (BACKEND_EVENT_STORE=nats) as its writers and its readers see it:
 * the subjects records are stored under, the headers they carry, and reading stored records by
 * sequence. The writer thread stores, follows and pages records with it; the `events` CLI reads and
 * exports them with it, without loading the server.
 *
 * A stored record's data is its JSONL line without the "\n", byte for byte as the file store
 * writes it; its stream sequence orders the store.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { AlertRequest } from '../contracts/writer.js';

/** Records stored with no memo to send. */
export const recordSubject = (stream: string) => `${stream}.record`;
/** END records whose memo some replica must send: the AlertRequest rides in ALERT_HEADER. */
export const alertSubject = (stream: string) => `${stream}.alert`;
/** Every subject of the stream, as it is created. */
export const streamSubjects = (stream: string) => [recordSubject(stream), alertSubject(stream)];

/** The replica that stored the record (its replicaId): a replica skips its own when following. */
export const REPLICA_HEADER = 'Behavior-Replica';
/** On the alert subject: the AlertRequest as base64url JSON (header values may not hold every character). */
export const ALERT_HEADER = 'Behavior-Alert';

export function encodeAlert(alert: AlertRequest): string {
  return Buffer.from(JSON.stringify(alert), 'utf8').toString('base64url');
}

/**
 * The AlertRequest of an ALERT_HEADER value, or null when it is not a whole one. Any writer of the
 * stream may have put it there: every field is checked, as the memo is built from them all.
 */
export function decodeAlert(value: string): AlertRequest | null {
  let alert: unknown;
  try {
    alert = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  return isAlertRequest(alert) ? alert : null;
}

/** The most a Date holds (ms either side of the epoch): received_at_ms is printed as a date. */
const MAX_DATE_MS = 8.64e15;
const isNumberOrNull = (value: unknown) => value === null || (typeof value === 'number' && Number.isFinite(value));
const isStringOrNull = (value: unknown) => value === null || typeof value === 'string';

function isAlertRequest(value: unknown): value is AlertRequest {
  if (value === null || typeof value !== 'object') return false;
  const alert = value as Record<keyof AlertRequest, unknown>;
  return typeof alert.event_id === 'string'
    && isStringOrNull(alert.session_id) && isStringOrNull(alert.event) && isStringOrNull(alert.label)
    && isNumberOrNull(alert.duration_sec) && isNumberOrNull(alert.ts) && isNumberOrNull(alert.frame_idx)
    && typeof alert.received_at_ms === 'number' && Math.abs(alert.received_at_ms) <= MAX_DATE_MS;
}

export interface StoredRecord {
  /** Stream sequence: the record's place in the store. */
  seq: number;
  /** The JSONL line, without its "\n". */
  line: string;
  /** REPLICA_HEADER, or null for a record stored by something else. */
  replica: string | null;
}

/** The sequences the stream holds now; `count` 0 for an empty stream. */
export interface StreamBounds {
  first: number;
  last: number;
  count: number;
}

export async function streamBounds(jsm: JetStreamManager, stream: string): Promise<StreamBounds> {
  const { state } = await jsm.streams.info(stream);
  return { first: state.first_seq, last: state.last_seq, count: state.messages };
}

/** How many records one pull asks the server for. */
const READ_BATCH = 512;
/** A read that gets nothing for this long has lost its records (removed for age or size meanwhile). */
const READ_STALL_MS = 10_000;

/**
 * The records with sequences from `from` to `to` that the stream holds, oldest first. Ask only for a
 * range inside streamBounds(): the read ends at `to` or at the stream's end, whichever comes first.
 */
export async function* readRange(js: JetStreamClient, stream: string, from: number, to: number): AsyncGenerator<StoredRecord> {
  if (from > to) return;
  // An ordered consumer: ephemeral, in memory on one server, recreated by the client after a gap.
  const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from });
  const messages = await consumer.consume({ max_messages: Math.min(READ_BATCH, to - from + 1) });
  let stalled = false;
  const timer = setTimeout(() => { stalled = true; void messages.close(); }, READ_STALL_MS);
  try {
    for await (const msg of messages) {
      if (msg.seq > to) break;
      yield { seq: msg.seq, line: msg.string(), replica: msg.headers?.get(REPLICA_HEADER) || null };
      if (msg.seq === to || msg.info.pending === 0) break;
      timer.refresh();
    }
    if (stalled) throw new Error(`reading stream ${stream} from sequence ${from} got nothing for ${READ_STALL_MS / 1000} s`);
  } finally {
    clearTimeout(timer);
    await messages.close();
  }
}

/** A read-only connection to the stream, for clients (the `events` CLI). */
export interface EventStreamReader {
  bounds(): Promise<StreamBounds>;
  read(from: number, to: number): AsyncGenerator<StoredRecord>;
  close(): Promise<void>;
}

/** Connects once (no reconnects: a client reports the failure and exits). */
export async function openEventStreamReader(servers: string[], stream: string, timeoutMs = 5000): Promise<EventStreamReader> {
  const connection: NatsConnection = await connect({ servers, timeout: timeoutMs, reconnect: false });
  try {
    const jsm = await jetstreamManager(connection, { timeout: timeoutMs });
    const js = jetstream(connection, { timeout: timeoutMs });
    return {
      bounds: () => streamBounds(jsm, stream),
      read: (from, to) => readRange(js, stream, from, to),
      close: () => connection.close(),
    };
  } catch (err) {
    await connection.close();
    throw err;
  }
}

/**
 * Removes an event stream and the buckets named after it (KV_<stream>_…): what a benchmark or a
 * test made, leaving the NATS server as it was. Missing ones are no error.
 */
export async function removeEventStream(servers: string[], stream: string, timeoutMs = 5000): Promise<void> {
  const connection = await connect({ servers, timeout: timeoutMs, reconnect: false });
  try {
    const jsm = await jetstreamManager(connection);
    for await (const name of jsm.streams.names()) {
      if (name === stream || name.startsWith(`KV_${stream}_`)) await jsm.streams.delete(name).catch(() => false);
    }
  } finally {
    await connection.close();
  }
}
