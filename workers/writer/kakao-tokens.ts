/**
 * Kakao token state: the access token and its expiry, the refresh token and what Kakao last said
 * of it. Refreshes ahead of expiry and on -401, one at a time, backing off when Kakao rejects the
 * tokens it has just handed out. Every refresh is saved in the token store (the token file, read
 * back at start; or a bucket shared by the replicas, whose refreshes are taken in turns and whose
 * tokens every replica follows), so a restart or a rotated refresh token never breaks alerts.
 */
import { inspect } from 'node:util';
import type { Logger } from 'pino';
import type { KakaoConfig, KakaoCounter } from '../../src/contracts/writer.js';
import { errorMessage } from '../../src/common/errors.js';
import { systemClock, type Clock } from './kakao-clock.js';
import { describeError, type KakaoApi, type KakaoError, type KakaoReply } from './kakao-client.js';
import { sha256, TokenFileStore } from './kakao-token-file.js';
import type { RefreshTurn, SavedTokens, TokenStore } from './kakao-token-store.js';

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
  /** Where the tokens are saved and who refreshes them: the token file unless load() is given another. */
  private store: TokenStore;
  private access: string | null = null;
  private accessExpiresAt: number | null = null;
  private refreshToken: string | null = null;
  private refreshExpiresAt: number | null = null;
  private state: RefreshTokenState = 'not_configured';
  private source: 'env' | 'file' | 'bucket' | 'none' = 'none';
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
  /** The store the tokens will be loaded from, named, while it has not answered yet (see awaitStore). */
  private awaitedStore: string | null = null;
  private closed = false;

  constructor(deps: KakaoTokensDeps) {
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.store = new TokenFileStore(deps.config.tokenFile, deps.logger);
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

  /**
   * Picks the tokens: the ones saved in `store` (the token file by default) when they descend from
   * the environment's refresh token, else the environment's, which a shared store then takes on
   * for every replica. The choice is made on return; the promise settles once the store has the
   * tokens (at once for the file).
   */
  load(store: TokenStore = this.store): Promise<void> {
    const { config, logger } = this.deps;
    this.store = store;
    this.awaitedStore = null;
    store.follow((tokens) => this.adopt(tokens));
    const saved = store.saved();
    const applies = saved !== null && (config.refreshToken === null || saved.env_refresh_token_sha256 === sha256(config.refreshToken));
    let seed: boolean;
    if (saved && applies) {
      this.source = this.store.source;
      this.refreshToken = saved.refresh_token;
      this.refreshExpiresAt = parseTime(saved.refresh_token_expires_at);
      const envAccessIsNew = config.accessToken !== null && sha256(config.accessToken) !== saved.env_access_token_sha256;
      this.access = envAccessIsNew ? config.accessToken : saved.access_token;
      this.accessExpiresAt = envAccessIsNew ? null : parseTime(saved.access_token_expires_at);
      seed = envAccessIsNew;
    } else {
      if (saved) logger.info({ store: this.store.source }, 'KAKAO_REFRESH_TOKEN changed since the tokens were saved; using the environment');
      this.source = config.accessToken || config.refreshToken ? 'env' : 'none';
      this.access = config.accessToken;
      this.refreshToken = config.refreshToken;
      seed = this.refreshToken !== null;
    }
    this.state = config.restApiKey && this.refreshToken ? 'unverified' : 'not_configured';
    if (!seed) return Promise.resolve();
    return this.store.seed(this.snapshot()).then(
      (newer) => { if (newer) this.adopt(newer); },
      (err: unknown) => logger.warn({ err: errorMessage(err), store: this.store.source }, 'cannot save the environment\'s Kakao tokens; the other replicas keep theirs'),
    );
  }

  /** Learns the access token's expiry (or gets one) and schedules the refresh ahead of it. */
  start(): void {
    if (!this.usable()) this.deps.logger.info('KAKAO_ACCESS_TOKEN is not set: END events send no Kakao memo');
    if (!this.canRefresh()) return;
    if (this.access === null) void this.refresh('no access token');
    else if (this.accessExpiresAt === null) void this.learnExpiry();
    else this.schedule();
  }

  /**
   * The tokens are kept in a shared store (`store` names it) that has not answered yet: until
   * load(), the token check and the memos say so rather than that no token is set.
   */
  awaitStore(store: string): void {
    this.awaitedStore = store;
  }

  /** Whether a memo can be attempted at all: an access token, or a way to get one. */
  usable(): boolean {
    return this.access !== null || this.canRefresh();
  }

  /** Why no memo can be attempted, as an undelivered reason; null when one can. */
  refusal(): 'no_token' | 'token_store_unreachable' | null {
    if (this.usable()) return null;
    return this.awaitedStore === null ? 'no_token' : 'token_store_unreachable';
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

  /** Stops refreshing; the store is the caller's to close. */
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
    let message = 'KAKAO_ACCESS_TOKEN not set';
    if (this.awaitedStore !== null) message = `the Kakao tokens are in ${this.awaitedStore}, which is not reachable yet`;
    else if (this.state === 'invalid') message = 'Kakao refresh token is expired or invalid (KOE322): log in again and set KAKAO_REFRESH_TOKEN';
    return { kind: 'no_token', code: 'no_token', message, status: null };
  }

  /**
   * One refresh, in the store's turn. When the saved access token is no longer the one this
   * process found stale, another replica has refreshed meanwhile: its tokens are taken instead.
   */
  private async doRefresh(reason: string): Promise<boolean> {
    const stale = this.access;
    let turn: RefreshTurn;
    try {
      turn = await this.store.takeTurn();
    } catch (err) {
      return this.failed(reason, { kind: 'transient', code: 'token_store', message: `the token store: ${errorMessage(err)}`, status: null });
    }
    try {
      const saved = turn.saved;
      if (saved && saved.access_token !== null && saved.access_token !== stale) {
        this.adopt(saved);
        this.deps.logger.info({ reason }, 'Kakao access token taken from another replica\'s refresh');
        return true;
      }
      if (saved) {
        this.refreshToken = saved.refresh_token;
        this.refreshExpiresAt = parseTime(saved.refresh_token_expires_at);
      }
      return await this.refreshNow(reason, turn);
    } finally {
      await turn.release();
    }
  }

  private async refreshNow(reason: string, turn: RefreshTurn): Promise<boolean> {
    const { config, client, logger, report } = this.deps;
    const from = this.refreshToken!;
    const reply = await client.refresh(config.restApiKey!, from, config.clientSecret);
    const now = this.clock.now();
    if (!reply.ok || typeof reply.body.access_token !== 'string') {
      return this.failed(reason, reply.ok
        ? { kind: 'rejected', code: 'no_access_token', message: 'the refresh answer holds no access_token', status: reply.status }
        : reply.error);
    }
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
    report('refreshes', 'ok');
    logger.info({ reason, expires_in: body.expires_in, refresh_token_rotated: rotated }, 'Kakao access token refreshed');
    try {
      const newer = await turn.save(this.snapshot(), from);
      if (newer) this.adopt(newer);
    } catch (err) {
      logger.error({ err: errorMessage(err), store: this.store.source }, 'cannot save the refreshed Kakao tokens; the other replicas keep the old ones');
    }
    this.schedule();
    return true;
  }

  private failed(reason: string, error: KakaoError): false {
    const { logger, report } = this.deps;
    if (this.closed) return false;
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
    this.retryAfter = this.clock.now() + REFRESH_RETRY_MS;
    this.schedule(REFRESH_RETRY_MS);
    return false;
  }

  /**
   * Takes on tokens another replica saved (or that superseded this one's refresh), so every
   * replica uses the newest access token and refresh token.
   */
  private adopt(tokens: SavedTokens): void {
    if (this.closed || (tokens.access_token === this.access && tokens.refresh_token === this.refreshToken)) return;
    if (tokens.refresh_token !== this.refreshToken && this.state !== 'valid') {
      // A new login saved by a replica started with it: memos resume here too.
      this.state = this.deps.config.restApiKey ? 'unverified' : 'not_configured';
    }
    this.source = this.store.source;
    this.access = tokens.access_token;
    this.accessExpiresAt = parseTime(tokens.access_token_expires_at);
    this.refreshToken = tokens.refresh_token;
    this.refreshExpiresAt = parseTime(tokens.refresh_token_expires_at);
    this.unproven = null;
    this.retryAfter = 0;
    if (this.accessExpiresAt === null) void this.learnExpiry();
    else this.schedule();
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

  /** The tokens as the store keeps them. */
  private snapshot(): SavedTokens {
    const { config } = this.deps;
    return {
      version: 1,
      access_token: this.access,
      access_token_expires_at: isoOrNull(this.accessExpiresAt),
      refresh_token: this.refreshToken!,
      refresh_token_expires_at: isoOrNull(this.refreshExpiresAt),
      env_refresh_token_sha256: config.refreshToken ? sha256(config.refreshToken) : null,
      env_access_token_sha256: config.accessToken ? sha256(config.accessToken) : null,
      saved_at: isoOrNull(this.clock.now())!,
    };
  }
}

function parseTime(iso: string | null | undefined): number | null {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(ms) ? ms : null;
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString().replace('Z', '+00:00');
}
