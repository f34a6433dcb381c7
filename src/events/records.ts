/**
 * Event records: the agents' payload (or the structured form) → the record written to the JSONL
 * log, and that record → the exact line the seed wrote with Python's
 * json.dumps(record, ensure_ascii=False).
 */
import { randomUUID } from 'node:crypto';
import type { EventPayloadInput } from '../contracts/api.js';
import { AppError } from '../common/errors.js';
import { parseJsonObject } from '../common/parse-json-object.js';
import { pythonJson, pythonObject } from '../common/python-format.js';
import { MAX_NESTING_DEPTH } from '../validation/input-limits.js';

export interface EventRecord {
  timestamp: string;
  event_type: string;
  session_id: string | null;
  user_id: string | null;
  /** The payload's fields (all of them, nulls included); null when a structured event has none, as the seed kept it. */
  data: Record<string, unknown> | null;
  event_id: string;
}

/**
 * A stored line as a record, or null when it is none: not a JSON object, a field of another type,
 * or nested deeper than MAX_NESTING_DEPTH (what this server writes passed that check; a line
 * another replica or a hand edit put in the store need not have, and JSON.stringify of a deep one
 * overflows the stack wherever it is answered).
 */
export function parseRecord(line: string): EventRecord | null {
  return asRecord(parseJsonObject(line));
}

/** A parsed value as a record, or null when it is none (as parseRecord). */
export function asRecord(value: unknown): EventRecord | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !nestsWithin(value, MAX_NESTING_DEPTH)) return null;
  const { timestamp, event_type, session_id, user_id, data, event_id } = value as Record<string, unknown>;
  const nullOrString = (v: unknown) => v === null || typeof v === 'string';
  const ok = typeof timestamp === 'string' && typeof event_type === 'string' && typeof event_id === 'string' &&
    nullOrString(session_id) && nullOrString(user_id) && (data === null || (typeof data === 'object' && !Array.isArray(data)));
  return ok ? (value as unknown as EventRecord) : null;
}

/** Whether `value` nests at most `levels` arrays and objects deep (recursing no deeper than that). */
function nestsWithin(value: unknown, levels: number): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (levels === 0) return false;
  for (const item of Object.values(value)) if (!nestsWithin(item, levels - 1)) return false;
  return true;
}

/** The validated `event` object of `POST /event/`. */
export interface StructuredEventInput {
  timestamp: string | number;
  event_type: string;
  session_id?: string | null;
  user_id?: string | null;
  data?: Record<string, unknown> | null;
}

/** Payload fields Python declared as float: they print as floats (5 → 5.0) whatever JSON carried. */
export const PAYLOAD_FLOAT_FIELDS: ReadonlySet<string> = new Set(['ts', 'prob', 'duration_sec', 'top_prob', 'probs']);

/**
 * `data` objects built from a payload; only these get the float typing above (a structured event's
 * data is free-form). Identity decides, so a payload record's `data` must reach serializeRecord uncopied.
 */
const payloadData = new WeakSet<object>();

/**
 * Builds the record for one `/event/payload` body, with `eventId` (an Idempotency-Key's record
 * keeps the one claimed for it). `ts` defaults to `nowSeconds`. A `probs` list is
 * turned into a map with the `events` list; a list without `events`, or of another length, throws
 * AppError('invalid_input') — this is the one place that check is made.
 */
export function recordFromPayload(payload: EventPayloadInput, nowSeconds: number, eventId = newEventId()): EventRecord {
  const ts = payload.ts ?? nowSeconds;
  const data: Record<string, unknown> = {
    type: payload.type,
    ts,
    frame_idx: payload.frame_idx ?? null,
    event: payload.event ?? null,
    prob: payload.prob ?? null,
    duration_sec: payload.duration_sec ?? null,
    state: payload.state ?? null,
    top_event: payload.top_event ?? null,
    top_prob: payload.top_prob ?? null,
    probs: probsMap(payload.probs, payload.events),
  };
  payloadData.add(data);
  return {
    timestamp: isoFromUnixSeconds(ts),
    event_type: payload.type,
    session_id: payload.session_id ?? null,
    user_id: payload.user_id ?? null,
    data,
    event_id: eventId,
  };
}

/**
 * Builds the record for one `POST /event/` body, with `eventId`; the timestamp is normalised like
 * Python's isoformat() (naive → +00:00).
 */
export function recordFromStructured(event: StructuredEventInput, eventId = newEventId()): EventRecord {
  return {
    timestamp: normaliseTimestamp(event.timestamp),
    event_type: event.event_type,
    session_id: event.session_id ?? null,
    user_id: event.user_id ?? null,
    data: event.data ?? null,
    event_id: eventId,
  };
}

