/**
 * Kakao token state: the access token and its expiry, the refresh token and what Kakao last said
 * of it. Refreshes ahead of expiry and on -401, one at a time, backing off when Kakao rejects the
 * tokens it has just handed out; every refresh is saved atomically to the token file, read back at
 * start, so a restart or a rotated refresh token never breaks alerts.
 */
import { inspect } from 'node:util';
import type { Logger } from 'pino';
import type { KakaoConfig, KakaoCounter } from '../../src/contracts/writer.js';
import { systemClock, type Clock } from './kakao-clock.js';
import { describeError, type KakaoApi, type KakaoError, type KakaoReply } from './kakao-client.js';
import { readTokenFile, saveTokenFile, sha256 } from './kakao-token-file.js';

export type RefreshTokenState = 'not_configured' | 'unverified' | 'valid' | 'invalid';

export interface KakaoTokensDeps {
  config: KakaoConfig;
  client: KakaoApi;
  logger: Logger;
  report(counter: KakaoCounter, label: string): void;
  clock?: Clock;
}

/** Refresh this long before the access token expires (or a tenth of its life, if shorter). */
const REFRESH_LEAD_MS = 10 * 60_000;
/** After a failed refresh (network, Kakao down), wait this long before the next one. */
const REFRESH_RETRY_MS = 60_000;
/**
 * A refresh succeeds but Kakao answers -401 to the new token too (a revoked app, a clock or proxy
 * problem): another refresh will not help soon. The next waits this long, doubling up to the cap.
 */
const REJECTED_REFRESH_BACKOFF_MS = 30_000;
const REJECTED_REFRESH_BACKOFF_CAP_MS = 30 * 60_000;

export class KakaoTokens {
  private readonly deps: KakaoTokensDeps;
  private readonly clock: Clock;
  private access: string | null = null;
  private accessExpiresAt: number | null = null;
  private refreshToken: string | null = null;
  private refreshExpiresAt: number | null = null;
  private state: RefreshTokenState = 'not_configured';
  private source: 'env' | 'file' | 'none' = 'none';
  private refreshing: Promise<boolean> | null = null;
  private cancelTimer: (() => void) | null = null;
  /** On-demand refreshes wait until then. */
  private retryAfter = 0;
  /** The access token of the last refresh, until Kakao first accepts it. */
  private unproven: string | null = null;
  /** Refreshed tokens rejected in a row; sets the back-off. */
  private rejectedRefreshes = 0;
  private lastRefreshAt: number | null = null;
  private lastError: string | null = null;
  private closed = false;

  constructor(deps: KakaoTokensDeps) {
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
  }

  /** What a logged or serialised instance shows: its state, never a token (private fields are plain properties). */
  toJSON(): Record<string, unknown> {
    return { state: this.state, source: this.source, accessExpiresAt: this.accessExpiresAt, refreshExpiresAt: this.refreshExpiresAt };
  }

  [inspect.custom](): Record<string, unknown> {
    return this.toJSON();
  }

  get refreshState(): RefreshTokenState {
    return this.state;
  }

  /** Picks the tokens: the file's when it descends from the environment's refresh token, else the environment's. */
  load(): void {
    const { config, logger } = this.deps;
    const file = readTokenFile(config.tokenFile, logger);
    const applies = file !== null && (config.refreshToken === null || file.env_refresh_token_sha256 === sha256(config.refreshToken));
    if (file && applies) {
      this.source = 'file';
      this.refreshToken = file.refresh_token;
      this.refreshExpiresAt = parseTime(file.refresh_token_expires_at);
      const envAccessIsNew = config.accessToken !== null && sha256(config.accessToken) !== file.env_access_token_sha256;
      this.access = envAccessIsNew ? config.accessToken : file.access_token;
      this.accessExpiresAt = envAccessIsNew ? null : parseTime(file.access_token_expires_at);
    } else {
      if (file) logger.info({ path: config.tokenFile }, 'KAKAO_REFRESH_TOKEN changed since the token file was saved; using the environment');
      this.source = config.accessToken || config.refreshToken ? 'env' : 'none';
      this.access = config.accessToken;
      this.refreshToken = config.refreshToken;
    }
    this.state = config.restApiKey && this.refreshToken ? 'unverified' : 'not_configured';
  }

