/** The watch page's view of the server: the shapes its JSON has, and the calls. */

export type Point = [number, number];

export interface ActiveEvent {
  event: string;
  since_ms: number;
  event_id: string | null;
}

export interface Camera {
  id: string;
  source: 'stream' | 'events';
  seen_ms: number;
  state: 'normal' | 'active' | 'silent';
  active: ActiveEvent[];
  scores: Record<string, number>;
  thresholds: Record<string, number>;
  points: Point[];
}

/** 'unknown': an event read back from the store that the server no longer keeps in memory. */
export type Delivery = { state: 'pending' } | { state: 'delivered' } | { state: 'undelivered'; reason: string } | { state: 'none' } | { state: 'unknown' };

export interface EventRecord {
  timestamp: string;
  event_type: string;
  session_id: string | null;
  user_id: string | null;
  data: Record<string, unknown> | null;
  event_id: string;
}

export interface EventEntry {
  /** Null for an event read back from the store. */
  seq: number | null;
  /** Null when an event from the store has no readable timestamp. */
  received_ms: number | null;
  record: EventRecord;
  delivery: Delivery;
}

/** A page of /watch/api/events; `next` is the opaque cursor of the next older page, null at the store's start. */
export interface EventsPage {
  events: EventEntry[];
  next: string | null;
}

export interface EventDetail extends EventEntry {
  start: EventEntry | null;
  points: Point[];
}

export interface Model {
  events: string[];
  thresholds: number[];
  labels: Record<string, string>;
}

export interface State {
  now_ms: number;
  silent_after_ms: number;
  model: Model;
  cameras: Camera[];
  events: EventEntry[];
  events_next: string | null;
}

export interface ServerPanel {
  now_ms: number;
  status: string;
  reasons: string[];
  device: string | null;
  workers: { loaded: number; expected: number } | null;
  queue_depth: number;
  analyses_per_second: number;
  streams_open: number;
  kakao: {
    token_valid: boolean;
    error: string | null;
    expires_at: string | null;
    expires_in: number | null;
    refresh_token_state: string | null;
    undelivered: Record<string, number>;
  };
}

/** Thrown for a 401: the page shows the login. */
export class Unauthorized extends Error {}

export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (res.status === 401) throw new Unauthorized('login needed');
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return (await res.json()) as T;
}

export async function login(token: string): Promise<boolean> {
  const res = await fetch('/watch/login', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  return res.status === 204;
}
