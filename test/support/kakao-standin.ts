/**
 * A local HTTP server that speaks Kakao's API as KAKAO.md describes it, errors included: memo
 * send (form body, 200-character text), user/me, access_token_info and the OAuth refresh with
 * refresh-token rotation. Tests script failures (a huge reply too), delay or hold answers and read
 * every request received.
 *
 * Standalone: `npx tsx test/support/kakao-standin.ts --port 9911` prints its URL and tokens.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

export type StandinEndpoint = 'memo' | 'me' | 'token_info' | 'oauth';

/**
 * A canned answer: a status with a JSON body (or raw text); a success body padded to `bodyBytes`
 * and streamed (what a broken proxy might send); or a dropped connection.
 */
export type ScriptedReply = { status: number; body: unknown } | { status: number; bodyBytes: number } | 'drop';

export interface ReceivedRequest {
  endpoint: StandinEndpoint | 'unknown';
  method: string;
  path: string;
  /** The Bearer token sent, if any. */
  token: string | null;
  contentType: string;
  body: string;
  form: Record<string, string> | null;
  /** A memo's decoded template_object. */
  template: Record<string, unknown> | null;
  /** The status answered; null until answered (or when the connection was dropped). */
  status: number | null;
  /** Body bytes written once the answer is over (sent whole, or the client went away); null until then. */
  sentBytes: number | null;
}

export interface StandinOptions {
  port?: number;
  clientId?: string;
  clientSecret?: string | null;
  accessTokenLifeSec?: number;
  refreshTokenLifeSec?: number;
}

const DAY = 86_400;

/** Error answers as Kakao sends them (KAKAO.md, Errors). */
export const KAKAO_ERRORS = {
  quota: { status: 400, body: { code: -10, msg: 'API limit has been exceeded.' } },
  internal: { status: 400, body: { code: -1, msg: 'internal error' } },
  unavailable: { status: 503, body: 'Service Unavailable' },
  consent: { status: 403, body: { code: -402, msg: 'insufficient scopes.', api_type: 'TALK_MEMO_DEFAULT_SEND', required_scopes: ['talk_message'] } },
} satisfies Record<string, ScriptedReply>;

const ENDPOINTS: Partial<Record<string, StandinEndpoint>> = {
  'POST /v2/api/talk/memo/default/send': 'memo',
  'GET /v2/user/me': 'me',
  'GET /v1/user/access_token_info': 'token_info',
  'POST /oauth/token': 'oauth',
};

export class KakaoStandin {
  readonly url: string;
  readonly clientId: string;
  readonly requests: ReceivedRequest[] = [];
  /** Milliseconds to wait before answering, per endpoint. */
  readonly delays: Partial<Record<StandinEndpoint, number>> = {};
  readonly #server: Server;
  readonly #options: Required<Omit<StandinOptions, 'port'>>;
  readonly #scripts = new Map<StandinEndpoint, ScriptedReply[]>();
  readonly #holds = new Map<StandinEndpoint, Promise<void>>();
  readonly #accessTokens = new Map<string, number>();
  readonly #refreshTokens = new Map<string, { expiresAt: number; valid: boolean }>();
  #clockOffsetMs = 0;

