/**
 * The END-alert policy (KAKAO.md): a cooldown per (session, event), kept in this process or shared
 * by the replicas of the NATS store (kakao-cooldowns.ts); a bounded queue sent up to
 * SEND_SLOTS memos at once, newest alert first, memos older than the max age dropped as stale;
 * bounded exponential back-off with jitter for transient errors only, the retry waiting on a timer
 * outside the send slots; a pause after a quota error; and every alert that is not delivered
 * counted with its reason and logged (bursts summed up).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { KakaoConfig, AlertRequest, KakaoCounter } from '../../src/contracts/writer.js';
import { systemClock, type Clock } from './kakao-clock.js';
import { describeError, KAKAO_CONNECTIONS, type KakaoApi, type KakaoError, type KakaoReply } from './kakao-client.js';
import { MemoryCooldowns, type Cooldown, type Cooldowns } from './kakao-cooldowns.js';
import { DropLog } from './kakao-drop-log.js';
import type { KakaoTokens } from './kakao-tokens.js';
import { cutMemo, memoLink, memoText, templateObject } from './memo.js';

export interface KakaoAlertsDeps {
  config: KakaoConfig;
  client: KakaoApi;
  tokens: KakaoTokens;
  logger: Logger;
  report(counter: KakaoCounter, label: string): void;
  /** What became of one alert: delivered, or not with its reason (said once per alert). */
  outcome?(alert: AlertRequest, delivered: boolean, reason: string | null): void;
  clock?: Clock;
}

/** Memos in flight at once: one per connection, so a slow Kakao answer holds back no other memo. */
export const SEND_SLOTS = KAKAO_CONNECTIONS;
/** Alerts waiting for a slot or a retry; past this the oldest is dropped for the new one. */
export const QUEUE_MAX = 100;
const MAX_ATTEMPTS = 4;
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 8_000;
/** Kakao's quotas are daily: probing once an hour costs little and notices the reset. */
const QUOTA_PAUSE_MS = 60 * 60_000;

/** An accepted alert on its way to Kakao. */
interface Pending {
  alert: AlertRequest;
  template: string;
  attempts: number;
  /** The cooldown it started, given back if it is pushed out of a full queue unsent. */
  cooldown: Cooldown | null;
}

export class KakaoAlerts {
  private readonly deps: KakaoAlertsDeps;
  private readonly clock: Clock;
  /** Ready to send, in arrival order; the newest is taken first. */
  private readonly ready: Pending[] = [];
  /** Waiting out a back-off, each with the cancel of its timer; they hold no send slot. */
  private readonly retrying = new Map<Pending, () => void>();
  private readonly inFlight = new Set<Promise<void>>();
  private cooldowns: Cooldowns = new MemoryCooldowns();
  /** Alerts waiting for a shared cooldown's answer before they join the queue. */
  private starting = 0;
  private readonly dropLogs: { queue_full: DropLog; stale: DropLog };
  private readonly idleWaiters: Array<() => void> = [];
  private pausedUntil = 0;
  private closed = false;

  constructor(deps: KakaoAlertsDeps) {
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.dropLogs = { queue_full: new DropLog('queue_full', deps.logger, this.clock), stale: new DropLog('stale', deps.logger, this.clock) };
  }

  /** Keeps the cooldowns in `cooldowns` (shared by the replicas) instead of this process's memory. */
  useCooldowns(cooldowns: Cooldowns): void {
    this.cooldowns = cooldowns;
  }

  /** Takes an alert for an END event that has been written; never blocks. */
  enqueue(alert: AlertRequest): void {
    const refusal = this.refusal();
    if (refusal) return this.undelivered(alert, refusal);
    const cooldownMs = this.deps.config.cooldownSec * 1000;
    if (cooldownMs <= 0) return this.accept(alert, null);
    const admit = (cooldown: Cooldown | null) => (cooldown ? this.accept(alert, cooldown) : this.undelivered(alert, 'cooldown'));
    const started = this.cooldowns.start(cooldownKey(alert), this.clock.now(), cooldownMs, alert.event_id);
    if (!(started instanceof Promise)) return admit(started);
    this.starting++;
    void started.then((cooldown) => {
      this.starting--;
      admit(cooldown);
      this.pump(); // wakes close() when this was the last alert it waited for
    });
  }

