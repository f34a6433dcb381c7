/**
 * The watch page's events page by page: the first page from the camera board (live, with the memos'
 * deliveries), older ones from the event store through EventLog.page, back to the store's start.
 *
 * A page's `next` is opaque to the page. It is one of
 *   store.<store cursor>           the store's page from there (empty: from its newest record);
 *   after.<event id>.<store cursor> what is older than that event, the oldest one the board's page
 *                                  showed (id in base64url): the store is read from its newest
 *                                  record (or the cursor) until that event is met.
 * The board keeps the newest records in the store's order, so the event is met about one page in;
 * a search that goes on longer answers an empty page whose `next` carries on from where it stopped.
 * Store cursors are decimal numbers (the file's byte offsets, the stream's sequences).
 */
import type { EventPage, EventPageQuery } from '../contracts/writer.js';
import { AppError } from '../common/errors.js';
import type { EventFilter } from '../common/event-filter.js';
import { storePosition } from '../common/store-cursor.js';
import type { EventLog } from '../events/event-log.js';
import { parseRecord, type EventRecord } from '../events/records.js';
import type { CameraBoard, Delivery } from './camera-board.js';

export interface EventsQuery extends EventFilter {
  limit: number;
}

/** An event as a page lists it: the board's entry, or one only the store still has. */
export interface ListedEvent {
  /** The board's sequence number; null for an event the board no longer keeps. */
  seq: number | null;
  /** When the server received it; for an event only the store has, its record's timestamp (null when unreadable). */
  received_ms: number | null;
  record: EventRecord;
  /** The memo's delivery as the board knows it; unknown for an event it no longer keeps. */
  delivery: Delivery | { state: 'unknown' };
}

export interface EventsPage {
  events: ListedEvent[];
  /** The cursor of the next older page, or null at the store's start. */
  next: string | null;
}

/** The longest cursor this server makes: an after cursor of the longest event id it puts in one. */
export const MAX_CURSOR_CHARS = 256;
const MAX_CURSOR_ID_BYTES = 150;
/** Store pages one request reads while looking for the event of an after cursor. */
const SEARCH_CALLS = 4;
const SEARCH_LIMIT = 500;

type Cursor = { kind: 'store'; store: string | null } | { kind: 'after'; eventId: string; store: string | null };

export class EventHistory {
  constructor(private readonly board: CameraBoard, private readonly store: Pick<EventLog, 'page'>) {}

  /** The newest events the board keeps; `next` goes on into the store. */
  first(query: EventsQuery): EventsPage {
    const events = this.board.events(query);
    const oldest = events[events.length - 1]?.record.event_id;
    // An id too long for a cursor (a hand-edited log) starts the store from its newest record: the page drops the repeats.
    const next = oldest && Buffer.byteLength(oldest) <= MAX_CURSOR_ID_BYTES ? afterCursor(oldest, null) : storeCursor(null);
    return { events, next };
  }

  /** The page an earlier page's `next` points at; AppError invalid_input for a cursor this server did not make. */
  async older(cursor: string, query: EventsQuery): Promise<EventsPage> {
    const at = parseCursor(cursor);
    if (at.kind === 'store') {
      const page = await this.read(query, at.store, query.limit);
      return { events: this.listed(records(page.lines)), next: continueAt(page) };
    }
    return this.olderThan(at.eventId, at.store, query);
  }

  private async olderThan(eventId: string, from: string | null, query: EventsQuery): Promise<EventsPage> {
    let before = from;
    for (let call = 0; call < SEARCH_CALLS; call++) {
      const page = await this.read(query, before, SEARCH_LIMIT);
      const found = records(page.lines);
      const at = found.findIndex((r) => r?.event_id === eventId);
      if (at >= 0) {
        if (found.length - at - 1 <= query.limit) return { events: this.listed(found.slice(at + 1)), next: continueAt(page) };
        // A store cursor falls between pages: read the same place again, only as far as this page needs.
        const again = await this.read(query, before, at + 1 + query.limit);
        const rest = records(again.lines);
        return { events: this.listed(rest.slice(rest.findIndex((r) => r?.event_id === eventId) + 1)), next: continueAt(again) };
      }
      // Not in the store (a rotated log, an expired record): everything the store holds is newer.
      if (page.next === null) return { events: [], next: null };
      before = page.next;
    }
    return { events: [], next: afterCursor(eventId, before) };
  }

  private read(query: EventsQuery, before: string | null, limit: number): Promise<EventPage> {
    const ask: EventPageQuery = { before, limit };
    if (query.camera) ask.camera = query.camera;
    if (query.event) ask.event = query.event;
    if (query.types?.length) ask.types = [...query.types];
    return this.store.page(ask);
  }

  /** Records from the store, with the board's entry for those it still keeps. */
  private listed(found: (EventRecord | null)[]): ListedEvent[] {
    const out: ListedEvent[] = [];
    for (const record of found) {
      if (!record) continue;
      const kept = this.board.entry(record.event_id);
      const at = Date.parse(record.timestamp);
      out.push(kept ?? { seq: null, received_ms: Number.isFinite(at) ? at : null, record, delivery: { state: 'unknown' } });
    }
    return out;
  }
}

/** Each line as a record, or null for one that is none (so indexes stay those of the lines). */
function records(lines: string[]): (EventRecord | null)[] {
  return lines.map(parseRecord);
}

function continueAt(page: EventPage): string | null {
  return page.next === null ? null : storeCursor(page.next);
}

function storeCursor(store: string | null): string {
  return `store.${store ?? ''}`;
}

function afterCursor(eventId: string, store: string | null): string {
  return `after.${Buffer.from(eventId).toString('base64url')}.${store ?? ''}`;
}

const STORE_CURSOR = /^store\.(\d*)$/;
const AFTER_CURSOR = /^after\.([A-Za-z0-9_-]{1,200})\.(\d*)$/;

function parseCursor(cursor: string): Cursor {
  // The store's part is checked by the stores' own rule here, so a client's bad cursor is a 422, not a store failure.
  const usable = (store: string | undefined) => !store || storePosition(store) !== null;
  const store = STORE_CURSOR.exec(cursor);
  if (store && usable(store[1])) return { kind: 'store', store: store[1] || null };
  const after = AFTER_CURSOR.exec(cursor);
  const eventId = after ? Buffer.from(after[1]!, 'base64url').toString('utf8') : '';
  if (after && eventId && usable(after[2])) return { kind: 'after', eventId, store: after[2] || null };
  throw new AppError('invalid_input', 'before: not a cursor of this server; give the `next` of an earlier page of /watch/api/events');
}