  private constructor(server: Server, options: Required<Omit<StandinOptions, 'port'>>) {
    this.#server = server;
    this.#options = options;
    this.clientId = options.clientId;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  static async start(options: StandinOptions = {}): Promise<KakaoStandin> {
    const settings = {
      clientId: options.clientId ?? 'rest-api-key',
      clientSecret: options.clientSecret ?? null,
      accessTokenLifeSec: options.accessTokenLifeSec ?? 21_599,
      refreshTokenLifeSec: options.refreshTokenLifeSec ?? 60 * DAY,
    };
    let standin: KakaoStandin | undefined;
    const server = createServer((req, res) => void standin!.#handle(req, res));
    await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
    standin = new KakaoStandin(server, settings);
    return standin;
  }

  /** A new valid access token (default life: Kakao's 21599 s). */
  issueAccessToken(lifeSec = this.#options.accessTokenLifeSec): string {
    const token = `access-${randomBytes(12).toString('hex')}`;
    this.#accessTokens.set(token, this.#now() + lifeSec * 1000);
    return token;
  }

  /** A new valid refresh token; one with under 30 days left is rotated on its next use. */
  issueRefreshToken(lifeSec = this.#options.refreshTokenLifeSec): string {
    const token = `refresh-${randomBytes(12).toString('hex')}`;
    this.#refreshTokens.set(token, { expiresAt: this.#now() + lifeSec * 1000, valid: true });
    return token;
  }

  expireAccessToken(token: string): void {
    if (this.#accessTokens.has(token)) this.#accessTokens.set(token, this.#now() - 1);
  }

  refreshTokenValid(token: string): boolean {
    const entry = this.#refreshTokens.get(token);
    return Boolean(entry?.valid && entry.expiresAt > this.#now());
  }

  /** Moves the stand-in's clock forward (token lifetimes). */
  advance(seconds: number): void {
    this.#clockOffsetMs += seconds * 1000;
  }

  /** The next requests to `endpoint` get these answers, in order, before normal handling resumes. */
  script(endpoint: StandinEndpoint, ...replies: ScriptedReply[]): void {
    this.#scripts.set(endpoint, [...(this.#scripts.get(endpoint) ?? []), ...replies]);
  }

  /**
   * Requests to `endpoint` wait unanswered until the returned function is called: a Kakao as slow
   * as a test needs. Scripted answers are not held back.
   */
  hold(endpoint: StandinEndpoint): () => void {
    let release!: () => void;
    this.#holds.set(endpoint, new Promise<void>((resolve) => { release = resolve; }));
    return () => {
      this.#holds.delete(endpoint);
      release();
    };
  }

  /**
   * Forgets the requests received and the scripted answers not yet given: the next scenario on a
   * server shared with earlier ones starts from a quiet Kakao. Tokens stay; holds are their taker's to release.
   */
  reset(): void {
    this.requests.length = 0;
    this.#scripts.clear();
  }

  requestsTo(endpoint: StandinEndpoint): ReceivedRequest[] {
    return this.requests.filter((r) => r.endpoint === endpoint);
  }

  /** The texts of memos Kakao would have delivered (answered 200). */
  deliveredMemos(): string[] {
    return this.requestsTo('memo').filter((r) => r.status === 200).map((r) => String(r.template?.text));
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #now(): number {
    return Date.now() + this.#clockOffsetMs;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = (req.url ?? '/').split('?')[0]!;
    const endpoint = ENDPOINTS[`${req.method} ${path}`] ?? 'unknown';
    const contentType = String(req.headers['content-type'] ?? '');
    const isForm = contentType.startsWith('application/x-www-form-urlencoded');
    const form = isForm ? Object.fromEntries(new URLSearchParams(body)) : null;
    const auth = String(req.headers.authorization ?? '');
    const record: ReceivedRequest = {
      endpoint, method: req.method ?? '', path, token: auth.startsWith('Bearer ') ? auth.slice(7) : null,
      contentType, body, form, template: endpoint === 'memo' ? parseObject(form?.template_object) : null, status: null, sentBytes: null,
    };
    this.requests.push(record);
    if (endpoint === 'unknown') return this.#reply(req, res, record, { status: 404, body: { code: -9, msg: 'not found' } });
    const delay = this.delays[endpoint] ?? 0;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const scripted = this.#scripts.get(endpoint)?.shift();
    if (scripted) return this.#reply(req, res, record, scripted);
    await this.#holds.get(endpoint);
    return this.#reply(req, res, record, this.#answer(endpoint, record, isForm));
  }

  async #reply(req: IncomingMessage, res: ServerResponse, record: ReceivedRequest, reply: ScriptedReply): Promise<void> {
    if (reply === 'drop') {
      req.socket.destroy();
      return;
    }
    record.status = reply.status;
    if ('bodyBytes' in reply) {
      record.sentBytes = await streamPadded(res, reply.status, reply.bodyBytes);
      return;
    }
    const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'content-type': typeof reply.body === 'string' ? 'text/plain' : 'application/json;charset=UTF-8' });
    res.end(text);
    record.sentBytes = Buffer.byteLength(text);
  }

  #answer(endpoint: StandinEndpoint, req: ReceivedRequest, isForm: boolean): { status: number; body: unknown } {
    if (endpoint === 'oauth') return this.#refresh(req.form);
    // The classic trap: a JSON body is read as no token at all.
    if (endpoint === 'memo' && !isForm) return unauthorized('this access token does not exist');
    const expiresAt = req.token === null ? undefined : this.#accessTokens.get(req.token);
    if (expiresAt === undefined) return unauthorized('this access token does not exist');
    const left = expiresAt - this.#now();
    if (left <= 0) return unauthorized('this access token is already expired');
    if (endpoint === 'me') return { status: 200, body: { id: 4242, connected_at: '2026-01-05T09:00:00Z', properties: { nickname: 'tester' } } };
    if (endpoint === 'token_info') return { status: 200, body: { id: 4242, expires_in: Math.floor(left / 1000), app_id: 777 } };
    return checkTemplate(req.template);
  }

