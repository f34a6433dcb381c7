/**
 * Messages between the main thread's writer client and the writer thread. Plain data only: they
 * cross a MessagePort by structured clone.
 */
import type { ErrorData } from './errors.js';

export const FSYNC_POLICIES = ['batch', 'interval', 'never'] as const;
export type FsyncPolicy = (typeof FSYNC_POLICIES)[number];

/** Where event records are stored: the embedded JSONL file, or a NATS JetStream stream shared by replicas. */
export const EVENT_STORES = ['file', 'nats'] as const;
export type EventStoreKind = (typeof EVENT_STORES)[number];

/** The NATS JetStream store's settings (NATS_URL, BACKEND_NATS_*). */
export interface NatsStoreConfig {
  /** Server URLs (a cluster's several). */
  servers: string[];
  /** Stream name; its subjects, consumers and buckets are named from it. */
  stream: string;
  /** Stream (and bucket) replicas: 1 on one node, 3 on a three-node cluster. */
  replicas: number;
  /** Records older than this are removed; 0 = kept whatever their age. */
  maxAgeSec: number;
  /** The stream's size limit in bytes (oldest removed first); 0 = no limit. */
  maxBytes: number;
  /** This process among the replicas (host, pid, random): in headers, claims and logs. */
  replicaId: string;
}

/** The event log's settings (BACKEND_EVENT_*), as the writer thread gets them. */
export interface EventsConfig {
  store: EventStoreKind;
  /** The JSONL file (store 'file'): absolute path, or null to keep no file. */
  logPath: string | null;
  /** Store 'nats': its settings; null for the file store. */
  nats: NatsStoreConfig | null;
  keepRecent: number;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  backlogMax: number;
  /** Largest record line in bytes; EventLog refuses larger ones (413). */
  maxEventBytes: number;
}

/** The Kakao settings (KAKAO_*, ALERT_*), as the writer thread gets them. Holds secrets. */
export interface KakaoConfig {
  accessToken: string | null;
  restApiKey: string | null;
  refreshToken: string | null;
  clientSecret: string | null;
  tokenFile: string;
  apiBaseUrl: string;
  authBaseUrl: string;
  timeoutMs: number;
  cooldownSec: number;
  maxAgeSec: number;
  linkUrl: string | null;
  buttonTitle: string;
  /** IANA zone the memo's times of day are printed in (ALERT_TIMEZONE). */
  timeZone: string;
  /** `${BACKEND_PUBLIC_URL}/watch/events/`, or null: with it (and no linkUrl) the button opens the event's page. */
  eventPageBase: string | null;
}

/** Idempotency-Keys of event writes (BACKEND_IDEMPOTENCY_*); the writer thread keeps them for the NATS store. */
export interface IdempotencyConfig {
  windowSec: number;
  maxKeys: number;
}

/** The writer thread's workerData. Holds Kakao secrets: never log it whole. */
export interface WriterInit {
  events: EventsConfig;
  kakao: KakaoConfig;
  idempotency: IdempotencyConfig;
  logLevel: string;
}

/** What an END alert needs; taken from the record on the main thread when the request arrives. */
export interface AlertRequest {
  /** The END record's event_id: the memo's button opens its page, and the outcome is reported by it. */
  event_id: string;
  session_id: string | null;
  event: string | null;
  /** The event's display label from the model's `labels` (e.g. 낙상), or null to print the name as is. */
  label: string | null;
  duration_sec: number | null;
  ts: number | null;
  frame_idx: number | null;
  /** When the server received the event (ms since epoch); printed in local time on the memo. */
  received_at_ms: number;
}

/**
 * A page of older records asked of the store (the watch page's history), newest first. The filters
 * are those of src/common/event-filter.ts (recordMatches), as on the camera board.
 */
export interface EventPageQuery {
  /**
   * Where the previous page ended (its `next`), or null for the newest records. A decimal number
   * (the file's byte offset, the stream's sequence): the watch route refuses other cursors.
   */
  before: string | null;
  limit: number;
  camera?: string;
  event?: string;
  /** Record types (START, END, PROBS, …) wanted; absent = all. */
  types?: string[];
}