  /** Learns the access token's expiry (or gets one) and schedules the refresh ahead of it. */
  start(): void {
    if (!this.canRefresh()) return;
    if (this.access === null) void this.refresh('no access token');
    else if (this.accessExpiresAt === null) void this.learnExpiry();
    else this.schedule();
  }

  /** Whether a memo can be attempted at all: an access token, or a way to get one. */
  usable(): boolean {
    return this.access !== null || this.canRefresh();
  }

  /**
   * Runs a Kakao call with the access token; on -401 refreshes once (if configured and not backing
   * off) and retries once.
   */
  async authorized(call: (token: string) => Promise<KakaoReply>): Promise<KakaoReply> {
    if (this.canRefresh() && (this.access === null || this.expired())) {
      await this.refresh(this.access === null ? 'no access token' : 'access token expired');
    }
    const token = this.access;
    if (token === null) return { ok: false, error: this.noTokenError() };
    const reply = await this.judged(token, call);
    if (reply.ok || reply.error.kind !== 'unauthorized' || !this.canRefresh()) return reply;
    // Another call may have refreshed while this one was in flight: then just retry with the new token.
    if (this.access === token) await this.refresh('access token rejected (-401)');
    const next = this.access;
    return next !== null && next !== token ? this.judged(next, call) : reply;
  }

  /**
   * One refresh at a time; resolves whether a new access token was obtained. After a failure,
   * on-demand refreshes wait REFRESH_RETRY_MS (no storm); the scheduled one always runs.
   */
  refresh(reason: string, scheduled = false): Promise<boolean> {
    if (!this.canRefresh() || this.closed) return Promise.resolve(false);
    if (!scheduled && this.clock.now() < this.retryAfter) return Promise.resolve(false);
    this.refreshing ??= this.doRefresh(reason).finally(() => { this.refreshing = null; });
    return this.refreshing;
  }

  /** Why there is no usable token (not set, or the refresh token is dead), for the debug answers. */
  missingReason(): string {
    return this.noTokenError().message;
  }

  /** The token-check debug answer: Kakao's /v2/user/me body and the tokens' state, never a token. */
  async tokenCheck(): Promise<Record<string, unknown>> {
    if (!this.usable()) return { ok: false, err: this.missingReason() };
    const me = await this.authorized((token) => this.deps.client.userMe(token));
    if (!me.ok) {
      const response = me.error.body === undefined ? {} : { response: me.error.body };
      return { ok: false, err: describeError(me.error), ...response, token: this.info() };
    }
    await this.learnExpiry();
    return { ok: true, response: me.body, token: this.info() };
  }

  /** The tokens' state for the token check: lifetimes in seconds, never a token. */
  info(): Record<string, unknown> {
    const now = this.clock.now();
    const secondsLeft = (at: number | null) => (at === null ? null : Math.max(0, Math.round((at - now) / 1000)));
    return {
      source: this.source,
      expires_in: secondsLeft(this.accessExpiresAt),
      expires_at: isoOrNull(this.accessExpiresAt),
      refresh_token_state: this.state,
      refresh_token_expires_in: secondsLeft(this.refreshExpiresAt),
      last_refresh_at: isoOrNull(this.lastRefreshAt),
      last_refresh_error: this.lastError,
    };
  }

  close(): void {
    this.closed = true;
    this.cancelTimer?.();
  }

  /** The call's reply, noting whether Kakao took a freshly refreshed token. */
  private async judged(token: string, call: (token: string) => Promise<KakaoReply>): Promise<KakaoReply> {
    const reply = await call(token);
    if (token !== this.unproven) return reply;
    if (reply.ok) {
      this.unproven = null;
      this.rejectedRefreshes = 0;
    } else if (reply.error.kind === 'unauthorized') {
      this.unproven = null;
      this.rejectedRefreshes++;
      const wait = Math.min(REJECTED_REFRESH_BACKOFF_CAP_MS, REJECTED_REFRESH_BACKOFF_MS * 2 ** (this.rejectedRefreshes - 1));
      this.retryAfter = Math.max(this.retryAfter, this.clock.now() + wait);
      this.deps.logger.warn({ rejected_in_a_row: this.rejectedRefreshes, next_refresh_in_ms: wait }, 'Kakao rejects the access token it just issued (-401); refreshing again later');
    }
    return reply;
  }