  #refresh(form: Record<string, string> | null): { status: number; body: unknown } {
    if (form?.grant_type !== 'refresh_token') return authError(400, 'unsupported_grant_type', 'grant_type must be refresh_token', 'KOE006');
    if (form.client_id !== this.#options.clientId) return authError(401, 'invalid_client', 'Bad client credentials', 'KOE101');
    if (this.#options.clientSecret !== null && form.client_secret !== this.#options.clientSecret) {
      return authError(401, 'invalid_client', 'Bad client credentials', 'KOE010');
    }
    const old = form.refresh_token ?? '';
    if (!this.refreshTokenValid(old)) return authError(400, 'invalid_grant', 'expired_or_invalid_refresh_token', 'KOE322');
    const body: Record<string, unknown> = { token_type: 'bearer', access_token: this.issueAccessToken(), expires_in: this.#options.accessTokenLifeSec };
    if (this.#refreshTokens.get(old)!.expiresAt - this.#now() < 30 * DAY * 1000) {
      this.#refreshTokens.set(old, { ...this.#refreshTokens.get(old)!, valid: false });
      body.refresh_token = this.issueRefreshToken();
      body.refresh_token_expires_in = this.#options.refreshTokenLifeSec;
    }
    return { status: 200, body };
  }
}

function checkTemplate(template: Record<string, unknown> | null): { status: number; body: unknown } {
  if (!template) return { status: 400, body: { code: -2, msg: 'template_object is required and must be a JSON object' } };
  if (template.object_type !== 'text' || typeof template.text !== 'string') return { status: 400, body: { code: -2, msg: 'a text template needs object_type "text" and a text' } };
  if (template.text.length > 200) return { status: 400, body: { code: -2, msg: 'text must be at most 200 characters' } };
  if (template.link === null || typeof template.link !== 'object') return { status: 400, body: { code: -2, msg: 'link is required' } };
  return { status: 200, body: { result_code: 0 } };
}

/** Writes `{"result_code":0,"pad":"xx…"}` of `bytes` bytes as the client reads it; the bytes written when it ends or the client leaves. */
async function streamPadded(res: ServerResponse, status: number, bytes: number): Promise<number> {
  const head = '{"result_code":0,"pad":"';
  const tail = '"}';
  res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', 'content-length': bytes });
  const closed = new Promise<void>((resolve) => res.once('close', resolve));
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let sent = 0;
  const write = async (data: Buffer | string) => {
    sent += Buffer.byteLength(data);
    if (!res.write(data)) await Promise.race([new Promise<void>((resolve) => res.once('drain', resolve)), closed]);
  };
  await write(head);
  for (let left = bytes - head.length - tail.length; left > 0 && !res.destroyed; left -= chunk.length) {
    await write(left >= chunk.length ? chunk : chunk.subarray(0, left));
  }
  if (!res.destroyed) {
    sent += tail.length;
    res.end(tail);
  }
  return sent;
}

function unauthorized(msg: string) {
  return { status: 401, body: { code: -401, msg } };
}

function authError(status: number, error: string, description: string, code: string) {
  return { status, body: { error, error_description: description, error_code: code } };
}

function parseObject(text: string | undefined): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text ?? '');
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const at = process.argv.indexOf('--port');
  const standin = await KakaoStandin.start({ port: at > 0 ? Number(process.argv[at + 1]) : 0 });
  // Nearly expired, so the first refresh returns a rotated refresh token too.
  const refresh = standin.issueRefreshToken(20 * DAY);
  console.log(`Kakao stand-in listening on ${standin.url}`);
  console.log(`KAKAO_API_BASE_URL=${standin.url} KAKAO_AUTH_BASE_URL=${standin.url}`);
  console.log(`KAKAO_ACCESS_TOKEN=${standin.issueAccessToken()} KAKAO_REST_API_KEY=${standin.clientId} KAKAO_REFRESH_TOKEN=${refresh}`);
  process.on('SIGINT', () => void standin.close().then(() => process.exit(0)));
}