export interface EventPage {
  /** The records' lines as stored, newest first. */
  lines: string[];
  /**
   * Cursor of the next older page; null only at the start of the store. A page stopped by the
   * store's bound on one read may hold fewer lines than asked for, or none, and still has a `next`.
   */
  next: string | null;
}

/** What the NATS store's shared bucket says of an Idempotency-Key claimed for a write. */
export type KeyClaim =
  /**
   * This replica writes the record with this event_id, then settles the key at `revision`. A key
   * whose holder's lease ran out is taken over with the holder's event_id, so a record it did
   * store is not stored twice (the stream deduplicates by event_id).
   */
  | { kind: 'write'; eventId: string; revision: number }
  /** Written before with the same request: answer with its event_id, write nothing. */
  | { kind: 'answer'; eventId: string }
  /** Used before with another request (422). */
  | { kind: 'reused' }
  /** The bucket cannot be asked now (503). */
  | { kind: 'unavailable'; reason: string };

export type KakaoDebugCall = { kind: 'token-check' } | { kind: 'send-test'; text: string };

export type WriterIn =
  /** Lines with sequence numbers seq-count+1 … seq, each ending in "\n"; alerts fire once they are written. */
  | { type: 'append'; seq: number; count: number; lines: string; alerts: AlertRequest[] }
  /** Reopen the log file (SIGHUP, after logrotate moved it). */
  | { type: 'reopen' }
  | { type: 'kakao-call'; id: number; call: KakaoDebugCall }
  /** Read a page of older records from the store; answered by 'page-reply' with the same id. */
  | { type: 'page'; id: number; query: EventPageQuery }
  /** Claim an Idempotency-Key in the shared store (store 'nats'); answered by 'key-reply' with the same id. */
  | { type: 'key-claim'; id: number; key: string; fingerprint: string; eventId: string }
  /**
   * After the write of a key claimed: done once written; otherwise let go at once, so its retry
   * writes (with the same event_id: a record a failed publish did store is stored once).
   */
  | { type: 'key-settle'; key: string; fingerprint: string; revision: number; eventId: string; written: boolean }
  /** Write everything received so far, give Kakao work up to kakaoGraceMs, close, answer 'closed'. */
  | { type: 'close'; kakaoGraceMs: number };

export type KakaoCounter = 'sends' | 'undelivered' | 'refreshes';

export type WriterOut =
  /** Start-up done: the log's last lines (oldest first) for the recent list, and what was found at its end. */
  | { type: 'ready'; tail: string[]; tailPositions: number[] | null; tornBytes: number; oversizedLines: number; problem: string | null }
  /**
   * Every line up to and including `seq` is written (and synced, per the fsync policy). A shared
   * store gives the `count` lines' positions in it (stream sequences), in order; tail and followed
   * lines carry theirs too, so every replica orders its recent list alike.
   */
  | { type: 'written'; seq: number; count: number; positions: number[] | null }
  /** Lines up to `seq` that were not yet written could not be: none of their bytes remain in the log. */
  | { type: 'failed'; seq: number; error: ErrorData }
  /** The log became unwritable (problem set) or writable again (null). */
  | { type: 'health'; problem: string | null }
  /**
   * Kakao counter increments (the main thread owns the metrics registry) and what became of END
   * memos (delivered, or not and why: a kakao_alerts_undelivered_total reason), gathered per turn of
   * the writer's event loop: one message for many ENDs, not one or two each.
   */
  | { type: 'kakao-news'; counts: { counter: KakaoCounter; label: string }[]; outcomes: { event_id: string; delivered: boolean; reason: string | null }[] }
  | { type: 'kakao-reply'; id: number; body: Record<string, unknown> }
  | { type: 'page-reply'; id: number; page: EventPage | null; error: string | null }
  | { type: 'key-reply'; id: number; claim: KeyClaim }
  /**
   * Records other replicas stored (shared store only), in the store's order, as they arrive;
   * `alerted` says of each whether it is an END whose memo some replica sends.
   */
  | { type: 'followed'; lines: string[]; positions: number[]; alerted: boolean[] }
  | { type: 'closed' };
