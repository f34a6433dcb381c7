/**
 * Fakes for the unit tests of the Kakao alert and token classes: a clock whose time and timers
 * move only when the test says, and a Kakao client answering from memory with the same error
 * shapes the real one maps Kakao's answers to. End-to-end tests use the HTTP stand-in instead.
 */
import type { KakaoErrorKind, KakaoApi, KakaoReply } from '../../workers/writer/kakao-client.js';
import type { Clock } from '../../workers/writer/kakao-clock.js';

export class FakeClock implements Clock {
  #now: number;
  #timers: Array<{ at: number; fn: () => void }> = [];

  constructor(start = Date.UTC(2026, 10, 29, 8, 0, 0)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const timer = { at: this.#now + ms, fn };
    this.#timers.push(timer);
    return () => { this.#timers = this.#timers.filter((t) => t !== timer); };
  }

  /** Milliseconds until each pending timer fires, soonest first. */
  timers(): number[] {
    return this.#timers.map((t) => t.at - this.#now).sort((a, b) => a - b);
  }

  /** Moves time forward, firing the timers that fall due, in time order, then lets the promises they start settle. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = due.at;
      due.fn();
      await settle();
    }
    this.#now = end;
  }
}

/** Lets every promise chain started so far run to its end (the fakes do no I/O). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

type Endpoint = 'memo' | 'me' | 'token_info' | 'refresh';

export interface FakeCall {
  endpoint: Endpoint;
  /** The Bearer token, or the refresh token for a refresh. */
  token: string;
  /** A memo's text. */
  text?: string;
}

export const ok = (body: Record<string, unknown>): KakaoReply => ({ ok: true, status: 200, body });

export const fail = (kind: KakaoErrorKind, code: string, message: string, body?: unknown): KakaoReply =>
  ({ ok: false, error: { kind, code, message, status: kind === 'transient' ? 503 : 400, ...(body === undefined ? {} : { body }) } });

/** The replies the real client makes of Kakao's errors (KAKAO.md). */
export const REPLIES = {
  expired: fail('unauthorized', '-401', 'this access token is already expired'),
  transient: fail('transient', '503', 'Service Unavailable'),
  quota: fail('quota', '-10', 'API limit has been exceeded.'),
  consent: fail('forbidden', '-402', 'insufficient scopes.', { code: -402, msg: 'insufficient scopes.', required_scopes: ['talk_message'] }),
  down: fail('transient', 'ECONNREFUSED', 'connect ECONNREFUSED'),
} satisfies Record<string, KakaoReply>;

/**
 * A Kakao in memory: accepts the tokens in `accepted` (and those its refresh hands out while
 * `acceptIssued`), answers -401 to others; scripted replies go first; `hold` keeps unscripted
 * calls waiting, like the stand-in's.
 */
export class FakeKakaoClient implements KakaoApi {
  readonly calls: FakeCall[] = [];
  readonly accepted = new Set<string>();
  acceptIssued = true;
  /** Refreshes hand out a new refresh token too. */
  rotate = false;
  #issued = 0;
  readonly #scripts = new Map<Endpoint, KakaoReply[]>();
  readonly #holds = new Map<Endpoint, Promise<void>>();

  script(endpoint: Endpoint, ...replies: KakaoReply[]): void {
    this.#scripts.set(endpoint, [...(this.#scripts.get(endpoint) ?? []), ...replies]);
  }

  hold(endpoint: Endpoint): () => void {
    let release!: () => void;
    this.#holds.set(endpoint, new Promise<void>((resolve) => { release = resolve; }));
    return () => {
      this.#holds.delete(endpoint);
      release();
    };
  }

  callsTo(endpoint: Endpoint): FakeCall[] {
    return this.calls.filter((c) => c.endpoint === endpoint);
  }

  sendMemo(token: string, templateObject: string): Promise<KakaoReply> {
    const text = String((JSON.parse(templateObject) as { text: unknown }).text);
    return this.#answer({ endpoint: 'memo', token, text }, () => this.#bearer(token, { result_code: 0 }));
  }

  userMe(token: string): Promise<KakaoReply> {
    return this.#answer({ endpoint: 'me', token }, () => this.#bearer(token, { id: 4242 }));
  }

  accessTokenInfo(token: string): Promise<KakaoReply> {
    return this.#answer({ endpoint: 'token_info', token }, () => this.#bearer(token, { id: 4242, expires_in: 21_599 }));
  }

  refresh(_clientId: string, refreshToken: string): Promise<KakaoReply> {
    return this.#answer({ endpoint: 'refresh', token: refreshToken }, () => {
      const access = `access-issued-${++this.#issued}`;
      if (this.acceptIssued) this.accepted.add(access);
      const rotated = this.rotate ? { refresh_token: `refresh-issued-${this.#issued}`, refresh_token_expires_in: 5_184_000 } : {};
      return ok({ token_type: 'bearer', access_token: access, expires_in: 21_599, ...rotated });
    });
  }

  async #answer(call: FakeCall, normally: () => KakaoReply): Promise<KakaoReply> {
    this.calls.push(call);
    const scripted = this.#scripts.get(call.endpoint)?.shift();
    if (scripted) return scripted;
    await this.#holds.get(call.endpoint);
    return normally();
  }

  #bearer(token: string, body: Record<string, unknown>): KakaoReply {
    return this.accepted.has(token) ? ok(body) : REPLIES.expired;
  }
}

/** Counts what the classes report, as the writer thread's metrics would. */
export class Reports {
  readonly #counts = new Map<string, number>();
  readonly report = (counter: string, label: string): void => {
    const key = `${counter} ${label}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  };

  count(counter: string, label: string): number {
    return this.#counts.get(`${counter} ${label}`) ?? 0;
  }
}