/**
 * One JSONL line (no newline) byte-compatible with the seed: separators ', ' and ': ', non-ASCII
 * as-is, floats as Python repr, keys in the record's order.
 */
export function serializeRecord(record: EventRecord): string {
  const data = record.data;
  const floatFields = data !== null && payloadData.has(data) ? PAYLOAD_FLOAT_FIELDS : null;
  return `{"timestamp": ${JSON.stringify(record.timestamp)}, "event_type": ${JSON.stringify(record.event_type)}, ` +
    `"session_id": ${pythonJson(record.session_id)}, "user_id": ${pythonJson(record.user_id)}, ` +
    `"data": ${data === null ? 'null' : pythonObject(data, floatFields)}, "event_id": ${JSON.stringify(record.event_id)}}`;
}

function probsMap(probs: EventPayloadInput['probs'], events: EventPayloadInput['events']): Record<string, number> | null {
  if (!Array.isArray(probs)) return probs ?? null;
  if (!Array.isArray(events)) throw new AppError('invalid_input', 'probs: a list of probabilities needs an events list of the same length');
  if (events.length !== probs.length) {
    throw new AppError('invalid_input', `probs: expected ${events.length} values to match events, got ${probs.length}`);
  }
  // fromEntries defines own properties: an event named "__proto__" is kept like any other name.
  return Object.fromEntries(events.map((name, i) => [name, probs[i]!]));
}

/** A record's event_id: 32 hex digits. */
export function newEventId(): string {
  return randomUUID().replaceAll('-', '');
}

/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range of Python's datetime. */
const MIN_SECONDS = -62_135_596_800;
const MAX_SECONDS = 253_402_300_799;

/** ISO 8601 UTC with +00:00 like Python's datetime.fromtimestamp(s, timezone.utc).isoformat(): microseconds (half-even) only when non-zero. */
export function isoFromUnixSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < MIN_SECONDS || seconds >= MAX_SECONDS + 1) {
    throw new AppError('invalid_input', `ts: ${seconds} is out of the datetime range`);
  }
  // Same steps as CPython's _PyTime_ObjectToTimeval: modf, scale, round half to even, carry.
  let whole = Math.trunc(seconds);
  let micros = roundHalfEven((seconds - whole) * 1e6);
  if (micros >= 1e6) { whole += 1; micros -= 1e6; } else if (micros < 0) { whole -= 1; micros += 1e6; }
  const d = new Date(whole * 1000);
  return formatIso(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), micros, '+00:00');
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function formatIso(y: number, mo: number, d: number, h: number, mi: number, s: number, micros: number, offset: string): string {
  const fraction = micros ? `.${pad(micros, 6)}` : '';
  return `${pad(y, 4)}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}${fraction}${offset}`;
}

const ISO_DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(?:([Zz])|([+-])(\d{2}):?(\d{2})?)?$/;

/** What pydantic's datetime accepts in practice: ISO 8601 (date, or date and time, optional offset) or unix seconds. */
function normaliseTimestamp(value: string | number): string {
  if (typeof value === 'number') return isoFromUnixSeconds(value);
  const text = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(text)) return isoFromUnixSeconds(Number(text));
  const m = ISO_DATETIME.exec(text);
  if (!m) throw new AppError('invalid_input', `timestamp: invalid datetime ${JSON.stringify(value)}`);
  const [y, mo, d, h = 0, mi = 0, s = 0] = m.slice(1, 7).map((part) => (part === undefined ? undefined : Number(part)));
  const micros = m[7] ? Number(m[7].slice(0, 6).padEnd(6, '0')) : 0;
  const offsetH = m[10] ? Number(m[10]) : 0;
  const offsetM = m[11] ? Number(m[11]) : 0;
  const leap = y! % 4 === 0 && (y! % 100 !== 0 || y! % 400 === 0);
  const daysInMonth = mo === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(mo!) ? 30 : 31;
  if (y! < 1 || mo! < 1 || mo! > 12 || d! < 1 || d! > daysInMonth || h >= 24 || mi >= 60 || s >= 60 || offsetH >= 24 || offsetM >= 60) {
    throw new AppError('invalid_input', `timestamp: invalid datetime ${JSON.stringify(value)}`);
  }
  const zero = offsetH === 0 && offsetM === 0;
  const offset = m[9] && !zero ? `${m[9]}${pad(offsetH)}:${pad(offsetM)}` : '+00:00';
  return formatIso(y!, mo!, d!, h, mi, s, micros, offset);
}
