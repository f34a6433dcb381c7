/**
 * Messages between the main thread's writer client and the writer thread. Plain data only: they
 * cross a MessagePort by structured clone.
 */
import type { ErrorData } from './errors.js';

export const FSYNC_POLICIES = ['batch', 'interval', 'never'] as const;
export type FsyncPolicy = (typeof FSYNC_POLICIES)[number];

/** The event log's settings (BACKEND_EVENT_*), as the writer thread gets them. */
export interface EventsConfig {
  /** Absolute path, or null to keep no file. */
  logPath: string | null;
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

/** The writer thread's workerData. Holds Kakao secrets: never log it whole. */
export interface WriterInit {
  events: EventsConfig;
  kakao: KakaoConfig;
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

export type KakaoDebugCall = { kind: 'token-check' } | { kind: 'send-test'; text: string };

export type WriterIn =
  /** Lines with sequence numbers seq-count+1 … seq, each ending in "\n"; alerts fire once they are written. */
  | { type: 'append'; seq: number; count: number; lines: string; alerts: AlertRequest[] }
  /** Reopen the log file (SIGHUP, after logrotate moved it). */
  | { type: 'reopen' }
  | { type: 'kakao-call'; id: number; call: KakaoDebugCall }
  /** Write everything received so far, give Kakao work up to kakaoGraceMs, close, answer 'closed'. */
  | { type: 'close'; kakaoGraceMs: number };

export type KakaoCounter = 'sends' | 'undelivered' | 'refreshes';

export type WriterOut =
  /** Start-up done: the log's last lines (oldest first) for the recent list, and what was found at its end. */
  | { type: 'ready'; tail: string[]; tornBytes: number; oversizedLines: number; problem: string | null }
  /** Every line up to and including `seq` is written (and synced, per the fsync policy). */
  | { type: 'written'; seq: number; count: number }
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
  | { type: 'closed' };