  /** The send-test debug answer: the given text as a memo, outside the queue, the cooldown and the quota pause. */
  async sendTest(text: string): Promise<Record<string, unknown>> {
    const { config, tokens } = this.deps;
    if (!tokens.usable()) return { ok: false, err: tokens.missingReason() };
    const reply = await this.send(templateObject(cutMemo(text), config.linkUrl, config.buttonTitle));
    if (reply.ok) return { ok: true, response: reply.body };
    const response = reply.error.body === undefined ? {} : { response: reply.error.body };
    return { ok: false, err: describeError(reply.error), ...response };
  }

  /** Lets queued, retrying and in-flight alerts finish for up to graceMs, then abandons the rest (counted as 'shutdown'). */
  async close(graceMs: number): Promise<void> {
    if (graceMs > 0 && !this.idle()) {
      await Promise.race([new Promise<void>((resolve) => this.idleWaiters.push(resolve)), sleep(graceMs, undefined, { ref: false })]);
    }
    this.closed = true;
    for (const pending of this.ready.splice(0)) this.undelivered(pending.alert, 'shutdown');
    for (const [pending, cancel] of this.retrying) {
      cancel();
      this.undelivered(pending.alert, 'shutdown');
    }
    this.retrying.clear();
    this.dropLogs.queue_full.flush();
    this.dropLogs.stale.flush();
  }

  /** Waits for the memos in flight to settle after close() aborted them. */
  async settled(): Promise<void> {
    await Promise.all(this.inFlight);
  }

  /** Why no alert is taken now, before its cooldown is asked; null when they are. */
  private refusal(): string | null {
    if (this.closed) return 'shutdown';
    const tokens = this.deps.tokens.refusal();
    if (tokens) return tokens;
    if (this.clock.now() < this.pausedUntil) return 'quota_paused';
    return null;
  }

  /** Queues an alert that passed the refusals and its cooldown (null: none is set). */
  private accept(alert: AlertRequest, cooldown: Cooldown | null): void {
    // A shared cooldown answered after close().
    if (this.closed) return this.undelivered(alert, 'shutdown');
    if (this.ready.length + this.retrying.size >= QUEUE_MAX) this.dropOldest();
    const { config } = this.deps;
    const template = templateObject(cutMemo(memoText(alert, config.timeZone)), memoLink(alert, config), config.buttonTitle);
    this.ready.push({ alert, template, attempts: 0, cooldown });
    this.pump();
  }

  /** A full queue makes room for the new alert by dropping the oldest waiting one, which was never sent. */
  private dropOldest(): void {
    const oldest = [...this.ready, ...this.retrying.keys()].reduce((a, b) => (b.alert.received_at_ms < a.alert.received_at_ms ? b : a));
    const at = this.ready.indexOf(oldest);
    if (at >= 0) this.ready.splice(at, 1);
    this.retrying.get(oldest)?.();
    this.retrying.delete(oldest);
    // Its camera's next END must not be held back by a cooldown for a memo that never went out.
    oldest.cooldown?.giveBack();
    this.undelivered(oldest.alert, 'queue_full');
  }

