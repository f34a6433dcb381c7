/**
 * The END-alert policy (KAKAO.md): a cooldown per (session, event), a bounded queue sent one memo
 * at a time, bounded exponential back-off with jitter for transient errors only, a pause after a
 * quota error, and every alert that is not delivered logged with its reason and counted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { KakaoConfig } from '../../src/config.js';
import type { AlertRequest, KakaoCounter } from '../../src/contracts/writer.js';
import { describeError, type KakaoClient, type KakaoError, type KakaoReply } from './kakao-client.js';
import type { KakaoTokens } from './kakao-tokens.js';
import { cutMemo, memoText, templateObject } from './memo.js';

export interface KakaoAlertsDeps {
  config: KakaoConfig;
  client: KakaoClient;
  tokens: KakaoTokens;
  logger: Logger;
  report(counter: KakaoCounter, label: string): void;
  now?: () => number;
}

/** Alerts waiting for Kakao; more are dropped (and counted) rather than held without bound. */
const QUEUE_MAX = 100;
const MAX_ATTEMPTS = 4;
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 8_000;
/** Kakao's quotas are daily: probing once an hour costs little and notices the reset. */
const QUOTA_PAUSE_MS = 60 * 60_000;
/** Cooldown entries kept; the oldest go first (a Map iterates in insertion order). */
const COOLDOWN_KEYS_MAX = 10_000;

export class KakaoAlerts {
  readonly #d: KakaoAlertsDeps;
  readonly #now: () => number;
  readonly #queue: AlertRequest[] = [];
  readonly #lastAccepted = new Map<string, number>();
  readonly #stop = new AbortController();
  #running: Promise<void> | null = null;
  #pausedUntil = 0;

  constructor(deps: KakaoAlertsDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** Takes an alert for an END event that has been written; never blocks. */
  enqueue(alert: AlertRequest): void {
    const refusal = this.#refusal(alert);
    if (refusal) {
      this.#undelivered(alert, refusal);
      return;
    }
    this.#queue.push(alert);
    this.#running ??= this.#drain().finally(() => { this.#running = null; });
  }

  /** The send-test debug answer: the given text as a memo, outside the cooldown and the quota pause. */
  async sendTest(text: string): Promise<Record<string, unknown>> {
    const { config, tokens } = this.#d;
    if (!tokens.usable()) return { ok: false, err: tokens.missingReason() };
    const reply = await this.#send(templateObject(cutMemo(text), config.linkUrl, config.buttonTitle));
    if (reply.ok) return { ok: true, response: reply.body };
    const response = reply.error.body === undefined ? {} : { response: reply.error.body };
    return { ok: false, err: describeError(reply.error), ...response };
  }

  /** Lets queued and in-flight alerts finish for up to graceMs, then abandons the rest (counted as 'shutdown'). */
  async close(graceMs: number): Promise<void> {
    if (this.#running) await Promise.race([this.#running, sleep(graceMs, undefined, { ref: false })]);
    this.#stop.abort();
    for (const alert of this.#queue.splice(0)) this.#undelivered(alert, 'shutdown');
  }

  /** Waits for the alert in flight to settle after close() aborted it. */
  async settled(): Promise<void> {
    await this.#running;
  }

  #refusal(alert: AlertRequest): string | null {
    if (this.#stop.signal.aborted) return 'shutdown';
    if (!this.#d.tokens.usable()) return 'no_token';
    const now = this.#now();
    if (now < this.#pausedUntil) return 'quota_paused';
    // Before the cooldown: an alert dropped here must not hold back the next one for its camera.
    if (this.#queue.length >= QUEUE_MAX) return 'queue_full';
    const cooldownMs = this.#d.config.cooldownSec * 1000;
    if (cooldownMs > 0) {
      const key = `${alert.session_id ?? ''}\u0000${alert.event ?? ''}`;
      const last = this.#lastAccepted.get(key);
      if (last !== undefined && now - last < cooldownMs) return 'cooldown';
      this.#lastAccepted.delete(key);
      this.#lastAccepted.set(key, now);
      if (this.#lastAccepted.size > COOLDOWN_KEYS_MAX) this.#lastAccepted.delete(this.#lastAccepted.keys().next().value!);
    }
    return null;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#stop.signal.aborted) await this.#deliver(this.#queue.shift()!);
  }

  async #deliver(alert: AlertRequest): Promise<void> {
    const { config, logger } = this.#d;
    if (this.#now() < this.#pausedUntil) return this.#undelivered(alert, 'quota_paused');
    const template = templateObject(cutMemo(memoText(alert)), config.linkUrl, config.buttonTitle);
    for (let attempt = 1; ; attempt++) {
      const reply = await this.#send(template);
      if (reply.ok) {
        logger.info({ session_id: alert.session_id, event: alert.event, attempt }, 'Kakao memo sent');
        return;
      }
      const error = reply.error;
      if (this.#stop.signal.aborted) return this.#undelivered(alert, 'shutdown', error);
      if (error.kind === 'transient' && attempt < MAX_ATTEMPTS) {
        const delay = backoff(attempt);
        logger.warn({ error: describeError(error), attempt, retry_in_ms: delay }, 'Kakao memo failed; retrying');
        try {
          await sleep(delay, undefined, { signal: this.#stop.signal });
        } catch {
          return this.#undelivered(alert, 'shutdown', error);
        }
        continue;
      }
      if (error.kind === 'quota') {
        this.#pausedUntil = this.#now() + QUOTA_PAUSE_MS;
        logger.warn({ error: describeError(error), paused_until: new Date(this.#pausedUntil).toISOString() }, 'Kakao quota exceeded; memos paused');
      }
      if (error.kind === 'bad_request') logger.error({ template }, 'Kakao rejected the memo as malformed (-2)');
      return this.#undelivered(alert, this.#reason(error), error);
    }
  }

  /** One memo through the token layer (which may refresh and retry once); every HTTP attempt is counted by outcome. */
  #send(template: string): Promise<KakaoReply> {
    const { client, tokens, report } = this.#d;
    return tokens.authorized(async (token) => {
      const reply = await client.sendMemo(token, template);
      report('sends', reply.ok ? 'ok' : reply.error.kind);
      return reply;
    });
  }

  #reason(error: KakaoError): string {
    if (error.kind === 'unauthorized' && this.#d.tokens.refreshState === 'invalid') return 'refresh_token_invalid';
    return error.kind;
  }

  #undelivered(alert: AlertRequest, reason: string, error?: KakaoError): void {
    this.#d.report('undelivered', reason);
    // Without a token every END would log the same line; that is said once at start instead.
    const level = reason === 'no_token' || reason === 'cooldown' ? 'debug' : 'warn';
    this.#d.logger[level]({
      reason,
      session_id: alert.session_id,
      event: alert.event,
      ...(error ? { error: describeError(error), required_scopes: requiredScopes(error) } : {}),
    }, 'Kakao alert not delivered');
  }
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