  private canRefresh(): boolean {
    return Boolean(this.deps.config.restApiKey && this.refreshToken) && this.state !== 'invalid';
  }

  private expired(): boolean {
    return this.accessExpiresAt !== null && this.clock.now() >= this.accessExpiresAt - 5_000;
  }

  private noTokenError(): KakaoError {
    const message = this.state === 'invalid'
      ? 'Kakao refresh token is expired or invalid (KOE322): log in again and set KAKAO_REFRESH_TOKEN'
      : 'KAKAO_ACCESS_TOKEN not set';
    return { kind: 'no_token', code: 'no_token', message, status: null };
  }

  private async doRefresh(reason: string): Promise<boolean> {
    const { config, client, logger, report } = this.deps;
    const reply = await client.refresh(config.restApiKey!, this.refreshToken!, config.clientSecret);
    const now = this.clock.now();
    if (reply.ok && typeof reply.body.access_token === 'string') {
      const body = reply.body;
      this.access = body.access_token as string;
      this.unproven = this.access;
      this.accessExpiresAt = typeof body.expires_in === 'number' ? now + body.expires_in * 1000 : null;
      const rotated = typeof body.refresh_token === 'string';
      if (rotated) {
        this.refreshToken = body.refresh_token as string;
        this.refreshExpiresAt = typeof body.refresh_token_expires_in === 'number' ? now + body.refresh_token_expires_in * 1000 : null;
      }
      this.state = 'valid';
      this.lastRefreshAt = now;
      this.lastError = null;
      this.retryAfter = 0;
      this.save();
      report('refreshes', 'ok');
      logger.info({ reason, expires_in: body.expires_in, refresh_token_rotated: rotated }, 'Kakao access token refreshed');
      this.schedule();
      return true;
    }
    const error: KakaoError = reply.ok
      ? { kind: 'rejected', code: 'no_access_token', message: 'the refresh answer holds no access_token', status: reply.status }
      : reply.error;
    this.lastError = describeError(error);
    if (error.kind === 'invalid_grant') {
      this.state = 'invalid';
      this.cancelTimer?.();
      this.cancelTimer = null;
      report('refreshes', 'invalid_grant');
      logger.error({ reason, code: error.code }, 'Kakao refresh token is expired or invalid: log in again and set KAKAO_REFRESH_TOKEN; memos stop until then');
      return false;
    }
    report('refreshes', 'failed');
    logger.warn({ reason, error: this.lastError }, 'Kakao token refresh failed; trying again later');
    this.retryAfter = now + REFRESH_RETRY_MS;
    this.schedule(REFRESH_RETRY_MS);
    return false;
  }

  private async learnExpiry(): Promise<void> {
    const token = this.access;
    if (token === null) return;
    const reply = await this.deps.client.accessTokenInfo(token);
    if (reply.ok && typeof reply.body.expires_in === 'number' && this.access === token) {
      this.accessExpiresAt = this.clock.now() + reply.body.expires_in * 1000;
      this.schedule();
    } else if (!reply.ok && reply.error.kind === 'unauthorized') {
      await this.refresh('access token rejected (-401)');
    }
  }

  private schedule(delayMs?: number): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    if (this.closed || !this.canRefresh()) return;
    let wait = delayMs;
    if (wait === undefined) {
      if (this.accessExpiresAt === null) return;
      const left = this.accessExpiresAt - this.clock.now();
      wait = Math.max(0, left - Math.min(REFRESH_LEAD_MS, left / 10));
    }
    this.cancelTimer = this.clock.setTimer(() => void this.refresh('access token expires soon', true), wait);
  }

  private save(): void {
    const { config, logger } = this.deps;
    saveTokenFile(config.tokenFile, {
      version: 1,
      access_token: this.access,
      access_token_expires_at: isoOrNull(this.accessExpiresAt),
      refresh_token: this.refreshToken!,
      refresh_token_expires_at: isoOrNull(this.refreshExpiresAt),
      env_refresh_token_sha256: config.refreshToken ? sha256(config.refreshToken) : null,
      env_access_token_sha256: config.accessToken ? sha256(config.accessToken) : null,
      saved_at: isoOrNull(this.clock.now())!,
    }, logger);
  }
}

function parseTime(iso: string | null | undefined): number | null {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(ms) ? ms : null;
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString().replace('Z', '+00:00');
}
