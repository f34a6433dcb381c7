/**
 * Kakao's HTTP API (KAKAO.md), the only importer of undici: one keep-alive Agent with connect,
 * header and body timeouts; every answer read up to a size cap and mapped to a reply whose error
 * kind says what to do.
 */
import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { parseJsonObject } from '../../src/common/parse-json-object.js';

/** What the caller should do about a failed call (KAKAO.md, Errors). */
export type KakaoErrorKind =
  | 'unauthorized' // -401: refresh once, retry once
  | 'forbidden' // -402, -3, -5: permanent (consent or permission missing)
  | 'bad_request' // -2: a bug on our side; log it, don't retry
  | 'quota' // -10, -532, -536: stop sending for a while
  | 'transient' // -1, -603, -7, -9798, 5xx, network, timeout: back off and retry
  | 'invalid_grant' // KOE322: the refresh token is dead; only a new login helps
  | 'rejected' // any other refusal: permanent
  | 'no_token'; // no access token and no way to get one (never sent)

export interface KakaoError {
  kind: KakaoErrorKind;
  /** Kakao's code (-401, KOE322…), the HTTP status, or the network error code. */
  code: string;
  message: string;
  status: number | null;
  /** Kakao's error body, when it sent one (never holds a token). */
  body?: unknown;
}

export type KakaoReply = { ok: true; status: number; body: Record<string, unknown> } | { ok: false; error: KakaoError };

export interface KakaoClientOptions {
  apiBaseUrl: string;
  authBaseUrl: string;
  timeoutMs: number;
}

/** Kakao's answers are a few hundred bytes; anything past this is not Kakao speaking and is not read. */
export const MAX_REPLY_BYTES = 64 * 1024;

/** Connections kept to each Kakao host: as many memos as this can be in flight at once. */
export const KAKAO_CONNECTIONS = 4;

/** What the token and alert classes call; tests give them a fake. */
export type KakaoApi = Pick<KakaoClient, 'sendMemo' | 'userMe' | 'accessTokenInfo' | 'refresh'>;

const QUOTA_CODES = new Set([-10, -532, -536]);
const TRANSIENT_CODES = new Set([-1, -603, -7, -9798]);
const FORBIDDEN_CODES = new Set([-402, -3, -5]);

export class KakaoClient {
  private readonly options: KakaoClientOptions;
  private readonly agent: Agent;
  private readonly closing = new AbortController();

  constructor(options: KakaoClientOptions) {
    this.options = options;
    this.agent = new Agent({
      connections: KAKAO_CONNECTIONS,
      keepAliveTimeout: 30_000,
      connect: { timeout: options.timeoutMs },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /** "Send to me" with a text template; ok only for HTTP 200 with result_code 0. */
  async sendMemo(accessToken: string, templateObject: string): Promise<KakaoReply> {
    const reply = await this.call(`${this.options.apiBaseUrl}/v2/api/talk/memo/default/send`, 'POST', bearer(accessToken), form({ template_object: templateObject }));
    if (reply.ok && reply.body.result_code !== 0) {
      return { ok: false, error: { kind: 'rejected', code: String(reply.body.result_code), message: 'result_code is not 0', status: reply.status, body: reply.body } };
    }
    return reply;
  }

  userMe(accessToken: string): Promise<KakaoReply> {
    return this.call(`${this.options.apiBaseUrl}/v2/user/me`, 'GET', bearer(accessToken));
  }

  accessTokenInfo(accessToken: string): Promise<KakaoReply> {
    return this.call(`${this.options.apiBaseUrl}/v1/user/access_token_info`, 'GET', bearer(accessToken));
  }

  /** OAuth refresh; client_secret only when the app has one switched on. */
  refresh(clientId: string, refreshToken: string, clientSecret: string | null): Promise<KakaoReply> {
    const fields: Record<string, string> = { grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken };
    if (clientSecret) fields.client_secret = clientSecret;
    return this.call(`${this.options.authBaseUrl}/oauth/token`, 'POST', {}, form(fields));
  }

  /** Aborts calls in flight and closes the connections. */
  async close(): Promise<void> {
    this.closing.abort();
    await this.agent.destroy();
  }

  private async call(url: string, method: 'GET' | 'POST', headers: Record<string, string>, body?: { type: string; text: string }): Promise<KakaoReply> {
    try {
      const res = await request(url, {
        method,
        dispatcher: this.agent,
        headers: body ? { ...headers, 'content-type': body.type } : headers,
        body: body?.text,
        signal: AbortSignal.any([AbortSignal.timeout(this.options.timeoutMs), this.closing.signal]),
      });
      const text = await readCapped(res.body, MAX_REPLY_BYTES);
      if (text === null) {
        const message = `the reply passed ${MAX_REPLY_BYTES} bytes; the rest was not read`;
        return { ok: false, error: { kind: 'transient', code: 'reply_too_large', message, status: res.statusCode } };
      }
      const parsed = parseJsonObject(text);
      if (res.statusCode >= 200 && res.statusCode < 300 && parsed) return { ok: true, status: res.statusCode, body: parsed };
      return { ok: false, error: classify(res.statusCode, parsed, text) };
    } catch (err) {
      const e = err as Error & { code?: unknown };
      // A timeout's DOMException has a numeric code; its name says more.
      const code = typeof e.code === 'string' ? e.code : e.name || 'network';
      return { ok: false, error: { kind: 'transient', code, message: e.message || code, status: null } };
    }
  }
}

/** The body as text, or null once it passes `max` bytes (then the connection is dropped, not drained). */
async function readCapped(body: Readable, max: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    // Leaving the loop destroys the stream, which aborts the request.
    if (size > max) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Maps a Kakao error answer by its code (kapi `code`, kauth `error_code`), falling back to the HTTP status. */
function classify(status: number, body: Record<string, unknown> | null, raw: string): KakaoError {
  if (body && typeof body.code === 'number') {
    const code = body.code;
    const message = typeof body.msg === 'string' ? body.msg : '';
    const kind: KakaoErrorKind = code === -401 ? 'unauthorized'
      : QUOTA_CODES.has(code) ? 'quota'
      : TRANSIENT_CODES.has(code) ? 'transient'
      : FORBIDDEN_CODES.has(code) ? 'forbidden'
      : code === -2 ? 'bad_request'
      : status >= 500 ? 'transient' : 'rejected';
    return { kind, code: String(code), message, status, body };
  }
  if (body && (typeof body.error_code === 'string' || typeof body.error === 'string')) {
    const code = String(body.error_code ?? body.error);
    const message = typeof body.error_description === 'string' ? body.error_description : String(body.error ?? '');
    const kind: KakaoErrorKind = code === 'KOE322' || body.error === 'invalid_grant' ? 'invalid_grant' : status >= 500 ? 'transient' : 'rejected';
    return { kind, code, message, status, body };
  }
  const kind: KakaoErrorKind = status >= 500 || status === 429 ? 'transient' : status === 401 ? 'unauthorized' : 'rejected';
  return { kind, code: String(status), message: raw.slice(0, 200) || `HTTP ${status}`, status };
}

/** One line for logs and debug answers, e.g. "kakao -401: this access token does not exist". */
export function describeError(error: KakaoError): string {
  return error.kind === 'no_token' ? error.message : `kakao ${error.code}: ${error.message}`;
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

function form(fields: Record<string, string>): { type: string; text: string } {
  return { type: 'application/x-www-form-urlencoded;charset=utf-8', text: new URLSearchParams(fields).toString() };
}