  /** Starts memos while slots are free: stale ones dropped first, then the newest alert first. */
  private pump(): void {
    if (this.closed) return;
    if (this.clock.now() < this.pausedUntil) {
      for (const pending of this.ready.splice(0)) this.undelivered(pending.alert, 'quota_paused');
    }
    this.dropStale();
    while (this.inFlight.size < SEND_SLOTS && this.ready.length > 0) {
      const sending = this.attempt(this.takeNewest()).finally(() => {
        this.inFlight.delete(sending);
        this.pump();
      });
      this.inFlight.add(sending);
    }
    if (this.idle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private dropStale(): void {
    const maxAgeMs = this.deps.config.maxAgeSec * 1000;
    if (maxAgeMs <= 0) return;
    const now = this.clock.now();
    for (let i = this.ready.length - 1; i >= 0; i--) {
      const pending = this.ready[i]!;
      if (now - pending.alert.received_at_ms > maxAgeMs) {
        this.ready.splice(i, 1);
        this.undelivered(pending.alert, 'stale');
      }
    }
  }

  private takeNewest(): Pending {
    let newest = this.ready.length - 1;
    for (let i = newest - 1; i >= 0; i--) {
      if (this.ready[i]!.alert.received_at_ms > this.ready[newest]!.alert.received_at_ms) newest = i;
    }
    return this.ready.splice(newest, 1)[0]!;
  }

  private idle(): boolean {
    return this.ready.length === 0 && this.retrying.size === 0 && this.inFlight.size === 0 && this.starting === 0;
  }

  private async attempt(pending: Pending): Promise<void> {
    const { logger } = this.deps;
    const { alert } = pending;
    pending.attempts++;
    const reply = await this.send(pending.template);
    if (reply.ok) {
      logger.info({ session_id: alert.session_id, event: alert.event, attempt: pending.attempts }, 'Kakao memo sent');
      this.deps.outcome?.(alert, true, null);
      return;
    }
    const error = reply.error;
    if (this.closed) return this.undelivered(alert, 'shutdown', error);
    if (error.kind === 'transient' && pending.attempts < MAX_ATTEMPTS) return this.retryLater(pending, error);
    if (error.kind === 'quota') this.pause(error);
    if (error.kind === 'bad_request') logger.error({ template: pending.template }, 'Kakao rejected the memo as malformed (-2)');
    this.undelivered(alert, this.reason(error), error);
  }

  /** The retry waits on a timer, not in a send slot: later alerts go out meanwhile. */
  private retryLater(pending: Pending, error: KakaoError): void {
    const delay = backoff(pending.attempts);
    this.deps.logger.warn({ error: describeError(error), attempt: pending.attempts, retry_in_ms: delay }, 'Kakao memo failed; retrying');
    this.retrying.set(pending, this.clock.setTimer(() => {
      this.retrying.delete(pending);
      this.ready.push(pending);
      this.pump();
    }, delay));
  }

  private pause(error: KakaoError): void {
    const now = this.clock.now();
    // Memos in flight together may all hit the quota: one line says it.
    if (now >= this.pausedUntil) {
      this.deps.logger.warn({ error: describeError(error), paused_until: new Date(now + QUOTA_PAUSE_MS).toISOString() }, 'Kakao quota exceeded; memos paused');
    }
    this.pausedUntil = now + QUOTA_PAUSE_MS;
  }

  /** One memo through the token layer (which may refresh and retry once); every HTTP attempt is counted by outcome. */
  private send(template: string): Promise<KakaoReply> {
    const { client, tokens, report } = this.deps;
    return tokens.authorized(async (token) => {
      const reply = await client.sendMemo(token, template);
      report('sends', reply.ok ? 'ok' : reply.error.kind);
      return reply;
    });
  }

  private reason(error: KakaoError): string {
    if (error.kind === 'unauthorized' && this.deps.tokens.refreshState === 'invalid') return 'refresh_token_invalid';
    return error.kind;
  }

  private undelivered(alert: AlertRequest, reason: string, error?: KakaoError): void {
    this.deps.report('undelivered', reason);
    this.deps.outcome?.(alert, false, reason);
    const fields = {
      reason,
      session_id: alert.session_id,
      event: alert.event,
      ...(error ? { error: describeError(error), required_scopes: requiredScopes(error) } : {}),
    };
    if (reason === 'queue_full' || reason === 'stale') {
      this.dropLogs[reason].drop({ ...fields, received_at: new Date(alert.received_at_ms).toISOString() });
      return;
    }
    // Without a token every END would log the same line; that is said once at start instead.
    const level = reason === 'no_token' || reason === 'cooldown' ? 'debug' : 'warn';
    this.deps.logger[level](fields, 'Kakao alert not delivered');
  }
}

function cooldownKey(alert: AlertRequest): string {
  return `${alert.session_id ?? ''}\u0000${alert.event ?? ''}`;
}

/** Exponential, capped, with "equal jitter": half fixed, half random, so retries from many alerts spread out. */
function backoff(attempt: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

function requiredScopes(error: KakaoError): unknown {
  const body = error.body as { required_scopes?: unknown } | undefined;
  return body?.required_scopes;
}
